/*
 * _cyaml: compose the documents of a YAML text straight into Python data and a line table.
 *
 * PyYAML's libyaml loader (CSafeLoader) turns every event into a Node with two Mark objects
 * before anything is constructed: on a large estate that object traffic, not libyaml's own
 * parsing, is most of the YAML time. This module walks libyaml's events itself and builds,
 * for each document, the data (as PyYAML's safe constructor would) and the line table that
 * ``inventory/scanners/_yaml.py`` documents (``Doc.node``), and nothing else.
 *
 * It only handles the common case and *declines* everything else (returns None), so that the
 * caller parses that whole text with PyYAML, the reference semantics: any libyaml error
 * anywhere in the text, anchors and aliases, explicit tags, complex keys, plain scalars the
 * Python side will not build (merge and value keys, bad timestamps...) and collections
 * nested deeper than the caller's limit.
 *
 * Plain scalars are resolved and built by the caller: its memo (plain text -> value) is read
 * here, and its callable is asked about texts the memo lacks (it may add them to the memo).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>

/* Kinds of the line table's collection entries; the same numbers as in _yaml.py. */
#define KIND_MAPPING 1
#define KIND_SEQUENCE 2

/* Whatever the caller's limit, never nest C calls deeper than this (libyaml stops at 1000). */
#define HARD_MAX_DEPTH 900

/* What a composing step did: built its result, declined the text, or met a Python error. */
typedef enum { STEP_OK = 0, STEP_DECLINE = 1, STEP_ERROR = -1 } step_t;

typedef struct {
    yaml_parser_t parser;
    yaml_event_t event;    /* the current event, valid while has_event */
    int has_event;
    Py_ssize_t max_depth;  /* the deepest collection allowed (root collection: 1) */
    PyObject *memo;        /* dict: plain scalar text -> its value */
    PyObject *plain;       /* callable: plain scalar text -> its value, or `decline` */
    PyObject *decline;     /* the sentinel `plain` returns for a scalar it will not build */
} composer_t;

static step_t compose_node(composer_t *c, Py_ssize_t depth, PyObject **data, PyObject **node);

/* Moves to the next event; a libyaml error (bad syntax, bad characters...) is a decline. */
static step_t
next_event(composer_t *c)
{
    if (c->has_event) {
        yaml_event_delete(&c->event);
        c->has_event = 0;
    }
    if (!yaml_parser_parse(&c->parser, &c->event)) {
        return STEP_DECLINE;
    }
    c->has_event = 1;
    return STEP_OK;
}

/* The 1-based line of a mark, as a new int. */
static PyObject *
line_of(const yaml_mark_t *mark)
{
    return PyLong_FromSize_t(mark->line + 1);
}

/*
 * The current scalar event's text (*text) and value (*value), both new references. Quoted
 * and block scalars are str; a plain one's value is the caller's (memo, then `plain`).
 */
static step_t
compose_scalar(composer_t *c, PyObject **text, PyObject **value)
{
    const yaml_event_t *ev = &c->event;
    PyObject *s, *v;

    if (ev->data.scalar.anchor != NULL || ev->data.scalar.tag != NULL) {
        return STEP_DECLINE;
    }
    s = PyUnicode_DecodeUTF8((const char *)ev->data.scalar.value, (Py_ssize_t)ev->data.scalar.length, "strict");
    if (s == NULL) {
        /* libyaml checks its input is UTF-8: this cannot happen; if it did, PyYAML decides. */
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            return STEP_DECLINE;
        }
        return STEP_ERROR;
    }
    if (!ev->data.scalar.plain_implicit) {
        /* Without a tag, only plain scalars are resolved: the others are str (as in PyYAML). */
        Py_INCREF(s);
        *text = s;
        *value = s;
        return STEP_OK;
    }
    v = PyDict_GetItemWithError(c->memo, s);
    if (v != NULL) {
        Py_INCREF(v);
    }
    else if (PyErr_Occurred()) {
        Py_DECREF(s);
        return STEP_ERROR;
    }
    else {
        v = PyObject_CallOneArg(c->plain, s);
        if (v == NULL) {
            Py_DECREF(s);
            return STEP_ERROR;
        }
        if (v == c->decline) {
            Py_DECREF(v);
            Py_DECREF(s);
            return STEP_DECLINE;
        }
    }
    *text = s;
    *value = v;
    return STEP_OK;
}

/* A (kind, line, children) entry of the line table; steals `children`. */
static PyObject *
collection_node(int kind, const yaml_mark_t *start, PyObject *children)
{
    PyObject *k, *line, *node;

    line = line_of(start);
    if (line == NULL) {
        Py_DECREF(children);
        return NULL;
    }
    k = PyLong_FromLong(kind);
    if (k == NULL) {
        Py_DECREF(line);
        Py_DECREF(children);
        return NULL;
    }
    node = PyTuple_New(3);
    if (node == NULL) {
        Py_DECREF(k);
        Py_DECREF(line);
        Py_DECREF(children);
        return NULL;
    }
    PyTuple_SET_ITEM(node, 0, k);
    PyTuple_SET_ITEM(node, 1, line);
    PyTuple_SET_ITEM(node, 2, children);
    return node;
}

/* The current SEQUENCE-START event's sequence, up to and including its SEQUENCE-END. */
static step_t
compose_sequence(composer_t *c, Py_ssize_t depth, PyObject **data, PyObject **node)
{
    yaml_mark_t start = c->event.start_mark;
    PyObject *items = NULL, *nodes = NULL, *item, *item_node;
    step_t st;

    items = PyList_New(0);
    nodes = PyList_New(0);
    if (items == NULL || nodes == NULL) {
        goto error;
    }
    for (;;) {
        if ((st = next_event(c)) != STEP_OK) {
            goto fail;
        }
        if (c->event.type == YAML_SEQUENCE_END_EVENT) {
            break;
        }
        if ((st = compose_node(c, depth, &item, &item_node)) != STEP_OK) {
            goto fail;
        }
        if (PyList_Append(items, item) < 0 || PyList_Append(nodes, item_node) < 0) {
            Py_DECREF(item);
            Py_DECREF(item_node);
            goto error;
        }
        Py_DECREF(item);
        Py_DECREF(item_node);
    }
    *node = collection_node(KIND_SEQUENCE, &start, nodes);
    nodes = NULL;
    if (*node == NULL) {
        goto error;
    }
    *data = items;
    return STEP_OK;

error:
    st = STEP_ERROR;
fail:
    Py_XDECREF(items);
    Py_XDECREF(nodes);
    return st;
}

/*
 * The current MAPPING-START event's mapping, up to and including its MAPPING-END. The data
 * keeps the last value of a repeated key (as PyYAML); the line table keeps every entry, in
 * order, as (key text, key line, value node).
 */
static step_t
compose_mapping(composer_t *c, Py_ssize_t depth, PyObject **data, PyObject **node)
{
    yaml_mark_t start = c->event.start_mark;
    PyObject *map = NULL, *entries = NULL;
    PyObject *text = NULL, *key = NULL, *key_line = NULL, *value = NULL, *value_node = NULL, *entry;
    step_t st;

    map = PyDict_New();
    entries = PyList_New(0);
    if (map == NULL || entries == NULL) {
        goto error;
    }
    for (;;) {
        if ((st = next_event(c)) != STEP_OK) {
            goto fail;
        }
        if (c->event.type == YAML_MAPPING_END_EVENT) {
            break;
        }
        if (c->event.type != YAML_SCALAR_EVENT) {
            st = STEP_DECLINE; /* a complex key (or an alias): PyYAML's constructor */
            goto fail;
        }
        key_line = line_of(&c->event.start_mark);
        if (key_line == NULL) {
            goto error;
        }
        if ((st = compose_scalar(c, &text, &key)) != STEP_OK) {
            goto fail;
        }
        if ((st = next_event(c)) != STEP_OK) {
            goto fail;
        }
        if ((st = compose_node(c, depth, &value, &value_node)) != STEP_OK) {
            goto fail;
        }
        if (PyDict_SetItem(map, key, value) < 0) {
            goto error;
        }
        entry = PyTuple_Pack(3, text, key_line, value_node);
        if (entry == NULL) {
            goto error;
        }
        if (PyList_Append(entries, entry) < 0) {
            Py_DECREF(entry);
            goto error;
        }
        Py_DECREF(entry);
        Py_CLEAR(text);
        Py_CLEAR(key);
        Py_CLEAR(key_line);
        Py_CLEAR(value);
        Py_CLEAR(value_node);
    }
    *node = collection_node(KIND_MAPPING, &start, entries);
    entries = NULL;
    if (*node == NULL) {
        goto error;
    }
    *data = map;
    return STEP_OK;

error:
    st = STEP_ERROR;
fail:
    Py_XDECREF(text);
    Py_XDECREF(key);
    Py_XDECREF(key_line);
    Py_XDECREF(value);
    Py_XDECREF(value_node);
    Py_XDECREF(map);
    Py_XDECREF(entries);
    return st;
}

/*
 * The node the current event starts: its data and its line table entry (new references).
 * `depth` is the number of collections around it.
 */
static step_t
compose_node(composer_t *c, Py_ssize_t depth, PyObject **data, PyObject **node)
{
    PyObject *text, *value, *line;
    step_t st;

    switch (c->event.type) {
    case YAML_SCALAR_EVENT:
        line = line_of(&c->event.start_mark);
        if (line == NULL) {
            return STEP_ERROR;
        }
        if ((st = compose_scalar(c, &text, &value)) != STEP_OK) {
            Py_DECREF(line);
            return st;
        }
        Py_DECREF(text);
        *data = value;
        *node = line;
        return STEP_OK;
    case YAML_SEQUENCE_START_EVENT:
        if (c->event.data.sequence_start.anchor != NULL || c->event.data.sequence_start.tag != NULL) {
            return STEP_DECLINE;
        }
        if (depth + 1 > c->max_depth) {
            return STEP_DECLINE; /* PyYAML's path reports and skips the document */
        }
        return compose_sequence(c, depth + 1, data, node);
    case YAML_MAPPING_START_EVENT:
        if (c->event.data.mapping_start.anchor != NULL || c->event.data.mapping_start.tag != NULL) {
            return STEP_DECLINE;
        }
        if (depth + 1 > c->max_depth) {
            return STEP_DECLINE;
        }
        return compose_mapping(c, depth + 1, data, node);
    default: /* an alias */
        return STEP_DECLINE;
    }
}

/* Every non-empty document of the stream as (data, line, index, node), appended to `out`. */
static step_t
compose_stream(composer_t *c, PyObject *out)
{
    Py_ssize_t index = 0;
    PyObject *data, *node, *line, *idx, *doc;
    yaml_mark_t start;
    step_t st;

    if ((st = next_event(c)) != STEP_OK) {
        return st;
    }
    if (c->event.type != YAML_STREAM_START_EVENT) {
        return STEP_DECLINE;
    }
    for (;;) {
        if ((st = next_event(c)) != STEP_OK) {
            return st;
        }
        if (c->event.type == YAML_STREAM_END_EVENT) {
            return STEP_OK;
        }
        if (c->event.type != YAML_DOCUMENT_START_EVENT) {
            return STEP_DECLINE;
        }
        if ((st = next_event(c)) != STEP_OK) {
            return st;
        }
        start = c->event.start_mark;
        if ((st = compose_node(c, 0, &data, &node)) != STEP_OK) {
            return st;
        }
        if ((st = next_event(c)) != STEP_OK || c->event.type != YAML_DOCUMENT_END_EVENT) {
            Py_DECREF(data);
            Py_DECREF(node);
            return st == STEP_OK ? STEP_DECLINE : st;
        }
        if (data != Py_None) {
            /* Documents whose data is null are skipped, but counted in the index. */
            line = line_of(&start);
            idx = PyLong_FromSsize_t(index);
            doc = (line != NULL && idx != NULL) ? PyTuple_Pack(4, data, line, idx, node) : NULL;
            Py_XDECREF(line);
            Py_XDECREF(idx);
            if (doc == NULL || PyList_Append(out, doc) < 0) {
                Py_XDECREF(doc);
                Py_DECREF(data);
                Py_DECREF(node);
                return STEP_ERROR;
            }
            Py_DECREF(doc);
        }
        Py_DECREF(data);
        Py_DECREF(node);
        index++;
    }
}

PyDoc_STRVAR(compose_doc,
"compose(text, max_depth, memo, plain, decline)\n--\n\n"
"Every non-empty document of ``text`` as ``(data, line, index, node)``, or None to decline.\n\n"
"``node`` is the document's line table (see ``_yaml.Doc``); ``line`` is 1-based and ``index``\n"
"counts every document, empty ones too. ``memo`` maps plain scalar texts to their values;\n"
"``plain(text)`` gives the value of a text the memo lacks, or ``decline``. None means the\n"
"text needs PyYAML: a syntax error anywhere, anchors, aliases, tags, complex keys, a plain\n"
"scalar ``plain`` declined, or a collection deeper than ``max_depth`` (the root one is 1).");

static PyObject *
compose(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *memo, *plain, *decline, *bytes, *out;
    Py_ssize_t max_depth;
    composer_t c;
    step_t st;

    if (!PyArg_ParseTuple(args, "UnO!OO:compose", &text, &max_depth, &PyDict_Type, &memo, &plain, &decline)) {
        return NULL;
    }
    /* The bytes PyYAML's CParser parses (it encodes a str to UTF-8 too): a copy, freed below,
       rather than the UTF-8 form a str caches for its lifetime. A str that cannot be encoded
       (lone surrogates) is PyYAML's to report. */
    bytes = PyUnicode_AsUTF8String(text);
    if (bytes == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    out = PyList_New(0);
    if (out == NULL) {
        Py_DECREF(bytes);
        return NULL;
    }
    memset(&c, 0, sizeof(c));
    if (!yaml_parser_initialize(&c.parser)) {
        Py_DECREF(out);
        Py_DECREF(bytes);
        return PyErr_NoMemory();
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)PyBytes_AS_STRING(bytes),
                                 (size_t)PyBytes_GET_SIZE(bytes));
    c.max_depth = max_depth < HARD_MAX_DEPTH ? max_depth : HARD_MAX_DEPTH;
    c.memo = memo;
    c.plain = plain;
    c.decline = decline;

    st = compose_stream(&c, out);

    if (c.has_event) {
        yaml_event_delete(&c.event);
    }
    yaml_parser_delete(&c.parser);
    Py_DECREF(bytes);
    if (st == STEP_OK) {
        return out;
    }
    Py_DECREF(out);
    if (st == STEP_ERROR) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef cyaml_methods[] = {
    {"compose", compose, METH_VARARGS, compose_doc},
    {NULL, NULL, 0, NULL},
};

static int
cyaml_exec(PyObject *module)
{
    if (PyModule_AddIntConstant(module, "MAPPING", KIND_MAPPING) < 0
        || PyModule_AddIntConstant(module, "SEQUENCE", KIND_SEQUENCE) < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot cyaml_slots[] = {
    {Py_mod_exec, cyaml_exec},
    {0, NULL},
};

static struct PyModuleDef cyaml_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_cyaml",
    .m_doc = "Compose YAML documents into data and a line table with libyaml (see _yaml.py).",
    .m_size = 0,
    .m_methods = cyaml_methods,
    .m_slots = cyaml_slots,
};

PyMODINIT_FUNC
PyInit__cyaml(void)
{
    return PyModuleDef_Init(&cyaml_module);
}
