/* Build stored pydantic models from their stored tuples, and encode them into those tuples, in C.
 *
 * ``inventory.store`` keeps an inventory (and each scanned file's fragments) as nested tuples
 * of field values, and builds the models back without validation: a new instance, its
 * ``__dict__`` set to the field values, its fields-set slot to one shared set, its extra and
 * private slots to None. Its generated Python functions do exactly that, and they were most
 * of a warm rescan (about 260,000 objects at 2,000 services, ~1 us each). This module does
 * the same steps, through the same CPython entry points the Python code reaches
 * (``object.__new__``, ``object.__setattr__(obj, "__dict__", d)``, the slots' descriptors),
 * without the interpreter between them.
 *
 * A plan describes one model class (made by ``store._cplan``, checked there):
 *   (cls, keys, kinds, subplans, fields_set, json_validators, dict_fields)
 * ``keys``: a tuple of field names; ``kinds``: bytes, one kind per field (store's _VALUE ...
 * _JSON); ``subplans``: a tuple, the plan of a field holding models, else None;
 * ``json_validators``: a tuple, the validator of a field stored as JSON, else None;
 * ``dict_fields``: bytes, 1 where a JSON field holds a plain dict (``b"{}"`` is a new {}).
 *
 * Stored tuples come from a payload whose checksum matched, but a wrong shape still raises
 * (ValueError, TypeError, IndexError) as the Python functions do, never crashes.
 *
 * The other way (``encode``, the second half of this file) writes a model's stored form,
 * the bytes ``marshal.loads`` reads as the tuples the generated encoders of
 * ``store._encoder`` make, without making them: the inventory's, and (with an exact plan, the
 * same checks) each file's fragments. The walk's helpers follow: the stat it keeps, a listed
 * directory's jobs, the walk cache's answers, and the build's sorted tables.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <structmember.h>
#include <stdint.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#ifndef _WIN32
#include <dirent.h>
#include <errno.h>
#endif

/* A second thread that reads models without the GIL (the build's sorted tables, the
 * inventory's encoding): only on CPython 3.11, whose layout of an object's managed dict it
 * reads, with POSIX threads. Elsewhere that work is done on the caller's thread. */
#if !defined(_WIN32) && PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#include <pthread.h>
#define AHEAD_THREADS 1
#endif

enum { K_VALUE, K_EV, K_EVS, K_MODEL, K_OPT_MODEL, K_MODELS, K_JSON };

/* The descriptors of the three slots pydantic keeps beside __dict__, and "__dict__". */
static PyObject *set_fields_set, *set_extra, *set_private, *dict_name, *empty_tuple;
static int model_slots(void);

static PyObject *build_one(PyObject *plan, PyObject *row, PyObject *ev, int consume);
static PyObject *build_list(PyObject *plan, PyObject *rows, PyObject *ev, int consume);

static int
check_plan(PyObject *plan)
{
    if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 7 || !PyType_Check(PyTuple_GET_ITEM(plan, 0))
        || !PyTuple_Check(PyTuple_GET_ITEM(plan, 1)) || !PyBytes_Check(PyTuple_GET_ITEM(plan, 2))
        || !PyTuple_Check(PyTuple_GET_ITEM(plan, 3)) || !PyTuple_Check(PyTuple_GET_ITEM(plan, 5))
        || !PyBytes_Check(PyTuple_GET_ITEM(plan, 6))) {
        PyErr_SetString(PyExc_TypeError, "not a build plan");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 1));
    if (PyBytes_GET_SIZE(PyTuple_GET_ITEM(plan, 2)) != n || PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 3)) != n
        || PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 5)) != n || PyBytes_GET_SIZE(PyTuple_GET_ITEM(plan, 6)) != n) {
        PyErr_SetString(PyExc_TypeError, "not a build plan");
        return -1;
    }
    return 0;
}

/* ev[index] as list.__getitem__ gives it (a negative index counts from the end). */
static PyObject *
evidence_at(PyObject *ev, PyObject *index)
{
    if (!PyLong_Check(index)) {
        PyErr_SetString(PyExc_TypeError, "list indices must be integers");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(index);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ev);
    if (i < 0)
        i += n;
    if (i < 0 || i >= n) {
        PyErr_SetString(PyExc_IndexError, "list index out of range");
        return NULL;
    }
    return Py_NewRef(PyList_GET_ITEM(ev, i));
}

/* ``list(map(ev.__getitem__, v)) if v else []`` */
static PyObject *
evidence_list(PyObject *ev, PyObject *v)
{
    int truth = PyObject_IsTrue(v);
    if (truth < 0)
        return NULL;
    if (!truth)
        return PyList_New(0);
    PyObject *seq = PySequence_Fast(v, "stored evidence is not a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = evidence_at(ev, items[i]);
        if (item == NULL) {
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(seq);
    return out;
}

/* The value of field ``i`` of ``plan`` from its stored value ``v`` (a new reference). */
static PyObject *
field_value(PyObject *plan, Py_ssize_t i, char kind, PyObject *v, PyObject *ev, int consume)
{
    PyObject *sub;
    int truth;
    switch (kind) {
    case K_VALUE:
        return Py_NewRef(v);
    case K_EV:
        return evidence_at(ev, v);
    case K_EVS:
        return evidence_list(ev, v);
    case K_MODEL:
        return build_one(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), v, ev, consume);
    case K_OPT_MODEL:
        if (v == Py_None)
            return Py_NewRef(Py_None);
        return build_one(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), v, ev, consume);
    case K_MODELS:
        truth = PyObject_IsTrue(v);
        if (truth < 0)
            return NULL;
        if (!truth)
            return PyList_New(0);
        return build_list(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), v, ev, consume);
    case K_JSON:
        if (PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 6))[i] && PyBytes_Check(v) && PyBytes_GET_SIZE(v) == 2
            && memcmp(PyBytes_AS_STRING(v), "{}", 2) == 0)
            return PyDict_New();
        sub = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 5), i);
        return PyObject_CallOneArg(sub, v);
    default:
        PyErr_SetString(PyExc_TypeError, "not a build plan");
        return NULL;
    }
}

static int
set_slot(PyObject *descr, PyObject *obj, PyObject *value)
{
    descrsetfunc set = Py_TYPE(descr)->tp_descr_set;
    if (set == NULL) {
        PyErr_SetString(PyExc_TypeError, "slot descriptor cannot be set");
        return -1;
    }
    return set(descr, obj, value);
}

/* The model of ``plan`` whose __dict__ is ``dict`` (stolen), as validation leaves one: every
 * field set, no extra or private attributes. */
static PyObject *
new_model(PyObject *plan, PyObject *dict)
{
    PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(plan, 0);
    PyObject *obj = NULL, **slot;
    if (model_slots() < 0)
        goto done;
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    /* ``object.__new__`` gives an instance of a class with a managed __dict__ (a model's)
     * values of its own, which setting __dict__ turns into a dict of its own, only to drop
     * both for ``dict``: two allocations and two frees per model (~150,000 of them on a warm
     * rescan). Allocated here without them: the slot is empty, and holds ``dict`` as
     * ``object.__setattr__(obj, "__dict__", dict)`` would leave it. */
    if ((cls->tp_flags & Py_TPFLAGS_MANAGED_DICT) && !(cls->tp_flags & Py_TPFLAGS_IS_ABSTRACT)
        && PyDict_CheckExact(dict)) {
        if ((obj = cls->tp_alloc(cls, 0)) == NULL)
            goto done;
        if ((slot = _PyObject_GetDictPtr(obj)) != NULL && *slot == NULL) {
            *slot = Py_NewRef(dict);
            goto slots;
        }
        Py_CLEAR(obj);
    }
#endif
    obj = PyBaseObject_Type.tp_new(cls, empty_tuple, NULL);
    if (obj != NULL && PyObject_GenericSetAttr(obj, dict_name, dict) < 0)
        Py_CLEAR(obj);
slots:
    if (obj != NULL && (set_slot(set_fields_set, obj, PyTuple_GET_ITEM(plan, 4)) < 0
                        || set_slot(set_extra, obj, Py_None) < 0 || set_slot(set_private, obj, Py_None) < 0))
        Py_CLEAR(obj);
done:
    Py_DECREF(dict);
    return obj;
}

/* One model of ``plan`` from its stored tuple ``row``. */
static PyObject *
build_one(PyObject *plan, PyObject *row, PyObject *ev, int consume)
{
    if (check_plan(plan) < 0)
        return NULL;
    PyObject *keys = PyTuple_GET_ITEM(plan, 1);
    const char *kinds = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 2));
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    PyObject *seq = PySequence_Fast(row, "stored model is not a sequence");
    if (seq == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "stored model has %zd values, expected %zd",
                     PySequence_Fast_GET_SIZE(seq), n);
        Py_DECREF(seq);
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    /* Made at its final size, as a dict display is (growing it field by field costs more). */
    PyObject *dict = _PyDict_NewPresized(n);
    PyObject *obj = NULL;
    if (dict == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = field_value(plan, i, kinds[i], items[i], ev, consume);
        if (value == NULL)
            goto fail;
        int rc = PyDict_SetItem(dict, PyTuple_GET_ITEM(keys, i), value);
        Py_DECREF(value);
        if (rc < 0)
            goto fail;
    }
    obj = new_model(plan, dict);
    Py_DECREF(seq);
    return obj;
fail:
    Py_XDECREF(dict);
    Py_DECREF(seq);
    return NULL;
}

/* A list of models of ``plan``, one per stored tuple of ``rows``. */
static PyObject *
build_list(PyObject *plan, PyObject *rows, PyObject *ev, int consume)
{
    PyObject *seq = PySequence_Fast(rows, "stored models are not a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = build_one(plan, items[i], ev, consume);
        if (obj == NULL) {
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(out, i, obj);
        if (consume && seq == rows && PyList_CheckExact(rows)) {
            /* A list of stored rows read for this build alone: each row is let go once its
             * model is made, so the next models reuse its memory (a loaded inventory's rows are
             * a third of what it allocates, otherwise all alive until it is built: fresh pages,
             * each a page fault, were a sixth of a warm rescan). A field's plain value is the
             * model's now, not the row's: only the row goes. */
            PyObject *row = items[i];
            items[i] = Py_NewRef(Py_None);
            Py_DECREF(row);
        }
    }
    Py_DECREF(seq);
    return out;
}

static int
check_ev(PyObject *ev)
{
    if (!PyList_Check(ev)) {
        PyErr_SetString(PyExc_TypeError, "the evidence table must be a list");
        return -1;
    }
    return 0;
}

/* The optional last argument ``consume``: the lists of rows are the caller's to empty (see
 * build_list), as those of a payload loaded for this build alone are. */
static int
consuming(PyObject *const *args, Py_ssize_t nargs)
{
    return nargs == 4 ? PyObject_IsTrue(args[3]) : 0;
}

static PyObject *
py_build(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "build(plan, row, evidence[, consume]) takes 3 or 4 arguments");
        return NULL;
    }
    int consume = consuming(args, nargs);
    if (consume < 0 || check_ev(args[2]) < 0)
        return NULL;
    return build_one(args[0], args[1], args[2], consume);
}

static PyObject *
py_build_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "build_many(plan, rows, evidence[, consume]) takes 3 or 4 arguments");
        return NULL;
    }
    int consume = consuming(args, nargs);
    if (consume < 0 || check_ev(args[2]) < 0 || check_plan(args[0]) < 0)
        return NULL;
    return build_list(args[0], args[1], args[2], consume);
}

/* -- encoding ------------------------------------------------------------------------
 *
 * An encoding plan describes one model class (made by ``store._cencplan``):
 *   (cls, keys, kinds, subplans, shown, pair_name)
 * ``keys``, ``kinds`` and ``subplans`` as a build plan's (no JSON field: that is exact only);
 * ``shown``: bytes, what a seeing encoder shows ``see`` of each plain field (store's _PLAIN,
 * _SEEN, _KEYED, _PAIR); ``pair_name``: the index of the ``name`` field whose value a _PAIR
 * field is shown under, else -1.
 *
 * ``encode`` writes the payload itself: the bytes ``marshal.loads`` reads as the (body,
 * evidence table) the generated encoders of ``store._encoder`` (not exact) make and
 * ``marshal.dumps`` writes, without making that body first (its ~250,000 tuples and lists at
 * 2,000 services, and marshal's walk over them, were most of the cold scan's store step).
 * What is written is marshal's own format: a string is written once and referenced after
 * (marshal's refs; only strings are, so no two loaded containers are ever one object), ints
 * of 32 bits, floats in binary, lists, dicts and tuples as marshal writes them; any other
 * value as ``marshal.dumps(v, 2)`` writes it (no refs), which raises what marshal raises.
 *
 * Each step is the generated Python's, in its order: the field values are read from
 * ``__dict__`` (a missing one raises KeyError before anything is shown), the _KEYED and _PAIR
 * fields are shown, then the fields are encoded in order. Strings get their ref in the string
 * table (a list, the strings in first-met order, its index their ref: a seeing dump's ``step``
 * reads it from its end; they are found by identity, then by text, in tables of this file's),
 * evidence its index in the evidence table's, and what ``see`` returns is stored in place of
 * the value when it is true (``see(v, key) or value(v)``), as in Python.
 */

enum { S_PLAIN, S_SEEN, S_KEYED, S_PAIR };

/* marshal's type codes (Python/marshal.c) */
#define M_NONE 'N'
#define M_FALSE 'F'
#define M_TRUE 'T'
#define M_INT 'i'
#define M_FLOAT 'g'
#define M_SHORT_ASCII 'z'
#define M_ASCII 'a'
#define M_UNICODE 'u'
#define M_SMALL_TUPLE ')'
#define M_TUPLE '('
#define M_LIST '['
#define M_DICT '{'
#define M_NULL '0'
#define M_REF 'r'
#define M_FLAG_REF 0x80

/* One dump: the bytes written so far, its tables, and the seeing dump's callables (NULL when
 * not seeing). */
/* Objects met before, by identity: an open-addressing table of (object, index), each object
 * held (so its address cannot be reused while the table lives). In front of the string and
 * evidence tables, which are found by equality: most strings and evidence of an inventory
 * are met as the same object again and again (an id in every edge, action and reference),
 * and a hit here reads one slot where the dict lookup read its index, its entry, and the
 * index's int object, spread over the heap (most of the encoder's time). */
typedef struct {
    PyObject *key;
    Py_ssize_t value;
} Slot;

typedef struct {
    Slot *slots;
    size_t mask; /* capacity - 1 (a power of two), or 0 before the first put */
    Py_ssize_t used;
} Seen;

/* ``size`` bytes of zeros from PyMem_Malloc (``raw``: PyMem_RawMalloc, for a thread without the
 * GIL), written rather than calloc'd: a large calloc is a map of the zero page, which the
 * tables' probes read and then write, a second fault per page, and a TLB flush on every core
 * while the encoder's second thread runs (see "encoding ahead"). */
static void *
zeroed(size_t size, int raw)
{
    void *p = raw ? PyMem_RawMalloc(size) : PyMem_Malloc(size);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

static inline size_t
seen_hash(PyObject *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ (h >> 32));
}

/* The index ``key`` was put with, -1 if never. */
static inline Py_ssize_t
seen_get(Seen *m, PyObject *key)
{
    if (m->mask == 0)
        return -1;
    for (size_t i = seen_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key)
            return m->slots[i].value;
        if (m->slots[i].key == NULL)
            return -1;
    }
}

static int
seen_put(Seen *m, PyObject *key, Py_ssize_t value)
{
    if ((size_t)(m->used + 1) * 2 > m->mask + 1) { /* at most half full */
        size_t cap = m->mask ? (m->mask + 1) * 2 : 1024;
        Slot *slots = zeroed(cap * sizeof(Slot), 0);
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t j = 0; m->mask && j <= m->mask; j++) {
            if (m->slots[j].key == NULL)
                continue;
            size_t i = seen_hash(m->slots[j].key) & (cap - 1);
            while (slots[i].key != NULL)
                i = (i + 1) & (cap - 1);
            slots[i] = m->slots[j];
        }
        PyMem_Free(m->slots);
        m->slots = slots;
        m->mask = cap - 1;
    }
    size_t i = seen_hash(key) & m->mask;
    while (m->slots[i].key != NULL)
        i = (i + 1) & m->mask;
    m->slots[i].key = Py_NewRef(key);
    m->slots[i].value = value;
    m->used++;
    return 0;
}

/* Strings by their text: an open-addressing table of (str, hash, ref), each str held by the
 * payload's list of strings. Behind the identity table: an equal string met as another object
 * (the dict it replaces spent most of the encoder's string time hashing and probing). */
typedef struct {
    PyObject *key;
    uint64_t hash;
    Py_ssize_t value;
} TextSlot;

typedef struct {
    TextSlot *slots;
    size_t mask;
    Py_ssize_t used;
} Texts;

/* A hash of a ready str's text (its kind, length and code units): the same for equal strings,
 * which CPython keeps in the same kind. Needs no GIL (see "encoding ahead"). */
static inline uint64_t
text_hash(PyObject *s)
{
    const unsigned char *p = PyUnicode_DATA(s);
    size_t n = (size_t)PyUnicode_GET_LENGTH(s) * (size_t)PyUnicode_KIND(s);
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n << 3) ^ (uint64_t)PyUnicode_KIND(s), w;
    for (; n >= 8; n -= 8, p += 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9FB21C651E98DF25ULL;
        h ^= h >> 29;
    }
    if (n > 0) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x9FB21C651E98DF25ULL;
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    return h ^ (h >> 32);
}

static inline int
same_text(PyObject *a, PyObject *b)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    int kind = PyUnicode_KIND(a);
    return a == b || (n == PyUnicode_GET_LENGTH(b) && kind == PyUnicode_KIND(b)
                      && memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0);
}

/* The length of a ready str's UTF-8 as marshal writes it (a lone surrogate passed through),
 * and that UTF-8 written at ``p`` (the end returned). Need no GIL. */
static Py_ssize_t
utf8_size(PyObject *s)
{
    if (PyUnicode_IS_ASCII(s))
        return PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(s); i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        size += ch < 0x80 ? 1 : ch < 0x800 ? 2 : ch < 0x10000 ? 3 : 4;
    }
    return size;
}

static char *
utf8_put(PyObject *s, char *p)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (PyUnicode_IS_ASCII(s)) {
        memcpy(p, PyUnicode_DATA(s), (size_t)n);
        return p + n;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < 0x80)
            *p++ = (char)ch;
        else if (ch < 0x800) {
            *p++ = (char)(0xc0 | (ch >> 6));
            *p++ = (char)(0x80 | (ch & 0x3f));
        }
        else if (ch < 0x10000) {
            *p++ = (char)(0xe0 | (ch >> 12));
            *p++ = (char)(0x80 | ((ch >> 6) & 0x3f));
            *p++ = (char)(0x80 | (ch & 0x3f));
        }
        else {
            *p++ = (char)(0xf0 | (ch >> 18));
            *p++ = (char)(0x80 | ((ch >> 12) & 0x3f));
            *p++ = (char)(0x80 | ((ch >> 6) & 0x3f));
            *p++ = (char)(0x80 | (ch & 0x3f));
        }
    }
    return p;
}

/* Room for one more entry: the table grown when it is half full. */
static int
texts_room(Texts *m)
{
    if ((size_t)(m->used + 1) * 2 <= m->mask + 1)
        return 0;
    size_t cap = m->mask ? (m->mask + 1) * 2 : 256; /* a file's fragments hold a few dozen strings; an inventory grows it */
    TextSlot *slots = zeroed(cap * sizeof(TextSlot), 0);
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t j = 0; m->mask && j <= m->mask; j++) {
        if (m->slots[j].key == NULL)
            continue;
        size_t i = (size_t)m->slots[j].hash & (cap - 1);
        while (slots[i].key != NULL)
            i = (i + 1) & (cap - 1);
        slots[i] = m->slots[j];
    }
    PyMem_Free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

/* The ref of the string equal to ``s`` (of hash ``h``); else ``value``, which it now has
 * (-1 when it was not there, -2 on an error). One probe for both. */
static inline Py_ssize_t
texts_get_or_put(Texts *m, PyObject *s, uint64_t h, Py_ssize_t value)
{
    if (texts_room(m) < 0)
        return -2;
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        TextSlot *x = &m->slots[i];
        if (x->key == NULL) {
            *x = (TextSlot){s, h, value};
            m->used++;
            return -1;
        }
        if (x->hash == h && same_text(x->key, s))
            return x->value;
    }
}

static void
seen_clear(Seen *m)
{
    for (size_t j = 0; m->mask && j <= m->mask; j++)
        Py_XDECREF(m->slots[j].key);
    PyMem_Free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->used = 0;
}

/* The models of one list encoded on a second thread meanwhile (see "encoding ahead"). */
typedef struct Ahead Ahead;

typedef struct {
    PyObject *out;     /* bytes, resized as it fills */
    Py_ssize_t len;
    PyObject *strings; /* a list: the strings written, in the order of their refs */
    PyObject *evs;     /* (path, line) -> index */
    PyObject *see;
    PyObject *known;   /* key -> whether ``see`` judges a string under it by its key, or NULL */
    PyObject *step;
    Py_ssize_t every; /* models of a stepped list between two calls of step */
    Seen seen_strings; /* str object -> its ref (in front of ``strings``) */
    Seen seen_evs;     /* Evidence object -> its index (in front of ``evs``) */
    Texts texts;       /* str -> its ref, by text (behind seen_strings) */
    int exact;         /* an exact plan's dump: the evidence table is checked too */
    Ahead *ahead;      /* or NULL */
    int answered;      /* stopped: a value the thread wrote was answered by ``see`` */
} Tables;

static PyObject *path_name, *line_name, *value_name, *name_name;

static int encode_model(PyObject *plan, PyObject *obj, Tables *t, int stepped);

/* Room for ``more`` bytes; the pointer to write them at, NULL on failure. */
static char *
room(Tables *t, Py_ssize_t more)
{
    Py_ssize_t size = PyBytes_GET_SIZE(t->out);
    if (t->len + more > size) {
        while (size < t->len + more) {
            if (size > PY_SSIZE_T_MAX / 2) {
                PyErr_NoMemory();
                return NULL;
            }
            size *= 2;
        }
        if (_PyBytes_Resize(&t->out, size) < 0)
            return NULL;
    }
    char *p = PyBytes_AS_STRING(t->out) + t->len;
    t->len += more;
    return p;
}

static void
put32(char *p, Py_ssize_t x)
{
    uint32_t u = (uint32_t)x;
    p[0] = (char)(u & 0xff);
    p[1] = (char)((u >> 8) & 0xff);
    p[2] = (char)((u >> 16) & 0xff);
    p[3] = (char)((u >> 24) & 0xff);
}

/* A type code and a 32-bit count (or index). */
static int
w_code32(Tables *t, int code, Py_ssize_t n)
{
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too large for the stored form");
        return -1;
    }
    char *p = room(t, 5);
    if (p == NULL)
        return -1;
    p[0] = (char)code;
    put32(p + 1, n);
    return 0;
}

static int
w_byte(Tables *t, int c)
{
    char *p = room(t, 1);
    if (p == NULL)
        return -1;
    *p = (char)c;
    return 0;
}

/* A container's count, written once its items are (``see`` may change a list as it is read). */
static Py_ssize_t
w_count_later(Tables *t, int code)
{
    Py_ssize_t at = t->len;
    return w_code32(t, code, 0) < 0 ? -1 : at;
}

static int
w_count(Tables *t, Py_ssize_t at, Py_ssize_t n)
{
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too large for the stored form");
        return -1;
    }
    put32(PyBytes_AS_STRING(t->out) + at + 1, n);
    return 0;
}

/* ``v`` as ``marshal.dumps(v, 2)`` writes it: no refs, so it cannot clash with the table's. */
static int
w_marshal(Tables *t, PyObject *v)
{
    PyObject *b = PyMarshal_WriteObjectToString(v, 2);
    if (b == NULL)
        return -1;
    char *p = room(t, PyBytes_GET_SIZE(b));
    if (p != NULL)
        memcpy(p, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return p == NULL ? -1 : 0;
}

static int w_def(Tables *t, PyObject *s);

/* A str: its ref when written before (the same object, or an equal one), else its text,
 * flagged as the next ref. */
static int
w_str(Tables *t, PyObject *s)
{
    Py_ssize_t known = seen_get(&t->seen_strings, s);
    if (known >= 0)
        return w_code32(t, M_REF, known);
    if (PyUnicode_READY(s) < 0)
        return -1;
    Py_ssize_t index = PyList_GET_SIZE(t->strings);
    known = texts_get_or_put(&t->texts, s, text_hash(s), index);
    if (known == -2)
        return -1;
    if (known >= 0)
        return seen_put(&t->seen_strings, s, known) < 0 ? -1 : w_code32(t, M_REF, known);
    if (PyList_Append(t->strings, s) < 0 || seen_put(&t->seen_strings, s, index) < 0)
        return -1;
    return w_def(t, s);
}

/* The record of a str written the first time: its text, flagged as the next ref. */
static int
w_def(Tables *t, PyObject *s)
{
    if (PyUnicode_IS_ASCII(s)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        char *p;
        if (n < 256) {
            if ((p = room(t, 2 + n)) == NULL)
                return -1;
            p[0] = (char)(M_SHORT_ASCII | M_FLAG_REF);
            p[1] = (char)n;
            p += 2;
        }
        else {
            if (w_code32(t, M_ASCII | M_FLAG_REF, n) < 0 || (p = room(t, n)) == NULL)
                return -1;
        }
        memcpy(p, PyUnicode_DATA(s), n);
        return 0;
    }
    /* As marshal writes it: UTF-8, a lone surrogate passed through. */
    PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (b == NULL)
        return -1;
    char *p = NULL;
    if (w_code32(t, M_UNICODE | M_FLAG_REF, PyBytes_GET_SIZE(b)) == 0 && (p = room(t, PyBytes_GET_SIZE(b))) != NULL)
        memcpy(p, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return p == NULL ? -1 : 0;
}

/* An int: 32 bits as marshal's TYPE_INT, a larger one as marshal writes it. */
static int
w_int(Tables *t, PyObject *v)
{
    int overflow;
    long x = PyLong_AsLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (overflow || x < INT32_MIN || x > INT32_MAX)
        return w_marshal(t, v);
    return w_code32(t, M_INT, (Py_ssize_t)x);
}

static int plain_item(Tables *t, PyObject *x, PyObject *arg);
static int w_list(Tables *t, PyObject *v, int (*f)(Tables *, PyObject *, PyObject *), PyObject *arg);

/* store._value: a plain value in its stored form (containers fresh, strings shared). The
 * generated _VALUE_EXPR is the same function, inlined. */
static int
plain_value(Tables *t, PyObject *v)
{
    if (PyUnicode_CheckExact(v))
        return w_str(t, v);
    if (v == Py_None)
        return w_byte(t, M_NONE);
    if (PyBool_Check(v))
        return w_byte(t, v == Py_True ? M_TRUE : M_FALSE);
    if (PyLong_CheckExact(v))
        return w_int(t, v);
    if (PyFloat_CheckExact(v)) {
        char *p = room(t, 9);
        if (p == NULL)
            return -1;
        p[0] = M_FLOAT;
        return PyFloat_Pack8(PyFloat_AS_DOUBLE(v), p + 1, 1);
    }
    if (!PyList_CheckExact(v) && !PyDict_CheckExact(v)) {
        PyErr_Format(PyExc_TypeError, "no stored form for a value of type %s", _PyType_Name(Py_TYPE(v)));
        return -1;
    }
    if (Py_EnterRecursiveCall(" while encoding a stored value"))
        return -1;
    int rc = 0;
    if (PyList_CheckExact(v))
        rc = w_list(t, v, plain_item, NULL);
    else {
        /* No Python code runs while a dict is read (its keys and values are plain values). */
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        rc = w_byte(t, M_DICT);
        while (rc == 0 && PyDict_Next(v, &pos, &k, &x)) {
            Py_INCREF(k);
            Py_INCREF(x);
            rc = plain_value(t, k) < 0 || plain_value(t, x) < 0 ? -1 : 0;
            Py_DECREF(k);
            Py_DECREF(x);
        }
        if (rc == 0)
            rc = w_byte(t, M_NULL);
    }
    Py_LeaveRecursiveCall();
    return rc;
}

static int
plain_item(Tables *t, PyObject *x, PyObject *Py_UNUSED(arg))
{
    return plain_value(t, x);
}

/* Whether ``see`` would only look at ``key``, a string under it, with what the known answers
 * say: a key judged as no secret's (false in ``t->known``) gets nothing of its strings shown.
 * Mirrors secrets._judging_beside_table's ``seen``: a string or a list of strings under such a
 * key, a number, None, or a dict (not a ``{name, value}`` pair) of such items shows nothing. */
static inline int
key_known_plain(Tables *t, PyObject *key)
{
    if (key == Py_None)
        return 1;
    if (!PyUnicode_CheckExact(key))
        return 0;
    PyObject *hit = PyDict_GetItemWithError(t->known, key); /* never raises: an exact str key */
    return hit == Py_False;
}

static inline int
shows_nothing_item(PyObject *x)
{
    return x == Py_None || PyLong_CheckExact(x) || PyBool_Check(x) || PyFloat_CheckExact(x);
}

static int
shows_nothing_under(Tables *t, PyObject *v, PyObject *key)
{
    if (shows_nothing_item(v))
        return 1;
    if (PyUnicode_CheckExact(v))
        return key_known_plain(t, key);
    if (PyList_CheckExact(v)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            PyObject *x = PyList_GET_ITEM(v, i);
            if (x != Py_None && !PyUnicode_CheckExact(x))
                return 0;
        }
        return key_known_plain(t, key);
    }
    return 0;
}

static int
shows_nothing(Tables *t, PyObject *v, PyObject *key)
{
    if (t->known == NULL)
        return 0;
    if (!PyDict_CheckExact(v))
        return shows_nothing_under(t, v, key);
    PyObject *name = PyDict_GetItemWithError(v, name_name);
    if (name == NULL && PyErr_Occurred())
        PyErr_Clear(); /* a key that cannot be compared: shown, as Python would */
    else if (name != NULL && PyUnicode_CheckExact(name))
        return 0; /* perhaps a {name, value} pair: its value is judged under its name */
    Py_ssize_t pos = 0;
    PyObject *k, *x;
    while (PyDict_Next(v, &pos, &k, &x))
        if (!PyUnicode_CheckExact(k) || !shows_nothing_under(t, x, k))
            return 0;
    return 1;
}

/* ``see(v, key) or value(v)``: a true answer is stored as it is (not through the string table). */
static int
seen_or_value(Tables *t, PyObject *v, PyObject *key)
{
    if (shows_nothing(t, v, key))
        return plain_value(t, v);
    PyObject *args[2] = {v, key};
    PyObject *r = PyObject_Vectorcall(t->see, args, 2, NULL);
    if (r == NULL)
        return -1;
    int truth = PyObject_IsTrue(r);
    int rc = truth < 0 ? -1 : truth > 0 ? w_marshal(t, r) : plain_value(t, v);
    Py_DECREF(r);
    return rc;
}

/* ``see(v, key)``, its result dropped. */
static int
show(Tables *t, PyObject *v, PyObject *key)
{
    if (shows_nothing(t, v, key))
        return 0;
    PyObject *args[2] = {v, key};
    PyObject *r = PyObject_Vectorcall(t->see, args, 2, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* A plain field's value as a seeing encoder stores it (store._SEEN_VALUE_EXPR): what is not
 * a string, None, a number or an empty dict is shown under ``key`` (a list by its items). */
static int seen_item(Tables *t, PyObject *x, PyObject *key);

static int
seen_value(Tables *t, PyObject *v, PyObject *key)
{
    if (PyUnicode_CheckExact(v))
        return w_str(t, v);
    if (v == Py_None)
        return w_byte(t, M_NONE);
    if (PyList_CheckExact(v))
        return w_list(t, v, seen_item, key);
    if (PyDict_CheckExact(v)) {
        if (PyDict_GET_SIZE(v))
            return seen_or_value(t, v, key);
        return w_byte(t, M_DICT) < 0 ? -1 : w_byte(t, M_NULL);
    }
    if (PyLong_CheckExact(v) || PyBool_Check(v) || PyFloat_CheckExact(v))
        return plain_value(t, v);
    return seen_or_value(t, v, key);
}

static int
seen_item(Tables *t, PyObject *x, PyObject *key)
{
    return PyUnicode_CheckExact(x) ? w_str(t, x) : seen_or_value(t, x, key);
}

/* ``evs.setdefault((e.path, e.line), len(evs))``: the evidence's index in the table. */
static int
evidence_index(Tables *t, PyObject *e, PyObject *Py_UNUSED(arg))
{
    /* Evidence is frozen: an object met before has the same (path, line), and so index. */
    Py_ssize_t known = seen_get(&t->seen_evs, e);
    if (known >= 0)
        return w_code32(t, M_INT, known);
    PyObject *path = PyObject_GetAttr(e, path_name);
    if (path == NULL)
        return -1;
    PyObject *line = PyObject_GetAttr(e, line_name);
    if (line == NULL) {
        Py_DECREF(path);
        return -1;
    }
    PyObject *key = PyTuple_New(2);
    if (key == NULL) {
        Py_DECREF(path);
        Py_DECREF(line);
        return -1;
    }
    PyTuple_SET_ITEM(key, 0, path);
    PyTuple_SET_ITEM(key, 1, line);
    PyObject *next = PyLong_FromSsize_t(PyDict_GET_SIZE(t->evs));
    PyObject *index = next ? PyDict_SetDefault(t->evs, key, next) : NULL; /* borrowed */
    int rc = index == NULL ? -1 : w_int(t, index);
    if (rc == 0 && PyLong_CheckExact(index)) {
        Py_ssize_t i = PyLong_AsSsize_t(index);
        if (i >= 0 && i <= INT32_MAX)
            rc = seen_put(&t->seen_evs, e, i);
        else
            PyErr_Clear(); /* not a small index (not one this function put): not remembered */
    }
    Py_XDECREF(next);
    Py_DECREF(key);
    return rc;
}

static int
sub_model(Tables *t, PyObject *obj, PyObject *plan)
{
    return encode_model(plan, obj, t, 0);
}

/* Ahead of encoding the model at ``i`` of ``items``, the memory the next ones will be read
 * from, a stage per distance: the object, its __dict__, the dict's table, its values, the
 * items of its lists. A model of an inventory built by a scan is spread over the heap (the
 * fragments' objects, made file by file, then the build's): its fields are read from memory
 * the CPU has not seen, one miss after another. A prefetch only asks; it never faults. */
static PyObject **
dict_slot(PyObject *obj)
{
    PyObject **dp = _PyObject_GetDictPtr(obj);
    return dp != NULL && *dp != NULL && PyDict_CheckExact(*dp) ? dp : NULL;
}

static void
prefetch_ahead(PyObject *items, Py_ssize_t i, Py_ssize_t n)
{
    PyObject **dp;
    if (i + 12 < n)
        __builtin_prefetch(PyList_GET_ITEM(items, i + 12));
    if (i + 8 < n && (dp = _PyObject_GetDictPtr(PyList_GET_ITEM(items, i + 8))) != NULL && *dp != NULL)
        __builtin_prefetch(*dp);
    if (i + 5 < n && (dp = dict_slot(PyList_GET_ITEM(items, i + 5))) != NULL) {
        const char *k = (const char *)((PyDictObject *)*dp)->ma_keys;
        for (int line = 0; line < 8; line++)
            __builtin_prefetch(k + 64 * line);
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    if (i + 3 < n && (dp = dict_slot(PyList_GET_ITEM(items, i + 3))) != NULL)
        while (PyDict_Next(*dp, &pos, &key, &value))
            __builtin_prefetch(value);
    pos = 0;
    if (i + 1 < n && (dp = dict_slot(PyList_GET_ITEM(items, i + 1))) != NULL)
        while (PyDict_Next(*dp, &pos, &key, &value))
            if (PyList_CheckExact(value) && PyList_GET_SIZE(value) > 0) {
                __builtin_prefetch(PyList_GET_ITEM(value, 0));
                if (PyList_GET_SIZE(value) > 1)
                    __builtin_prefetch(PyList_GET_ITEM(value, 1));
            }
}

/* ``[f(x) for x in v]`` of a list ``v``, read as a list iterator reads it: ``f`` may run
 * Python code (``see``) that changes ``v``. */
static int
w_list(Tables *t, PyObject *v, int (*f)(Tables *, PyObject *, PyObject *), PyObject *arg)
{
    Py_ssize_t at = w_count_later(t, M_LIST), i;
    if (at < 0)
        return -1;
    for (i = 0; i < PyList_GET_SIZE(v); i++) {
        if (f == sub_model && !t->exact) /* (an exact dump is of a file's fragments, made just now) */
            prefetch_ahead(v, i, PyList_GET_SIZE(v));
        PyObject *x = Py_NewRef(PyList_GET_ITEM(v, i));
        int rc = f(t, x, arg);
        Py_DECREF(x);
        if (rc < 0)
            return -1;
    }
    return w_count(t, at, i);
}

/* ``[f(x) for x in v]`` of any iterable ``v`` (store._each: a list field holding something else). */
static int
w_any(Tables *t, PyObject *v, int (*f)(Tables *, PyObject *, PyObject *), PyObject *arg)
{
    if (PyList_CheckExact(v))
        return w_list(t, v, f, arg);
    PyObject *it = PyObject_GetIter(v);
    if (it == NULL)
        return -1;
    Py_ssize_t at = w_count_later(t, M_LIST), n = 0;
    PyObject *x;
    int rc = at < 0 ? -1 : 0;
    while (rc == 0 && (x = PyIter_Next(it)) != NULL) {
        rc = f(t, x, arg);
        Py_DECREF(x);
        n++;
    }
    Py_DECREF(it);
    if (rc == 0 && PyErr_Occurred())
        rc = -1;
    return rc < 0 ? -1 : w_count(t, at, n);
}

/* store._in_steps: the models of the list ``v`` a slice of ``every`` at a time, ``step()``
 * called after each. */
static int
in_steps(Tables *t, PyObject *v, PyObject *plan)
{
    Py_ssize_t n = PyList_GET_SIZE(v), at = w_count_later(t, M_LIST), written = 0;
    if (at < 0)
        return -1;
    for (Py_ssize_t start = 0; start < n; start += t->every) {
        PyObject *chunk = PyList_GetSlice(v, start, start + t->every);
        if (chunk == NULL)
            return -1;
        int rc = 0;
        Py_ssize_t m = PyList_GET_SIZE(chunk);
        for (Py_ssize_t i = 0; rc == 0 && i < m; i++, written++) {
            prefetch_ahead(chunk, i, m);
            PyObject *x = Py_NewRef(PyList_GET_ITEM(chunk, i));
            rc = encode_model(plan, x, t, 0);
            Py_DECREF(x);
        }
        Py_DECREF(chunk);
        if (rc < 0)
            return -1;
        PyObject *r = PyObject_CallNoArgs(t->step);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return w_count(t, at, written);
}

/* -- exact plans (store._cexactplan): the checks of store._exact_expr, in C -------------
 *
 * An exact codec writes only values that validating their JSON would give back unchanged,
 * and raises TypeError (store._inexact's words) for anything else: the writer then validates
 * the models through their JSON first. A plain field's check is a spec, a tuple:
 *   (X_STR,)                           a str, exactly
 *   (X_SCALAR, cls)                    an object of exactly ``cls`` (int, bool)
 *   (X_LITERAL, frozenset)             a str, exactly, among the choices
 *   (X_LIST, item)                     a list, exactly, of items passing ``item``
 *   (X_DICT, item)                     a dict, exactly, of str keys to items passing ``item``
 *   (X_UNION, nullable, scalars, other) None when ``nullable``, an object of exactly one of the
 *                                      classes ``scalars`` (a tuple), else what ``other`` (a spec
 *                                      or None) passes
 * A field carried as JSON has (serializer, holds_a_dict); an evidence field, the Evidence class.
 */
enum { X_STR, X_SCALAR, X_LITERAL, X_LIST, X_DICT, X_UNION };

static int
inexact(PyObject *v)
{
    PyErr_Format(PyExc_TypeError, "not as its JSON would validate: a %s", _PyType_Name(Py_TYPE(v)));
    return -1;
}

static int exact_value(Tables *t, PyObject *v, PyObject *spec);

static int
exact_item(Tables *t, PyObject *x, PyObject *spec)
{
    return exact_value(t, x, spec);
}

static int
exact_value(Tables *t, PyObject *v, PyObject *spec)
{
    if (!PyTuple_CheckExact(spec) || PyTuple_GET_SIZE(spec) < 1) {
        PyErr_SetString(PyExc_TypeError, "not an exact spec");
        return -1;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(spec);
    long code = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (code == -1 && PyErr_Occurred())
        return -1;
    switch (code) {
    case X_STR:
        return PyUnicode_CheckExact(v) ? w_str(t, v) : inexact(v);
    case X_SCALAR:
        if (size != 2)
            break;
        return (PyObject *)Py_TYPE(v) == PyTuple_GET_ITEM(spec, 1) ? plain_value(t, v) : inexact(v);
    case X_LITERAL: {
        if (size != 2 || !PyFrozenSet_CheckExact(PyTuple_GET_ITEM(spec, 1)))
            break;
        if (!PyUnicode_CheckExact(v))
            return inexact(v);
        int in = PySet_Contains(PyTuple_GET_ITEM(spec, 1), v);
        return in < 0 ? -1 : in ? w_str(t, v) : inexact(v);
    }
    case X_LIST:
        if (size != 2)
            break;
        return PyList_CheckExact(v) ? w_list(t, v, exact_item, PyTuple_GET_ITEM(spec, 1)) : inexact(v);
    case X_DICT: {
        if (size != 2)
            break;
        if (!PyDict_CheckExact(v))
            return inexact(v);
        if (Py_EnterRecursiveCall(" while encoding a stored value"))
            return -1;
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        int rc = w_byte(t, M_DICT);
        while (rc == 0 && PyDict_Next(v, &pos, &k, &x)) {
            Py_INCREF(k);
            Py_INCREF(x);
            rc = (PyUnicode_CheckExact(k) ? w_str(t, k) : inexact(k)) < 0
                 || exact_value(t, x, PyTuple_GET_ITEM(spec, 1)) < 0 ? -1 : 0;
            Py_DECREF(k);
            Py_DECREF(x);
        }
        if (rc == 0)
            rc = w_byte(t, M_NULL);
        Py_LeaveRecursiveCall();
        return rc;
    }
    case X_UNION: {
        if (size != 4 || !PyTuple_CheckExact(PyTuple_GET_ITEM(spec, 2)))
            break;
        int nullable = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 1));
        if (nullable < 0)
            return -1;
        if (v == Py_None && nullable)
            return w_byte(t, M_NONE);
        PyObject *scalars = PyTuple_GET_ITEM(spec, 2), *other = PyTuple_GET_ITEM(spec, 3);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(scalars); i++)
            if ((PyObject *)Py_TYPE(v) == PyTuple_GET_ITEM(scalars, i))
                return PyUnicode_CheckExact(v) ? w_str(t, v) : plain_value(t, v);
        return other == Py_None ? inexact(v) : exact_value(t, v, other);
    }
    default:
        break;
    }
    PyErr_SetString(PyExc_TypeError, "not an exact spec");
    return -1;
}

/* An evidence of an exact plan: an Evidence (exactly ``cls``), by its index in the table. */
static int
exact_evidence(Tables *t, PyObject *e, PyObject *cls)
{
    return (PyObject *)Py_TYPE(e) == cls ? evidence_index(t, e, NULL) : inexact(e);
}

/* A field an exact codec carries as its JSON: ``serializer(v)``, a plain dict's empty one
 * without the call (as the generated encoder does); written as marshal writes bytes. */
static int
json_field(Tables *t, PyObject *v, PyObject *spec)
{
    if (!PyTuple_CheckExact(spec) || PyTuple_GET_SIZE(spec) != 2) {
        PyErr_SetString(PyExc_TypeError, "not an exact spec");
        return -1;
    }
    int holds_dict = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 1));
    if (holds_dict < 0)
        return -1;
    PyObject *b = holds_dict && PyDict_CheckExact(v) && PyDict_GET_SIZE(v) == 0
                  ? PyBytes_FromStringAndSize("{}", 2) : PyObject_CallOneArg(PyTuple_GET_ITEM(spec, 0), v);
    if (b == NULL)
        return -1;
    int rc = w_marshal(t, b);
    Py_DECREF(b);
    return rc;
}

static int
check_enc_plan(PyObject *plan)
{
    if (!PyTuple_Check(plan) || (PyTuple_GET_SIZE(plan) != 6 && PyTuple_GET_SIZE(plan) != 7)
        || !PyType_Check(PyTuple_GET_ITEM(plan, 0))
        || !PyTuple_Check(PyTuple_GET_ITEM(plan, 1)) || !PyBytes_Check(PyTuple_GET_ITEM(plan, 2))
        || !PyTuple_Check(PyTuple_GET_ITEM(plan, 3)) || !PyBytes_Check(PyTuple_GET_ITEM(plan, 4))
        || !PyLong_Check(PyTuple_GET_ITEM(plan, 5)))
        goto bad;
    Py_ssize_t n = PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 1));
    if (PyBytes_GET_SIZE(PyTuple_GET_ITEM(plan, 2)) != n || PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 3)) != n
        || PyBytes_GET_SIZE(PyTuple_GET_ITEM(plan, 4)) != n)
        goto bad;
    if (PyTuple_GET_SIZE(plan) == 7
        && (!PyTuple_Check(PyTuple_GET_ITEM(plan, 6)) || PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 6)) != n))
        goto bad;
    Py_ssize_t pair = PyLong_AsSsize_t(PyTuple_GET_ITEM(plan, 5));
    if (pair < -1 || pair >= n)
        goto bad;
    return 0;
bad:
    PyErr_Clear();
    PyErr_SetString(PyExc_TypeError, "not an encoding plan");
    return -1;
}

static int ahead_owns(Ahead *a, PyObject *v);
static int ahead_list(Tables *t, PyObject *v, PyObject *plan, int stepped);

/* The stored form of field ``i`` of ``plan`` (of kind ``kind``) holding ``v``. */
static int
field_item(PyObject *plan, Py_ssize_t i, char kind, PyObject *v, Tables *t, int stepped)
{
    PyObject *sub = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i);
    if (PyTuple_GET_SIZE(plan) == 7) { /* exact: store._exact_expr's checks and _each's */
        PyObject *spec = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 6), i);
        switch (kind) {
        case K_VALUE:
            return exact_value(t, v, spec);
        case K_JSON:
            return json_field(t, v, spec);
        case K_EV:
            return exact_evidence(t, v, spec);
        case K_EVS:
            return PyList_CheckExact(v) ? w_list(t, v, exact_evidence, spec) : inexact(v);
        case K_MODEL:
            return encode_model(sub, v, t, 0);
        case K_OPT_MODEL:
            return v == Py_None ? w_byte(t, M_NONE) : encode_model(sub, v, t, 0);
        case K_MODELS:
            return PyList_CheckExact(v) ? w_list(t, v, sub_model, sub) : inexact(v);
        default:
            PyErr_SetString(PyExc_TypeError, "not an encoding plan");
            return -1;
        }
    }
    switch (kind) {
    case K_VALUE:
        if (t->see != NULL && PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 4))[i] == S_SEEN)
            return seen_value(t, v, PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 1), i));
        return plain_value(t, v);
    case K_EV:
        return evidence_index(t, v, NULL);
    case K_EVS:
        return w_any(t, v, evidence_index, NULL);
    case K_MODEL:
        return encode_model(sub, v, t, 0);
    case K_OPT_MODEL:
        return v == Py_None ? w_byte(t, M_NONE) : encode_model(sub, v, t, 0);
    case K_MODELS:
        if (t->ahead != NULL && ahead_owns(t->ahead, v))
            return ahead_list(t, v, sub, stepped);
        if (stepped && PyList_CheckExact(v))
            return in_steps(t, v, sub);
        return w_any(t, v, sub_model, sub);
    default:
        PyErr_SetString(PyExc_TypeError, "not an encoding plan");
        return -1;
    }
}

#define FEW_FIELDS 32

/* The stored tuple of the model ``obj`` of ``plan``, written; ``stepped``: its lists of
 * models call ``step`` (the root of a seeing dump). */
static int
encode_model(PyObject *plan, PyObject *obj, Tables *t, int stepped)
{
    if (check_enc_plan(plan) < 0)
        return -1;
    PyObject *keys = PyTuple_GET_ITEM(plan, 1);
    const char *kinds = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 2));
    const char *shown = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 4));
    Py_ssize_t n = PyTuple_GET_SIZE(keys), i, got = 0;
    PyObject *few[FEW_FIELDS], **values = few, *d = NULL;
    int rc = -1;
    /* Exact: a model of exactly the plan's class, checked before anything is read. */
    if (PyTuple_GET_SIZE(plan) == 7 && (PyObject *)Py_TYPE(obj) != PyTuple_GET_ITEM(plan, 0))
        return inexact(obj);
    if (Py_EnterRecursiveCall(" while encoding a stored model"))
        return -1;
    /* A model of another class than its field's may hold more than this encodes: shown whole. */
    if (t->see != NULL && (PyObject *)Py_TYPE(obj) != PyTuple_GET_ITEM(plan, 0) && show(t, obj, Py_None) < 0)
        goto done;
    if (n > FEW_FIELDS && (values = PyMem_New(PyObject *, n)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* ``obj.__dict__``: a model of the plan's class has the standard one, read without the
     * attribute lookup (which goes through pydantic's __getattr__ hook). */
    PyObject **slot = (PyObject *)Py_TYPE(obj) == PyTuple_GET_ITEM(plan, 0) ? _PyObject_GetDictPtr(obj) : NULL;
    if (slot != NULL && *slot != NULL)
        d = Py_NewRef(*slot);
    else if ((d = PyObject_GetAttr(obj, dict_name)) == NULL)
        goto done;
    /* A model's dict holds its fields in their declared order, under the field names
     * themselves (interned): read in one pass, each key checked, else one lookup per field. */
    if (PyDict_CheckExact(d) && PyDict_GET_SIZE(d) == n) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (got < n && PyDict_Next(d, &pos, &key, &value) && key == PyTuple_GET_ITEM(keys, got))
            values[got++] = Py_NewRef(value);
    }
    for (; got < n; got++) {
        PyObject *key = PyTuple_GET_ITEM(keys, got);
        if (PyDict_CheckExact(d)) {
            values[got] = Py_XNewRef(PyDict_GetItemWithError(d, key));
            if (values[got] == NULL && !PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, key);
        }
        else
            values[got] = PyObject_GetItem(d, key);
        if (values[got] == NULL)
            goto done;
    }
    if (t->see != NULL) {
        Py_ssize_t pair = PyLong_AsSsize_t(PyTuple_GET_ITEM(plan, 5));
        for (i = 0; i < n; i++) {
            if (kinds[i] != K_VALUE)
                continue;
            if (shown[i] == S_KEYED && show(t, values[i], PyTuple_GET_ITEM(keys, i)) < 0)
                goto done;
            if (shown[i] == S_PAIR) {
                PyObject *name = pair >= 0 && PyUnicode_CheckExact(values[pair]) ? values[pair] : value_name;
                if (show(t, values[i], name) < 0)
                    goto done;
            }
        }
    }
    if (n < 256) {
        char *p = room(t, 2);
        if (p == NULL)
            goto done;
        p[0] = M_SMALL_TUPLE;
        p[1] = (char)n;
    }
    else if (w_code32(t, M_TUPLE, n) < 0)
        goto done;
    for (i = 0; i < n; i++)
        if (field_item(plan, i, kinds[i], values[i], t, stepped) < 0)
            goto done;
    rc = 0;
done:
    for (i = 0; i < got; i++)
        Py_DECREF(values[i]);
    if (values != few)
        PyMem_Free(values);
    Py_XDECREF(d);
    Py_LeaveRecursiveCall();
    return rc;
}

/* The evidence table, as ``[(sd(path, path), line) for path, line in evs]`` is written. */
static int
w_table(Tables *t)
{
    if (w_code32(t, M_LIST, PyDict_GET_SIZE(t->evs)) < 0)
        return -1;
    Py_ssize_t pos = 0;
    PyObject *key, *index;
    while (PyDict_Next(t->evs, &pos, &key, &index)) {
        if (!PyTuple_CheckExact(key) || PyTuple_GET_SIZE(key) != 2) {
            PyErr_SetString(PyExc_TypeError, "not an evidence table");
            return -1;
        }
        PyObject *path = PyTuple_GET_ITEM(key, 0), *line = PyTuple_GET_ITEM(key, 1);
        if (t->exact) { /* a path and a line of 1 or more, as validation would give them */
            if (!PyUnicode_CheckExact(path))
                return inexact(path);
            if (!PyLong_CheckExact(line))
                return inexact(line);
            long x = PyLong_AsLong(line);
            if (x == -1 && PyErr_Occurred())
                return -1;
            if (x < 1)
                return inexact(line);
        }
        char *p = room(t, 2);
        if (p == NULL)
            return -1;
        p[0] = M_SMALL_TUPLE;
        p[1] = 2;
        if ((PyUnicode_CheckExact(path) ? w_str(t, path) : w_marshal(t, path)) < 0
            || (PyLong_CheckExact(line) ? w_int(t, line) : w_marshal(t, line)) < 0)
            return -1;
    }
    return 0;
}

/* -- encoding ahead: a list's models encoded on a second thread meanwhile ---------------
 *
 * The inventory's stored form is written on the cold scan's serial tail, with the other core
 * idle: ~0.3 s at 2,000 services, three fifths of it the ~56,000 actions. ``encode_ahead``
 * hands the longest list of the root model (the actions) to a second thread that encodes it
 * chunk by chunk, from its end back, while this thread writes everything before it and then
 * the list's chunks from the front; where the two meet, the thread's chunks are put in place.
 *
 * The payload is byte for byte what ``encode`` writes. The thread cannot use the payload's
 * string and evidence tables (this thread's, growing meanwhile), so it numbers the strings and
 * evidence it meets itself, by identity, and notes in each chunk where a string is written
 * whole (DEF: the first time the thread meets it), where one it wrote in another chunk is
 * first met in this one (FWD: that chunk comes later in the payload), where a ref and an
 * evidence index are, and what a seeing dump would show ``see`` (its fixes). Putting a chunk
 * in place walks those in order: a string the payload has already (the same object, or an
 * equal one) becomes a ref to it, any other is put in the string table as ``w_str`` puts it
 * (written whole: a DEF's bytes, or a FWD's string), refs and evidence indices get the
 * payload's numbers: the same bytes and tables, in the same order, as writing those models
 * here. The thread also works out each string's text_hash, so that finding it in the table
 * here reads no more than the table's slot. ``see`` is shown what it would be as the chunk is
 * put in place; when it answers something true for a value (which ``encode`` would store in
 * its place), ``encode_ahead`` answers None, and the caller encodes without the thread.
 *
 * The thread holds no GIL and calls nothing that needs it: it reads the list (held), its
 * models, their dicts, strings, numbers, lists and dicts, and changes nothing of them, not
 * even a reference count; its memory is the raw allocator's. This thread only reads the
 * inventory meanwhile too: ``see`` and ``step`` must not change it (the caller asks for the
 * thread only with a ``see`` that says so). Whatever the thread is not sure of (a model of
 * another class than its plan's, a dict not made yet, a dict whose keys are not the plan's in
 * order, a value of another type than str, None, bool, a small int, a float, a list or a
 * dict) makes it leave the chunk, which this thread then writes itself.
 */
#ifdef AHEAD_THREADS
enum { FIX_DEF, FIX_FWD, FIX_EV, FIX_SHOW, FIX_SEEN };
enum { CH_TODO, CH_MAIN, CH_DONE, CH_LEFT };

/* What putting a chunk in place changes or does, at a place in its bytes (a ref's place
 * only is noted apart: most fixes are refs). */
typedef struct {
    uint32_t pos;  /* where in the chunk's bytes */
    uint32_t what; /* FIX_* in the low 3 bits; above, DEF: its record's length, FWD: the string's
                    * number, EV: the evidence's number */
    PyObject *obj; /* DEF, FWD: the str; EV: the Evidence; SHOW, SEEN: the value shown */
    union {
        PyObject *key; /* SHOW, SEEN: the key it is shown under */
        uint64_t hash; /* DEF, FWD: text_hash of the str */
    } u;
} Fix;

#define FIX_KIND(x) ((int)((x)->what & 7))
#define FIX_N(x) ((Py_ssize_t)((x)->what >> 3))
#define AHEAD_MAX_CHUNK ((Py_ssize_t)1 << 28) /* a chunk's bytes, and its indices, fit a fix */

/* A plan, read once with the GIL into what the thread reads (see check_enc_plan). */
typedef struct HPlan {
    PyTypeObject *cls;
    Py_ssize_t n, pair;
    PyObject **keys;
    const char *kinds, *shown;
    struct HPlan **subs;
} HPlan;

typedef struct {
    Py_ssize_t start, stop; /* the list's models [start, stop) */
    char *buf;
    Py_ssize_t len, cap;
    Fix *fix;
    Py_ssize_t nfix, capfix;
    uint32_t *refs; /* the places of its refs (to strings by their numbers) */
    Py_ssize_t nrefs, caprefs;
    Py_ssize_t first; /* the number of its first string written whole (DEF): the rest follow */
    int state;              /* CH_*; the thread's fields are its own until it is CH_DONE */
} Chunk;

/* An identity table of the raw allocator (its slots of another epoch are empty). */
typedef struct {
    PyObject *key;
    Py_ssize_t value;
    uint32_t epoch;
    uint32_t chunk; /* strings: the chunk last written a DEF or FWD of it */
} RSlot;

typedef struct {
    RSlot *slots;
    size_t mask;
    Py_ssize_t used;
    uint32_t epoch;
} RTable;

struct Ahead {
    PyObject *list; /* held */
    HPlan *plan;
    int seeing;
    Py_ssize_t n_chunks;
    Chunk *chunks;
    Py_ssize_t lo, hi; /* this thread takes chunk lo next; the other one hi - 1 */
    int stop, running;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    RTable strs, evs; /* the other thread's: what it numbered */
    Py_ssize_t nstrs, nevs;
    int depth;
    Py_ssize_t *strs_at, *evs_at; /* this thread's: each number's ref, and evidence index (-1: not yet) */
};

static void
hplan_free(HPlan *p)
{
    if (p == NULL)
        return;
    for (Py_ssize_t i = 0; p->subs != NULL && i < p->n; i++)
        hplan_free(p->subs[i]);
    PyMem_RawFree(p->subs);
    PyMem_RawFree(p);
}

/* ``plan`` as the thread reads it, NULL (no exception) when it holds what the thread leaves. */
static HPlan *
hplan_of(PyObject *plan, int depth)
{
    if (depth > 8 || check_enc_plan(plan) < 0 || PyTuple_GET_SIZE(plan) != 6) {
        PyErr_Clear();
        return NULL;
    }
    HPlan *p = PyMem_RawCalloc(1, sizeof(HPlan));
    if (p == NULL)
        return NULL;
    PyObject *keys = PyTuple_GET_ITEM(plan, 1);
    p->cls = (PyTypeObject *)PyTuple_GET_ITEM(plan, 0);
    p->n = PyTuple_GET_SIZE(keys);
    p->keys = &PyTuple_GET_ITEM(keys, 0);
    p->kinds = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 2));
    p->shown = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 4));
    p->pair = PyLong_AsSsize_t(PyTuple_GET_ITEM(plan, 5));
    p->subs = PyMem_RawCalloc((size_t)(p->n ? p->n : 1), sizeof(HPlan *));
    if (p->subs == NULL || p->n > FEW_FIELDS) {
        hplan_free(p);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < p->n; i++) {
        char kind = p->kinds[i];
        if (!PyUnicode_CheckExact(p->keys[i]) || kind == K_JSON || kind < K_VALUE || kind > K_MODELS) {
            hplan_free(p);
            return NULL;
        }
        if (kind == K_MODEL || kind == K_OPT_MODEL || kind == K_MODELS) {
            p->subs[i] = hplan_of(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), depth + 1);
            if (p->subs[i] == NULL) {
                hplan_free(p);
                return NULL;
            }
        }
    }
    return p;
}

/* The slot of ``key`` in ``m``: its own, or the empty one it would go in. */
static RSlot *
r_slot(RTable *m, PyObject *key)
{
    for (size_t i = seen_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        RSlot *s = &m->slots[i];
        if (s->epoch != m->epoch || s->key == key)
            return s;
    }
}

/* The slot of ``key`` in ``m``, put there (``*fresh`` set) when it was not; NULL when out of memory. */
static RSlot *
r_slot_for(RTable *m, PyObject *key, int *fresh)
{
    if ((size_t)(m->used + 1) * 2 > m->mask + 1) {
        size_t cap = m->mask ? (m->mask + 1) * 2 : 4096;
        RSlot *slots = zeroed(cap * sizeof(RSlot), 1), *old = m->slots;
        if (slots == NULL)
            return NULL;
        size_t old_cap = m->mask ? m->mask + 1 : 0;
        m->slots = slots;
        m->mask = cap - 1;
        for (size_t j = 0; j < old_cap; j++)
            if (old[j].epoch == m->epoch && old[j].key != NULL)
                *r_slot(m, old[j].key) = old[j];
        PyMem_RawFree(old);
    }
    RSlot *x = r_slot(m, key);
    *fresh = !(x->epoch == m->epoch && x->key == key);
    if (*fresh) {
        x->key = key;
        x->epoch = m->epoch;
        m->used++;
    }
    return x;
}

static char *
h_room(Chunk *c, Py_ssize_t more)
{
    if (c->len + more > c->cap) {
        Py_ssize_t cap = c->cap ? c->cap : 1 << 16;
        while (cap < c->len + more)
            cap *= 2;
        char *buf = PyMem_RawRealloc(c->buf, (size_t)cap);
        if (buf == NULL)
            return NULL;
        c->buf = buf;
        c->cap = cap;
    }
    char *p = c->buf + c->len;
    c->len += more;
    return p;
}

static int
h_code32(Chunk *c, int code, Py_ssize_t n)
{
    char *p;
    if (n > INT32_MAX || (p = h_room(c, 5)) == NULL)
        return -1;
    p[0] = (char)code;
    put32(p + 1, n);
    return 0;
}

static int
h_byte(Chunk *c, int code)
{
    char *p = h_room(c, 1);
    if (p == NULL)
        return -1;
    *p = (char)code;
    return 0;
}

static Fix *
h_fix(Chunk *c, Py_ssize_t pos, int kind, Py_ssize_t n, PyObject *obj)
{
    if (pos >= AHEAD_MAX_CHUNK || n >= AHEAD_MAX_CHUNK)
        return NULL;
    if (c->nfix == c->capfix) {
        Py_ssize_t cap = c->capfix ? c->capfix * 2 : 1024;
        Fix *fix = PyMem_RawRealloc(c->fix, (size_t)cap * sizeof(Fix));
        if (fix == NULL)
            return NULL;
        c->fix = fix;
        c->capfix = cap;
    }
    Fix *x = &c->fix[c->nfix++];
    x->pos = (uint32_t)pos;
    x->what = (uint32_t)(n << 3 | kind);
    x->obj = obj;
    x->u.key = NULL;
    return x;
}

/* Shown as the chunk is put in place: ``see(v, key)`` (SHOW), or seen_or_value's (SEEN). */
static int
h_show(Chunk *c, int kind, PyObject *v, PyObject *key)
{
    Fix *x = h_fix(c, c->len, kind, 0, v);
    if (x == NULL)
        return -1;
    x->u.key = key;
    return 0;
}

/* A ref to the chunk's string numbered ``known``. */
static int
h_ref(Chunk *c, Py_ssize_t known)
{
    if (c->len >= AHEAD_MAX_CHUNK)
        return -1;
    if (c->nrefs == c->caprefs) {
        Py_ssize_t cap = c->caprefs ? c->caprefs * 2 : 4096;
        uint32_t *refs = PyMem_RawRealloc(c->refs, (size_t)cap * sizeof(uint32_t));
        if (refs == NULL)
            return -1;
        c->refs = refs;
        c->caprefs = cap;
    }
    c->refs[c->nrefs++] = (uint32_t)c->len;
    return h_code32(c, M_REF, known);
}

/* A str, numbered by the thread the first time it meets it. Written whole (DEF, flagged as the
 * next ref) then; a ref after that in the same chunk; a FWD in an earlier one (earlier in the
 * payload: the thread goes from the list's end back), where putting it in place writes it
 * whole or as a ref, whichever comes first in the payload. */
static int
h_str(Ahead *a, Chunk *c, PyObject *s)
{
    if (!PyUnicode_CheckExact(s) || !PyUnicode_IS_READY(s))
        return -1;
    int fresh;
    RSlot *slot = r_slot_for(&a->strs, s, &fresh);
    if (slot == NULL)
        return -1;
    uint32_t k = (uint32_t)(c - a->chunks);
    Py_ssize_t at = c->len;
    if (!fresh && slot->chunk == k)
        return h_ref(c, slot->value);
    if (!fresh) {
        slot->chunk = k;
        Fix *x = h_fix(c, at, FIX_FWD, slot->value, s);
        if (x == NULL)
            return -1;
        x->u.hash = text_hash(s);
        return h_code32(c, M_REF, slot->value);
    }
    slot->value = a->nstrs++;
    slot->chunk = k;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    char *p;
    if (PyUnicode_IS_ASCII(s)) {
        if (n < 256) {
            if ((p = h_room(c, 2 + n)) == NULL)
                return -1;
            p[0] = (char)(M_SHORT_ASCII | M_FLAG_REF);
            p[1] = (char)n;
            p += 2;
        }
        else if (h_code32(c, M_ASCII | M_FLAG_REF, n) < 0 || (p = h_room(c, n)) == NULL)
            return -1;
        memcpy(p, PyUnicode_DATA(s), (size_t)n);
    }
    else {
        Py_ssize_t size = utf8_size(s); /* as marshal writes it (see w_str) */
        if (h_code32(c, M_UNICODE | M_FLAG_REF, size) < 0 || (p = h_room(c, size)) == NULL)
            return -1;
        utf8_put(s, p);
    }
    Fix *x = h_fix(c, at, FIX_DEF, c->len - at, s);
    if (x == NULL)
        return -1;
    x->u.hash = text_hash(s);
    return 0;
}

/* An int of 32 bits (w_int's TYPE_INT), read from its digits; -1 for a larger one. */
static int
h_int(Chunk *c, PyObject *v)
{
    Py_ssize_t size = Py_SIZE(v), n = size < 0 ? -size : size;
    if (n > 2)
        return -1;
    const digit *d = ((PyLongObject *)v)->ob_digit;
    int64_t x = n == 0 ? 0 : (int64_t)d[0] | (n == 2 ? (int64_t)d[1] << PyLong_SHIFT : 0);
    if (size < 0)
        x = -x;
    if (x < INT32_MIN || x > INT32_MAX)
        return -1;
    return h_code32(c, M_INT, (Py_ssize_t)x);
}

static int h_list_of(Ahead *a, Chunk *c, PyObject *v, int (*f)(Ahead *, Chunk *, PyObject *, PyObject *), PyObject *arg);

/* plain_value's bytes. */
static int
h_plain(Ahead *a, Chunk *c, PyObject *v)
{
    if (PyUnicode_CheckExact(v))
        return h_str(a, c, v);
    if (v == Py_None)
        return h_byte(c, M_NONE);
    if (PyBool_Check(v))
        return h_byte(c, v == Py_True ? M_TRUE : M_FALSE);
    if (PyLong_CheckExact(v))
        return h_int(c, v);
    if (PyFloat_CheckExact(v)) {
        char *p = h_room(c, 9);
        if (p == NULL)
            return -1;
        p[0] = M_FLOAT;
        return PyFloat_Pack8(PyFloat_AS_DOUBLE(v), p + 1, 1);
    }
    if (a->depth > 100)
        return -1;
    a->depth++;
    int rc = 0;
    if (PyList_CheckExact(v))
        rc = h_list_of(a, c, v, NULL, NULL);
    else if (PyDict_CheckExact(v)) {
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        rc = h_byte(c, M_DICT);
        while (rc == 0 && PyDict_Next(v, &pos, &k, &x))
            rc = h_plain(a, c, k) < 0 || h_plain(a, c, x) < 0 ? -1 : 0;
        if (rc == 0)
            rc = h_byte(c, M_NULL);
    }
    else
        rc = -1;
    a->depth--;
    return rc;
}

/* ``see(v, key) or value(v)`` (seen_or_value): shown as the chunk is put in place. */
static int
h_seen_or_value(Ahead *a, Chunk *c, PyObject *v, PyObject *key)
{
    return h_show(c, FIX_SEEN, v, key) < 0 ? -1 : h_plain(a, c, v);
}

static int
h_seen_item(Ahead *a, Chunk *c, PyObject *x, PyObject *key)
{
    return PyUnicode_CheckExact(x) ? h_str(a, c, x) : h_seen_or_value(a, c, x, key);
}

/* seen_value's bytes. */
static int
h_seen_value(Ahead *a, Chunk *c, PyObject *v, PyObject *key)
{
    if (PyUnicode_CheckExact(v))
        return h_str(a, c, v);
    if (v == Py_None)
        return h_byte(c, M_NONE);
    if (PyList_CheckExact(v))
        return h_list_of(a, c, v, h_seen_item, key);
    if (PyDict_CheckExact(v)) {
        if (PyDict_GET_SIZE(v))
            return h_seen_or_value(a, c, v, key);
        return h_byte(c, M_DICT) < 0 ? -1 : h_byte(c, M_NULL);
    }
    if (PyLong_CheckExact(v) || PyBool_Check(v) || PyFloat_CheckExact(v))
        return h_plain(a, c, v);
    return h_seen_or_value(a, c, v, key);
}

/* An evidence index (evidence_index): the chunk's own, numbered again as it is put in place. */
static int
h_ev(Ahead *a, Chunk *c, PyObject *e, PyObject *Py_UNUSED(arg))
{
    int fresh;
    RSlot *slot = r_slot_for(&a->evs, e, &fresh);
    if (slot == NULL)
        return -1;
    if (fresh)
        slot->value = a->nevs++;
    return h_fix(c, c->len, FIX_EV, slot->value, e) == NULL ? -1 : h_code32(c, M_INT, slot->value);
}

static int h_model(Ahead *a, Chunk *c, HPlan *p, PyObject *obj);

static int
h_model_item(Ahead *a, Chunk *c, PyObject *x, PyObject *plan)
{
    return h_model(a, c, (HPlan *)plan, x);
}

static int
h_plain_item(Ahead *a, Chunk *c, PyObject *x, PyObject *Py_UNUSED(arg))
{
    return h_plain(a, c, x);
}

/* A list (exactly) of items written by ``f`` (plain values when NULL), its count first. */
static int
h_list_of(Ahead *a, Chunk *c, PyObject *v, int (*f)(Ahead *, Chunk *, PyObject *, PyObject *), PyObject *arg)
{
    if (!PyList_CheckExact(v))
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(v);
    if (h_code32(c, M_LIST, n) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if ((f != NULL ? f(a, c, PyList_GET_ITEM(v, i), arg) : h_plain_item(a, c, PyList_GET_ITEM(v, i), NULL)) < 0)
            return -1;
    return 0;
}

/* A model's __dict__ as the thread may read it (field_length's), else NULL. */
static PyObject *
h_dict(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *d;
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        if (*(((void **)obj) - 4) != NULL) /* its values not in a dict yet */
            return NULL;
        d = *(((PyObject **)obj) - 3);
    }
    else if (tp->tp_dictoffset > 0)
        d = *(PyObject **)((char *)obj + tp->tp_dictoffset);
    else
        return NULL;
    return d != NULL && PyDict_CheckExact(d) ? d : NULL;
}

/* encode_model's bytes, for a model whose dict holds exactly its plan's fields, in order. */
static int
h_model(Ahead *a, Chunk *c, HPlan *p, PyObject *obj)
{
    PyObject *values[FEW_FIELDS], *d, *k, *v;
    Py_ssize_t pos = 0, got = 0;
    if (Py_TYPE(obj) != p->cls || (d = h_dict(obj)) == NULL || PyDict_GET_SIZE(d) != p->n || a->depth > 100)
        return -1;
    while (got < p->n && PyDict_Next(d, &pos, &k, &v) && k == p->keys[got])
        values[got++] = v;
    if (got != p->n)
        return -1;
    if (a->seeing)
        for (Py_ssize_t i = 0; i < p->n; i++) {
            if (p->kinds[i] != K_VALUE)
                continue;
            if (p->shown[i] == S_KEYED && h_show(c, FIX_SHOW, values[i], p->keys[i]) < 0)
                return -1;
            if (p->shown[i] == S_PAIR) {
                PyObject *name = p->pair >= 0 && PyUnicode_CheckExact(values[p->pair]) ? values[p->pair] : value_name;
                if (h_show(c, FIX_SHOW, values[i], name) < 0)
                    return -1;
            }
        }
    char *h = h_room(c, 2);
    if (h == NULL)
        return -1;
    h[0] = M_SMALL_TUPLE;
    h[1] = (char)p->n;
    a->depth++;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < p->n; i++) {
        v = values[i];
        switch (p->kinds[i]) {
        case K_VALUE:
            rc = a->seeing && p->shown[i] == S_SEEN ? h_seen_value(a, c, v, p->keys[i]) : h_plain(a, c, v);
            break;
        case K_EV:
            rc = h_ev(a, c, v, NULL);
            break;
        case K_EVS:
            rc = h_list_of(a, c, v, h_ev, NULL);
            break;
        case K_MODEL:
            rc = h_model(a, c, p->subs[i], v);
            break;
        case K_OPT_MODEL:
            rc = v == Py_None ? h_byte(c, M_NONE) : h_model(a, c, p->subs[i], v);
            break;
        case K_MODELS:
            rc = h_list_of(a, c, v, h_model_item, (PyObject *)p->subs[i]);
            break;
        default:
            rc = -1;
        }
    }
    a->depth--;
    return rc;
}

/* prefetch_ahead's, reading dicts as the thread may. */
static void
h_prefetch(PyObject *items, Py_ssize_t i, Py_ssize_t n)
{
    PyObject *d, *k, *v;
    Py_ssize_t pos = 0;
    if (i + 8 < n)
        __builtin_prefetch(PyList_GET_ITEM(items, i + 8));
    if (i + 5 < n && (d = h_dict(PyList_GET_ITEM(items, i + 5))) != NULL)
        __builtin_prefetch(((PyDictObject *)d)->ma_keys);
    if (i + 3 < n && (d = h_dict(PyList_GET_ITEM(items, i + 3))) != NULL)
        while (PyDict_Next(d, &pos, &k, &v))
            __builtin_prefetch(v);
}

/* One chunk, on the thread: 0 when written, -1 when it is left to the caller's thread. */
static int
h_chunk(Ahead *a, Chunk *c)
{
    c->first = a->nstrs;
    a->depth = 0;
    Py_ssize_t n = PyList_GET_SIZE(a->list);
    for (Py_ssize_t i = c->start; i < c->stop; i++) {
        if (a->stop)
            return -1;
        h_prefetch(a->list, i, n);
        if (h_model(a, c, a->plan, PyList_GET_ITEM(a->list, i)) < 0)
            return -1;
    }
    return 0;
}

static void *
ahead_encode_main(void *arg)
{
    Ahead *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        if (a->stop || a->hi <= a->lo) {
            pthread_mutex_unlock(&a->mu);
            return NULL;
        }
        Chunk *c = &a->chunks[--a->hi];
        pthread_mutex_unlock(&a->mu);
        int rc = h_chunk(a, c);
        pthread_mutex_lock(&a->mu);
        c->state = rc == 0 ? CH_DONE : CH_LEFT;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->mu);
    }
}

static int
ahead_owns(Ahead *a, PyObject *v)
{
    return v == a->list;
}

/* Stop the thread, wait for it, and let go of everything. */
static void
ahead_job_free(Ahead *a)
{
    if (a == NULL)
        return;
    if (a->running) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_mutex_unlock(&a->mu);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(a->thread, NULL);
        Py_END_ALLOW_THREADS
        a->running = 0;
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cond);
    for (Py_ssize_t i = 0; a->chunks != NULL && i < a->n_chunks; i++) {
        PyMem_RawFree(a->chunks[i].buf);
        PyMem_RawFree(a->chunks[i].fix);
        PyMem_RawFree(a->chunks[i].refs);
    }
    PyMem_RawFree(a->chunks);
    PyMem_RawFree(a->strs.slots);
    PyMem_RawFree(a->evs.slots);
    PyMem_Free(a->strs_at);
    PyMem_Free(a->evs_at);
    hplan_free(a->plan);
    Py_XDECREF(a->list);
    PyMem_RawFree(a);
}

/* The thread started on the longest list of models of the root ``obj`` of ``plan`` (at least
 * two chunks of ``size`` models), or NULL when there is none to give it (no exception). */
static Ahead *
ahead_start(PyObject *plan, PyObject *obj, Py_ssize_t size, int seeing)
{
    if (size < 1 || check_enc_plan(plan) < 0 || PyTuple_GET_SIZE(plan) != 6 || Py_TYPE(obj) != (PyTypeObject *)PyTuple_GET_ITEM(plan, 0)) {
        PyErr_Clear();
        return NULL;
    }
    PyObject **slot = _PyObject_GetDictPtr(obj);
    PyObject *d = slot != NULL ? *slot : NULL, *keys = PyTuple_GET_ITEM(plan, 1), *list = NULL, *sub = NULL;
    const char *kinds = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 2));
    if (d == NULL || !PyDict_CheckExact(d)) {
        PyErr_Clear();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *v = kinds[i] == K_MODELS ? PyDict_GetItemWithError(d, PyTuple_GET_ITEM(keys, i)) : NULL;
        if (v != NULL && PyList_CheckExact(v) && (list == NULL || PyList_GET_SIZE(v) > PyList_GET_SIZE(list))) {
            list = v;
            sub = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i);
        }
    }
    PyErr_Clear();
    if (list == NULL || PyList_GET_SIZE(list) < 2 * size)
        return NULL;
    Ahead *a = PyMem_RawCalloc(1, sizeof(Ahead));
    if (a == NULL)
        return NULL;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        PyMem_RawFree(a);
        return NULL;
    }
    if (pthread_cond_init(&a->cond, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        PyMem_RawFree(a);
        return NULL;
    }
    a->list = Py_NewRef(list);
    a->seeing = seeing;
    a->plan = hplan_of(sub, 0);
    Py_ssize_t n = PyList_GET_SIZE(list);
    a->n_chunks = (n + size - 1) / size;
    a->chunks = PyMem_RawCalloc((size_t)a->n_chunks, sizeof(Chunk));
    a->strs.epoch = a->evs.epoch = 1;
    if (a->plan == NULL || a->chunks == NULL) {
        ahead_job_free(a);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < a->n_chunks; k++) {
        a->chunks[k].start = k * size;
        a->chunks[k].stop = k * size + size < n ? k * size + size : n;
    }
    a->hi = a->n_chunks;
    a->running = pthread_create(&a->thread, NULL, ahead_encode_main, a) == 0;
    if (!a->running) {
        ahead_job_free(a);
        return NULL;
    }
    return a;
}

/* The index ``evidence_index`` gives the evidence ``e`` in the payload's table (putting it
 * there when new), -1 with an exception set, -2 for an index not of this function's kind. */
static Py_ssize_t
ev_global(Tables *t, PyObject *e)
{
    Py_ssize_t known = seen_get(&t->seen_evs, e);
    if (known >= 0)
        return known;
    PyObject *path = PyObject_GetAttr(e, path_name), *line = path ? PyObject_GetAttr(e, line_name) : NULL;
    PyObject *key = line ? PyTuple_Pack(2, path, line) : NULL;
    Py_XDECREF(path);
    Py_XDECREF(line);
    if (key == NULL)
        return -1;
    PyObject *next = PyLong_FromSsize_t(PyDict_GET_SIZE(t->evs));
    PyObject *index = next ? PyDict_SetDefault(t->evs, key, next) : NULL; /* borrowed */
    Py_XDECREF(next);
    Py_DECREF(key);
    if (index == NULL)
        return -1;
    Py_ssize_t i = PyLong_CheckExact(index) ? PyLong_AsSsize_t(index) : -2;
    if (i == -1 && PyErr_Occurred())
        PyErr_Clear();
    if (i < 0 || i > INT32_MAX)
        return -2;
    return seen_put(&t->seen_evs, e, i) < 0 ? -1 : i;
}

/* The string ``s`` (of hash ``h``) put in the payload as ``w_str`` would: a ref when the
 * payload has an equal string already, else written whole (the ``n`` bytes the chunk wrote at
 * ``src``, or from ``s`` when ``src`` is NULL) as a new ref. Its ref, -1 on an error. (Not put
 * in the identity table: its object is read here only if met again, and would be written to
 * there, its reference count, from memory the other thread read.) */
static Py_ssize_t
splice_str(Tables *t, PyObject *s, uint64_t h, const char *src, Py_ssize_t n)
{
    Py_ssize_t known = seen_get(&t->seen_strings, s), index = PyList_GET_SIZE(t->strings);
    if (known < 0 && (known = texts_get_or_put(&t->texts, s, h, index)) == -2)
        return -1;
    if (known >= 0)
        return w_code32(t, M_REF, known) < 0 ? -1 : known;
    if (PyList_Append(t->strings, s) < 0)
        return -1;
    if (src == NULL)
        return w_def(t, s) < 0 ? -1 : index;
    char *p = room(t, n);
    if (p == NULL)
        return -1;
    memcpy(p, src, (size_t)n);
    return index;
}

#define AHEAD_ANSWERED 1 /* a deferred ``see`` answered true: the caller encodes without the thread */

/* -1, the dump stopped for AHEAD_ANSWERED (see py_encode_ahead). */
static int
answered(Tables *t)
{
    t->answered = 1;
    PyErr_SetString(PyExc_RuntimeError, "a value shown was answered: encoded again without the thread");
    return -1;
}

/* The chunk the thread wrote, put in place (see above): 0, AHEAD_ANSWERED, or -1 on an error. */
static int
splice_chunk(Tables *t, Ahead *a, Chunk *c)
{
    Py_ssize_t at = 0, f = 0, r = 0, def = c->first, *strs_at = a->strs_at, *evs_at = a->evs_at;
    int rc = 0;
    /* The fixes and the refs in the order of their places (a show, which takes no bytes, before
     * the ref of the value it is of). */
    while (rc == 0 && (f < c->nfix || r < c->nrefs)) {
        if (f + 8 < c->nfix) {
            /* What a fix further on reads from memory this thread has not seen: the tables'
             * slots it probes first, and its string (compared when an equal hash is met). */
            Fix *next = &c->fix[f + 8];
            int kind = FIX_KIND(next);
            if ((kind == FIX_DEF || kind == FIX_FWD) && t->texts.mask) {
                __builtin_prefetch(&t->texts.slots[(size_t)next->u.hash & t->texts.mask]);
                __builtin_prefetch(next->obj);
                if (t->seen_strings.mask)
                    __builtin_prefetch(&t->seen_strings.slots[seen_hash(next->obj) & t->seen_strings.mask]);
            }
            else if (kind == FIX_EV && t->seen_evs.mask)
                __builtin_prefetch(&t->seen_evs.slots[seen_hash(next->obj) & t->seen_evs.mask]);
        }
        Fix *x = f < c->nfix && (r == c->nrefs || c->fix[f].pos <= c->refs[r]) ? &c->fix[f++] : NULL;
        Py_ssize_t pos = x != NULL ? (Py_ssize_t)x->pos : (Py_ssize_t)c->refs[r];
        char *p;
        if (pos > at) {
            if ((p = room(t, pos - at)) == NULL) {
                rc = -1;
                break;
            }
            memcpy(p, c->buf + at, (size_t)(pos - at));
            at = pos;
        }
        if (x == NULL) { /* a ref: to the string of the number written there, put in place before */
            const unsigned char *q = (const unsigned char *)c->buf + pos + 1;
            Py_ssize_t own = (Py_ssize_t)((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24);
            if (own >= a->nstrs || strs_at[own] < 0) {
                PyErr_SetString(PyExc_SystemError, "encode_ahead: a ref ahead of its string");
                rc = -1;
                break;
            }
            rc = w_code32(t, M_REF, strs_at[own]);
            at += 5;
            r++;
            continue;
        }
        Py_ssize_t n = FIX_N(x), j;
        switch (FIX_KIND(x)) {
        case FIX_DEF: /* whole where the payload meets it first */
            j = def++;
            if (strs_at[j] >= 0)
                rc = w_code32(t, M_REF, strs_at[j]);
            else if ((strs_at[j] = splice_str(t, x->obj, x->u.hash, c->buf + pos, n)) < 0)
                rc = -1;
            at += n;
            break;
        case FIX_FWD: /* its first in this chunk, written whole in a later one */
            if (strs_at[n] >= 0)
                rc = w_code32(t, M_REF, strs_at[n]);
            else if ((strs_at[n] = splice_str(t, x->obj, x->u.hash, NULL, 0)) < 0)
                rc = -1;
            at += 5;
            break;
        case FIX_EV:
            if (evs_at[n] < 0 && (evs_at[n] = ev_global(t, x->obj)) < 0) {
                rc = evs_at[n] == -2 ? AHEAD_ANSWERED : -1; /* an odd table: encoded without the thread */
                break;
            }
            rc = w_code32(t, M_INT, evs_at[n]);
            at += 5;
            break;
        case FIX_SHOW:
            rc = show(t, x->obj, x->u.key);
            break;
        case FIX_SEEN:
            if (!shows_nothing(t, x->obj, x->u.key)) {
                PyObject *args[2] = {x->obj, x->u.key};
                PyObject *answer = PyObject_Vectorcall(t->see, args, 2, NULL);
                int truth = answer == NULL ? -1 : PyObject_IsTrue(answer);
                Py_XDECREF(answer);
                rc = truth < 0 ? -1 : truth > 0 ? AHEAD_ANSWERED : 0;
            }
            break;
        }
    }
    if (rc == 0 && at < c->len) {
        char *p = room(t, c->len - at);
        if (p == NULL)
            rc = -1;
        else
            memcpy(p, c->buf + at, (size_t)(c->len - at));
    }
    return rc;
}

/* ``v``'s models, this thread's chunks written here, the other's put in place: what w_list
 * (or in_steps, ``stepped``) writes. 0, AHEAD_ANSWERED, or -1 on an error. */
static int
ahead_list(Tables *t, PyObject *v, PyObject *plan, int stepped)
{
    Ahead *a = t->ahead;
    Py_ssize_t n = PyList_GET_SIZE(v), since = 0, at = w_count_later(t, M_LIST);
    int rc = at < 0 ? -1 : 0;
    t->ahead = NULL; /* only this list is the thread's */
    for (Py_ssize_t k = 0; rc == 0 && k < a->n_chunks; k++) {
        Chunk *c = &a->chunks[k];
        /* Taken here while the thread has not reached it; else the thread's, waited for
         * (with the GIL let go: the thread never takes the GIL, nor this the lock holding it). */
        pthread_mutex_lock(&a->mu);
        if (a->lo < a->hi && a->lo == k) {
            a->lo++;
            c->state = CH_MAIN;
        }
        int waiting = c->state == CH_TODO;
        pthread_mutex_unlock(&a->mu);
        if (waiting) {
            Py_BEGIN_ALLOW_THREADS
            pthread_mutex_lock(&a->mu);
            while (c->state == CH_TODO)
                pthread_cond_wait(&a->cond, &a->mu);
            pthread_mutex_unlock(&a->mu);
            Py_END_ALLOW_THREADS
        }
        if (c->state == CH_DONE && a->strs_at == NULL) {
            /* Every chunk of the thread's is written by now (it writes the first one last). */
            a->strs_at = PyMem_New(Py_ssize_t, a->nstrs + 1);
            a->evs_at = PyMem_New(Py_ssize_t, a->nevs + 1);
            if (a->strs_at == NULL || a->evs_at == NULL) {
                PyErr_NoMemory();
                rc = -1;
                break;
            }
            memset(a->strs_at, 0xff, sizeof(Py_ssize_t) * (size_t)(a->nstrs + 1));
            memset(a->evs_at, 0xff, sizeof(Py_ssize_t) * (size_t)(a->nevs + 1));
        }
        if (c->state == CH_DONE) {
            rc = splice_chunk(t, a, c);
            if (rc == AHEAD_ANSWERED)
                rc = answered(t);
        }
        else
            for (Py_ssize_t i = c->start; rc == 0 && i < c->stop; i++) {
                prefetch_ahead(v, i, n);
                PyObject *x = Py_NewRef(PyList_GET_ITEM(v, i));
                rc = encode_model(plan, x, t, 0);
                Py_DECREF(x);
            }
        PyMem_RawFree(c->buf);
        PyMem_RawFree(c->fix);
        PyMem_RawFree(c->refs);
        c->buf = NULL;
        c->fix = NULL;
        c->refs = NULL;
        since += c->stop - c->start;
        if (rc == 0 && stepped && (since >= t->every || k == a->n_chunks - 1)) {
            PyObject *r = PyObject_CallNoArgs(t->step);
            rc = r == NULL ? -1 : 0;
            Py_XDECREF(r);
            since = 0;
        }
    }
    if (rc == 0 && PyList_GET_SIZE(v) != n) {
        PyErr_SetString(PyExc_RuntimeError, "a list changed while it was encoded");
        rc = -1;
    }
    return rc == 0 ? w_count(t, at, n) : rc;
}
#else
static int
ahead_owns(Ahead *a, PyObject *v)
{
    return 0;
}

static int
ahead_list(Tables *t, PyObject *v, PyObject *plan, int stepped)
{
    return -1;
}
#endif


/* encode's body; ``ahead``: models per chunk of the list given to a second thread (0: none).
 * NULL with an exception, or (ahead) None when a shown value was answered (see above). */
static PyObject *
encode_payload(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t ahead)
{
    if (nargs != 5 && nargs != 8 && nargs != 9) {
        PyErr_SetString(PyExc_TypeError,
                        "encode(plan, obj, many, strings, evidence[, see, step, every[, known]]) takes 5, 8 or 9 arguments");
        return NULL;
    }
    Tables t = {NULL, 0, args[3], args[4], NULL, NULL, NULL, 0, {NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}, 0, NULL, 0};
    t.exact = PyTuple_Check(args[0]) && PyTuple_GET_SIZE(args[0]) == 7;
    int many = PyObject_IsTrue(args[2]);
    if (many < 0)
        return NULL;
    if (!PyList_CheckExact(t.strings) || PyList_GET_SIZE(t.strings) != 0 || !PyDict_CheckExact(t.evs)) {
        PyErr_SetString(PyExc_TypeError, "the string table must be an empty list, the evidence table a dict");
        return NULL;
    }
    if (nargs == 9 && args[8] != Py_None) {
        if (!PyDict_CheckExact(args[8])) {
            PyErr_SetString(PyExc_TypeError, "known: a dict of key -> bool, or None");
            return NULL;
        }
        t.known = args[8];
    }
    if (nargs >= 8) {
        t.see = args[5];
        t.step = args[6];
        t.every = PyLong_AsSsize_t(args[7]);
        if (t.every == -1 && PyErr_Occurred())
            return NULL;
        if (!PyCallable_Check(t.see) || !PyCallable_Check(t.step) || t.every < 1 || many || t.exact) {
            PyErr_SetString(PyExc_TypeError, "see and step must be callable, every at least 1, one model, not exact");
            return NULL;
        }
    }
    if (many && !PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "many: a list of models");
        return NULL;
    }
    if ((t.out = PyBytes_FromStringAndSize(NULL, 1 << 16)) == NULL)
        return NULL;
#ifdef AHEAD_THREADS
    /* Started first: the thread writes the list's last chunks while this one writes what comes before it. */
    Ahead *job = ahead > 0 && !many && !t.exact ? ahead_start(args[0], args[1], ahead, t.see != NULL) : NULL;
    t.ahead = job;
#endif
    /* (body, table): the body first, so that the table's paths refer to its strings. */
    char *p = room(&t, 2);
    int rc = p == NULL ? -1 : 0;
    if (p != NULL) {
        p[0] = M_SMALL_TUPLE;
        p[1] = 2;
    }
    if (rc == 0)
        rc = many ? w_list(&t, args[1], sub_model, args[0]) : encode_model(args[0], args[1], &t, t.step != NULL);
#ifdef AHEAD_THREADS
    t.ahead = NULL;
    ahead_job_free(job); /* (its thread is done with the list, or stopped, before anything is let go) */
#endif
    if (rc == 0 && t.step != NULL) {
        PyObject *r = PyObject_CallNoArgs(t.step);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
    if (rc == 0)
        rc = w_table(&t);
    seen_clear(&t.seen_strings);
    seen_clear(&t.seen_evs);
    PyMem_Free(t.texts.slots);
    if (rc < 0 || _PyBytes_Resize(&t.out, t.len) < 0) {
        Py_XDECREF(t.out);
        if (rc < 0 && t.answered) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    return t.out;
}

static PyObject *
py_encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return encode_payload(args, nargs, 0);
}

/* ``encode_ahead(models, plan, obj, strings, evidence[, see, step, every[, known]])``: encode's
 * payload of one model, its longest list of models written ``models`` at a time on a second
 * thread as well (see "encoding ahead"); None when ``see`` answered something true for a value
 * of that list (then encode it without the thread). ``see`` and ``step`` must change nothing
 * of ``obj`` while it is encoded. */
static PyObject *
py_encode_ahead(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "encode_ahead(models, plan, obj, strings, evidence[, see, step, every[, known]])");
        return NULL;
    }
    Py_ssize_t models = PyLong_AsSsize_t(args[0]);
    if (models == -1 && PyErr_Occurred())
        return NULL;
    if (nargs < 5) {
        PyErr_SetString(PyExc_TypeError, "encode_ahead(models, plan, obj, strings, evidence[, see, step, every[, known]])");
        return NULL;
    }
    /* encode's arguments, ``many`` false. */
    PyObject *rest[9] = {args[1], args[2], Py_False, args[3], args[4], NULL, NULL, NULL, NULL};
    for (Py_ssize_t i = 5; i < nargs && i < 9; i++)
        rest[i] = args[i];
    return encode_payload(rest, nargs, models);
}

/* -- marshal version 2 without the GIL --------------------------------------------------------
 *
 * ``marshal_v2(obj)``: ``marshal.dumps(obj, 2)`` of plain data (exactly dict, tuple, list, str,
 * bytes, None, True, False), read and written with the GIL let go; None for anything else
 * (the caller marshals it then). The scan's walk cache (~7 MB at 2,000 services) is dumped so
 * by the thread that writes it, while the build runs: marshal holding the GIL took ~20 ms of
 * the cold scan's serial tail. The caller must not change ``obj`` meanwhile.
 */
static Py_ssize_t
m2_size(PyObject *v, int depth)
{
    if (depth > 100)
        return -1;
    if (v == Py_None || v == Py_True || v == Py_False)
        return 1;
    if (PyUnicode_CheckExact(v))
        return PyUnicode_IS_READY(v) ? 5 + utf8_size(v) : -1;
    if (PyBytes_CheckExact(v))
        return 5 + PyBytes_GET_SIZE(v);
    Py_ssize_t size = 5, n;
    if (PyTuple_CheckExact(v) || PyList_CheckExact(v)) {
        n = PySequence_Fast_GET_SIZE(v);
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t x = m2_size(PySequence_Fast_GET_ITEM(v, i), depth + 1);
            if (x < 0)
                return -1;
            size += x;
        }
        return size;
    }
    if (PyDict_CheckExact(v)) {
        Py_ssize_t pos = 0, a, b;
        PyObject *k, *x;
        size = 2;
        while (PyDict_Next(v, &pos, &k, &x)) {
            if ((a = m2_size(k, depth + 1)) < 0 || (b = m2_size(x, depth + 1)) < 0)
                return -1;
            size += a + b;
        }
        return size;
    }
    return -1;
}

static char *
m2_text(PyObject *s, char *p)
{
    char *end = utf8_put(s, p + 5);
    *p = M_UNICODE;
    put32(p + 1, end - (p + 5));
    return end;
}

/* What m2_size measured, written at ``p``; the end. */
static char *
m2_write(PyObject *v, char *p)
{
    if (v == Py_None || v == Py_True || v == Py_False) {
        *p = v == Py_None ? M_NONE : v == Py_True ? M_TRUE : M_FALSE;
        return p + 1;
    }
    if (PyUnicode_CheckExact(v))
        return m2_text(v, p);
    if (PyBytes_CheckExact(v)) {
        *p = 's';
        put32(p + 1, PyBytes_GET_SIZE(v));
        memcpy(p + 5, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
        return p + 5 + PyBytes_GET_SIZE(v);
    }
    if (PyTuple_CheckExact(v) || PyList_CheckExact(v)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        *p = PyTuple_CheckExact(v) ? M_TUPLE : M_LIST;
        put32(p + 1, n);
        p += 5;
        for (Py_ssize_t i = 0; i < n; i++)
            p = m2_write(PySequence_Fast_GET_ITEM(v, i), p);
        return p;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *x;
    *p++ = M_DICT;
    while (PyDict_Next(v, &pos, &k, &x))
        p = m2_write(x, m2_write(k, p));
    *p++ = M_NULL;
    return p;
}

static PyObject *
py_marshal_v2(PyObject *module, PyObject *obj)
{
    Py_ssize_t size;
    Py_INCREF(obj);
    Py_BEGIN_ALLOW_THREADS
    size = m2_size(obj, 0);
    Py_END_ALLOW_THREADS
    PyObject *out = size < 0 || size > INT32_MAX ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(NULL, size);
    if (out != NULL && out != Py_None) {
        char *p = PyBytes_AS_STRING(out), *end;
        Py_BEGIN_ALLOW_THREADS
        end = m2_write(obj, p);
        Py_END_ALLOW_THREADS
        if (end != p + size) { /* it changed meanwhile: not the caller's promise */
            Py_DECREF(out);
            PyErr_SetString(PyExc_RuntimeError, "marshal_v2: the value changed while it was written");
            out = NULL;
        }
    }
    Py_DECREF(obj);
    return out;
}

/* -- the scrub's strings, written to its helper without the GIL ---------------------------
 *
 * ``write_strings(fd, strings)`` writes one chunk of the judging helper's stream
 * (``judgeserve``): its length, 8 bytes little-endian, then ``marshal.dumps(strings, 2)``'s
 * bytes (a list, each str as UTF-8, a lone surrogate passed through). The thread that feeds
 * the helper wrote them with marshal, holding the GIL (~30 ms of a cold scan's serial tail at
 * 2,000 services, taken from the build meanwhile): here the bytes are made and written with
 * the GIL let go, the list held (and so its strings: the caller does not change it). Raises
 * OSError as os.write does (EINTR retried), TypeError for anything but a list of str.
 */
#ifndef _WIN32
static PyObject *
py_write_strings(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "write_strings(fd, strings): a file descriptor and a list of str");
        return NULL;
    }
    int fd = PyObject_AsFileDescriptor(args[0]);
    if (fd < 0)
        return NULL;
    PyObject *list = args[1];
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many strings for one chunk");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyList_GET_ITEM(list, i);
        if (!PyUnicode_CheckExact(x) || PyUnicode_READY(x) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "write_strings: a list of str");
            return NULL;
        }
    }
    int failed = 0;
    Py_INCREF(list);
    Py_BEGIN_ALLOW_THREADS
    size_t total = 8 + 5;
    for (Py_ssize_t i = 0; i < n; i++)
        total += 5 + (size_t)utf8_size(PyList_GET_ITEM(list, i));
    char *buf = total - 8 > INT32_MAX ? NULL : PyMem_RawMalloc(total), *p = buf;
    if (buf == NULL)
        failed = total - 8 > INT32_MAX ? EFBIG : ENOMEM;
    else {
        uint64_t size = (uint64_t)(total - 8);
        for (int b = 0; b < 8; b++)
            *p++ = (char)((size >> (8 * b)) & 0xff);
        *p++ = M_LIST;
        put32(p, n);
        p += 4;
        for (Py_ssize_t i = 0; i < n; i++)
            p = m2_text(PyList_GET_ITEM(list, i), p);
        for (size_t done = 0; done < total && !failed;) {
            ssize_t w = write(fd, buf + done, total - done);
            if (w > 0)
                done += (size_t)w;
            else if (w < 0 && errno != EINTR)
                failed = errno;
        }
        PyMem_RawFree(buf);
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(list);
    if (failed) {
        errno = failed;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}
#endif

/* -- loading: the stored form read straight into models --------------------------------
 *
 * ``load(plan, evidence_plan, payload[, many])``: what ``build(plan, body,
 * build_many(evidence_plan, table, []), True)`` (``build_many`` of the body, ``many``) gives
 * for ``body, table = marshal.loads(payload)``, without making the body's tuples, its lists
 * of evidence indices and their ints first (a warm rescan's load made ~500,000 objects only
 * to let them go). It reads the subset of marshal's format that ``encode`` writes: a string
 * once, with a ref after it (only strings have refs), None, booleans, ints of 32 bits,
 * binary floats, lists, dicts, tuples where a model is stored, and bytes where a field is
 * carried as its JSON (an exact plan's: each scanned file's fragments, ~20,000 loads of a
 * cold scan). Anything else (a ref to something else than a string, a large int, a payload
 * written by the Python encoders through marshal itself) makes it answer None: the caller
 * then reads the payload with marshal, which takes all of it. A payload this reader
 * cannot read whole (cut short, a wrong shape, an index out of the table) gets None too, so
 * that marshal and the build raise what they raise for it.
 *
 * The evidence table comes after the body (the encoder numbers evidence as it meets it), so
 * an evidence field is left None (a list of them, Nones) and noted; once the table is read,
 * each is set to its evidence, as ``evidence_at`` would have. */

typedef struct {
    PyObject *container;     /* a list (its items, in order) or a model's __dict__ */
    PyObject *key;           /* the field's name in a __dict__; NULL for a list */
    const unsigned char *at; /* its first index in the payload ('i' and 4 bytes, each) */
    Py_ssize_t n;
} Pending;

typedef struct {
    const unsigned char *p, *end;
    PyObject **refs; /* marshal's refs: the strings flagged, in the order they were read */
    Py_ssize_t nrefs, caprefs;
    Pending *pending; /* evidence to set once the table is read; NULL while the table is */
    Py_ssize_t npending, cappending;
    int other; /* met what only marshal reads: no exception set, the caller reads it so */
} Reader;

static PyObject *
r_other(Reader *r)
{
    r->other = 1;
    return NULL;
}

/* The next ``n`` bytes, NULL (as r_other) when the payload ends first. */
static inline const unsigned char *
r_take(Reader *r, Py_ssize_t n)
{
    if (n < 0 || r->end - r->p < n) {
        r->other = 1;
        return NULL;
    }
    const unsigned char *at = r->p;
    r->p += n;
    return at;
}

static inline int32_t
get32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* A 32-bit count after a type code: -1 (as r_other) when cut short or negative. */
static Py_ssize_t
r_count(Reader *r)
{
    const unsigned char *at = r_take(r, 4);
    if (at == NULL)
        return -1;
    int32_t n = get32(at);
    if (n < 0) {
        r->other = 1;
        return -1;
    }
    return n;
}

static int
r_keep_ref(Reader *r, PyObject *s)
{
    if (r->nrefs == r->caprefs) {
        Py_ssize_t cap = r->caprefs ? r->caprefs * 2 : 4096;
        PyObject **refs = PyMem_Realloc(r->refs, cap * sizeof(PyObject *));
        if (refs == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        r->refs = refs;
        r->caprefs = cap;
    }
    r->refs[r->nrefs++] = Py_NewRef(s);
    return 0;
}

/* A string of type ``code`` (its ref flag in ``flagged``), as marshal reads it. */
static PyObject *
r_str(Reader *r, int code, int flagged)
{
    Py_ssize_t n;
    if (code == 'z' || code == 'Z') {
        const unsigned char *at = r_take(r, 1);
        if (at == NULL)
            return NULL;
        n = *at;
    }
    else if ((n = r_count(r)) < 0)
        return NULL;
    const unsigned char *text = r_take(r, n);
    if (text == NULL)
        return NULL;
    PyObject *s = code == 'u' || code == 't' ? PyUnicode_DecodeUTF8((const char *)text, n, "surrogatepass")
                                            : PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, text, n);
    if (s == NULL)
        return NULL;
    if (code == 'Z' || code == 'A' || code == 't')
        PyUnicode_InternInPlace(&s);
    if (flagged && r_keep_ref(r, s) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

static PyObject *r_value(Reader *r);

static PyObject *
r_value_inner(Reader *r)
{
    const unsigned char *at = r_take(r, 1);
    if (at == NULL)
        return NULL;
    int code = *at & ~M_FLAG_REF, flagged = *at & M_FLAG_REF;
    switch (code) {
    case 'z': case 'Z': case 'a': case 'A': case 'u': case 't':
        return r_str(r, code, flagged);
    }
    if (flagged) /* a ref to something else than a string: marshal's own */
        return r_other(r);
    switch (code) {
    case M_NONE:
        return Py_NewRef(Py_None);
    case M_TRUE:
        return Py_NewRef(Py_True);
    case M_FALSE:
        return Py_NewRef(Py_False);
    case M_INT:
        return (at = r_take(r, 4)) == NULL ? NULL : PyLong_FromLong(get32(at));
    case M_FLOAT: {
        if ((at = r_take(r, 8)) == NULL)
            return NULL;
        double x = PyFloat_Unpack8((const char *)at, 1);
        return x == -1.0 && PyErr_Occurred() ? NULL : PyFloat_FromDouble(x);
    }
    case M_REF: {
        Py_ssize_t i = r_count(r);
        return i < 0 ? NULL : i < r->nrefs ? Py_NewRef(r->refs[i]) : r_other(r);
    }
    case M_LIST: {
        Py_ssize_t n = r_count(r);
        if (n < 0 || n > r->end - r->p) /* each item takes a byte at least */
            return n < 0 ? NULL : r_other(r);
        PyObject *list = PyList_New(n);
        for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
            PyObject *x = r_value(r);
            if (x == NULL)
                Py_CLEAR(list);
            else
                PyList_SET_ITEM(list, i, x);
        }
        return list;
    }
    case M_DICT: {
        PyObject *d = PyDict_New();
        while (d != NULL) {
            if (r->p < r->end && *r->p == M_NULL) {
                r->p++;
                return d;
            }
            PyObject *k = r_value(r), *v = k ? r_value(r) : NULL;
            if (v == NULL || PyDict_SetItem(d, k, v) < 0)
                Py_CLEAR(d);
            Py_XDECREF(k);
            Py_XDECREF(v);
        }
        return NULL;
    }
    default:
        return r_other(r);
    }
}

static PyObject *
r_value(Reader *r)
{
    if (Py_EnterRecursiveCall(" while loading a stored value"))
        return NULL;
    PyObject *v = r_value_inner(r);
    Py_LeaveRecursiveCall();
    return v;
}

/* ``n`` evidence indices from here ('i' and 4 bytes each), to be set in ``container``
 * (under ``key`` in a dict) once the table is read. */
static int
r_pending(Reader *r, PyObject *container, PyObject *key, Py_ssize_t n)
{
    const unsigned char *at = r_take(r, 5 * n);
    if (at == NULL || r->pending == NULL) /* (no evidence in the evidence table) */
        return r->other = 1, -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (at[5 * i] != M_INT)
            return r->other = 1, -1;
    if (r->npending == r->cappending) {
        Py_ssize_t cap = r->cappending * 2;
        Pending *more = PyMem_Realloc(r->pending, cap * sizeof(Pending));
        if (more == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        r->pending = more;
        r->cappending = cap;
    }
    r->pending[r->npending++] = (Pending){container, key, at, n};
    return 0;
}

static PyObject *r_model(Reader *r, PyObject *plan);

/* A stored list of models of ``plan``: '[', its count, then each model's tuple. */
static PyObject *
r_models(Reader *r, PyObject *plan)
{
    const unsigned char *at = r_take(r, 1);
    Py_ssize_t n;
    if (at == NULL || *at != M_LIST || (n = r_count(r)) < 0 || n > r->end - r->p) /* a byte each, at least */
        return r_other(r);
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        PyObject *obj = r_model(r, plan);
        if (obj == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, obj);
    }
    return list;
}

/* A list of ``n`` Nones. */
static PyObject *
nones(Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++)
        PyList_SET_ITEM(list, i, Py_NewRef(Py_None));
    return list;
}

/* Field ``i`` of ``plan`` into ``dict``, as field_value makes it from the value marshal reads. */
static int
r_field(Reader *r, PyObject *plan, Py_ssize_t i, char kind, PyObject *dict)
{
    PyObject *key = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 1), i);
    PyObject *sub = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), *v = NULL;
    const unsigned char *at;
    Py_ssize_t n;
    switch (kind) {
    case K_VALUE:
        v = r_value(r);
        break;
    case K_EV:
        if (PyDict_SetItem(dict, key, Py_None) < 0)
            return -1;
        return r_pending(r, dict, key, 1);
    case K_EVS:
        if ((at = r_take(r, 1)) == NULL || *at != M_LIST)
            return r->other = 1, -1;
        if ((n = r_count(r)) < 0)
            return -1;
        if (n > (r->end - r->p) / 5) /* each index takes 5 bytes: not made before they are there */
            return r->other = 1, -1;
        if ((v = nones(n)) == NULL)
            return -1;
        if (n > 0 && r_pending(r, v, NULL, n) < 0) {
            Py_DECREF(v);
            return -1;
        }
        break;
    case K_OPT_MODEL:
        if (r->p < r->end && *r->p == M_NONE) {
            r->p++;
            v = Py_NewRef(Py_None);
            break;
        }
        /* fall through */
    case K_MODEL:
        v = r_model(r, sub);
        break;
    case K_MODELS:
        v = r_models(r, sub);
        break;
    case K_JSON: /* bytes, as marshal writes them (no ref): what field_value makes of them */
        if ((at = r_take(r, 1)) == NULL || *at != 's' || (n = r_count(r)) < 0 || (at = r_take(r, n)) == NULL)
            return r->other = 1, -1;
        if (PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 6))[i] && n == 2 && memcmp(at, "{}", 2) == 0)
            v = PyDict_New();
        else {
            PyObject *b = PyBytes_FromStringAndSize((const char *)at, n);
            v = b == NULL ? NULL : PyObject_CallOneArg(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 5), i), b);
            Py_XDECREF(b);
        }
        break;
    default:
        return r->other = 1, -1;
    }
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(dict, key, v);
    Py_DECREF(v);
    return rc;
}

/* The model of ``plan`` stored here (a tuple of its field values), as build_one makes it. */
static PyObject *
r_model(Reader *r, PyObject *plan)
{
    if (check_plan(plan) < 0)
        return NULL;
    const unsigned char *at = r_take(r, 1);
    Py_ssize_t n;
    if (at == NULL)
        return NULL;
    if (*at == M_SMALL_TUPLE) {
        if ((at = r_take(r, 1)) == NULL)
            return NULL;
        n = *at;
    }
    else if (*at != M_TUPLE || (n = r_count(r)) < 0)
        return r_other(r);
    if (n != PyTuple_GET_SIZE(PyTuple_GET_ITEM(plan, 1)))
        return r_other(r);
    const char *kinds = PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 2));
    if (Py_EnterRecursiveCall(" while loading a stored model"))
        return NULL;
    PyObject *dict = _PyDict_NewPresized(n), *obj = NULL;
    for (Py_ssize_t i = 0; dict != NULL && i < n; i++)
        if (r_field(r, plan, i, kinds[i], dict) < 0)
            Py_CLEAR(dict);
    Py_LeaveRecursiveCall();
    if (dict != NULL)
        obj = new_model(plan, dict);
    return obj;
}

static void
reader_clear(Reader *r)
{
    for (Py_ssize_t i = 0; i < r->nrefs; i++)
        Py_DECREF(r->refs[i]);
    PyMem_Free(r->refs);
    PyMem_Free(r->pending);
}

/* Each pending evidence field set from the table ``ev`` (a list), as evidence_at reads an
 * index: -1 (as r_other) for one out of the table. */
static int
r_settle(Reader *r, PyObject *ev)
{
    Py_ssize_t size = PyList_GET_SIZE(ev);
    for (Py_ssize_t k = 0; k < r->npending; k++) {
        Pending *p = &r->pending[k];
        for (Py_ssize_t i = 0; i < p->n; i++) {
            Py_ssize_t x = get32(p->at + 5 * i + 1);
            if (x < 0)
                x += size;
            if (x < 0 || x >= size)
                return r->other = 1, -1;
            PyObject *e = PyList_GET_ITEM(ev, x);
            if (p->key != NULL) {
                if (PyDict_SetItem(p->container, p->key, e) < 0)
                    return -1;
            }
            else {
                PyObject *old = PyList_GET_ITEM(p->container, i);
                PyList_SET_ITEM(p->container, i, Py_NewRef(e));
                Py_DECREF(old);
            }
        }
    }
    return 0;
}

static PyObject *
py_load(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "load(plan, evidence_plan, payload[, many]) takes 3 or 4 arguments");
        return NULL;
    }
    int many = nargs == 4 ? PyObject_IsTrue(args[3]) : 0;
    if (many < 0 || check_plan(args[0]) < 0 || check_plan(args[1]) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[2], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Reader r = {view.buf, (const unsigned char *)view.buf + view.len, NULL, 0, 0, NULL, 0, 64, 0};
    PyObject *root = NULL, *ev = NULL;
    const unsigned char *at = r_take(&r, 2);
    if (at == NULL || at[0] != M_SMALL_TUPLE || at[1] != 2) {
        r.other = 1;
        goto done;
    }
    if ((r.pending = PyMem_New(Pending, r.cappending)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* (many: a list of models, what build_many makes of the rows) */
    if ((root = many ? r_models(&r, args[0]) : r_model(&r, args[0])) == NULL)
        goto done;
    /* The table: a list of (path, line) rows, each an Evidence of its plan. */
    Pending *pending = r.pending;
    r.pending = NULL; /* an evidence field in the table's rows is not one this reads */
    ev = r_models(&r, args[1]);
    r.pending = pending;
    if (ev == NULL || r_settle(&r, ev) < 0)
        Py_CLEAR(root);
done:
    PyBuffer_Release(&view);
    reader_clear(&r);
    Py_XDECREF(ev);
    if (root == NULL && (r.other || PyErr_ExceptionMatches(PyExc_Exception))) {
        /* Not read here (or not whole): marshal and the build answer, or raise, for it. */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return root;
}

/* -- the build's sorted tables --------------------------------------------------------
 *
 * ``by_sorted_key(table, fields)``: ``[table[k] for k in sorted(table)]``, and the positions
 * in it of the values (models) whose ``__dict__`` holds one of ``fields`` (names) with a
 * length of two or more: those the build normalises (sorts their lists, dedupes their
 * evidence); the others it takes as they are (``InventoryBuilder.build``: ~56,000 actions and
 * ~16,000 edges at 2,000 services, most with one evidence, command and flag at most).
 */
static PyObject *
py_by_sorted_key(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "by_sorted_key(table: dict, fields: tuple)");
        return NULL;
    }
    PyObject *table = args[0], *fields = args[1];
    PyObject *keys = PyDict_Keys(table);
    if (keys == NULL)
        return NULL;
    if (PyList_Sort(keys) < 0) {
        Py_DECREF(keys);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *values = PyList_New(n), *marked = PyList_New(0);
    if (values == NULL || marked == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyDict_GetItemWithError(table, PyList_GET_ITEM(keys, i)); /* borrowed */
        if (v == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "the table changed while it was read");
            goto fail;
        }
        PyList_SET_ITEM(values, i, Py_NewRef(v));
        /* The model's own __dict__ (its fields), as the build's ``a.__dict__`` reads it. */
        PyObject **slot = _PyObject_GetDictPtr(v);
        PyObject *d = slot != NULL && *slot != NULL ? Py_NewRef(*slot) : PyObject_GetAttr(v, dict_name);
        if (d == NULL)
            goto fail;
        int many = 0;
        for (Py_ssize_t f = 0; !many && f < PyTuple_GET_SIZE(fields); f++) {
            PyObject *x = PyObject_GetItem(d, PyTuple_GET_ITEM(fields, f));
            Py_ssize_t len = x == NULL ? -1 : PyObject_Length(x);
            Py_XDECREF(x);
            if (len < 0) {
                Py_DECREF(d);
                goto fail;
            }
            many = len >= 2;
        }
        Py_DECREF(d);
        if (many) {
            PyObject *at = PyLong_FromSsize_t(i);
            int rc = at == NULL ? -1 : PyList_Append(marked, at);
            Py_XDECREF(at);
            if (rc < 0)
                goto fail;
        }
    }
    Py_DECREF(keys);
    return Py_BuildValue("(NN)", values, marked);
fail:
    Py_DECREF(keys);
    Py_XDECREF(values);
    Py_XDECREF(marked);
    return NULL;
}

/* -- plain attribute reads -------------------------------------------------------------
 *
 * ``plain_reads(cls)``: instances of the pydantic model ``cls`` read their attributes as a plain
 * object does (``object.__getattribute__``), not through the hook Python installs for a class
 * with ``__getattr__`` (pydantic's BaseModel has one, for private attributes and extras),
 * which looks ``__getattr__`` and ``__getattribute__`` up on the class before every read: a
 * model's attribute read cost three times a plain object's. For a model with neither (see
 * commands.model.plain_reads, which checks), BaseModel.__getattr__ only raises the
 * AttributeError the plain read raised already. A class that later gets a __getattr__ or
 * __getattribute__ of its own gets Python's hook back (its slots are worked out again).
 */
static PyObject *
py_plain_reads(PyObject *module, PyObject *cls)
{
    if (!PyType_Check(cls) || !(((PyTypeObject *)cls)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        PyErr_SetString(PyExc_TypeError, "plain_reads(cls): a class defined in Python");
        return NULL;
    }
    ((PyTypeObject *)cls)->tp_getattro = PyObject_GenericGetAttr;
    PyType_Modified((PyTypeObject *)cls);
    Py_RETURN_NONE;
}

/* -- the build's sorted tables, on another core ----------------------------------------
 *
 * ``sort_ahead(((table, fields), ...))`` starts ``by_sorted_key(table, fields)`` of each pair
 * on a thread of its own; ``sorted_ahead(job, i)`` waits for it and gives the i-th answer, which
 * is always what ``by_sorted_key(table, fields)`` would give then. InventoryBuilder.build starts
 * it for its actions and edges and normalises the entities meanwhile: most of by_sorted_key's
 * time is memory the CPU has not seen (each value, its __dict__ and the lists it reads the
 * length of), ~45 ms at 2,000 services on the scan's one busy core while the other idled.
 *
 * The thread holds no GIL and calls nothing that needs it: it only reads the tables (which
 * hold every key and value alive) and their values' dicts, which the caller changes none of
 * until it asks. Whatever it is not sure of (a key other than a str or a tuple of str, a
 * value of another class than the first one's or whose dict is not made yet, a field it does
 * not find, a length of something else than a list, dict, tuple or str, a table changed
 * since: its version tag) is left to by_sorted_key, run when the answer is asked for. Only
 * on CPython 3.11 (whose layout of an object's managed dict it reads) with POSIX threads;
 * elsewhere every answer is by_sorted_key's, worked out when asked.
 */
typedef struct {
    PyObject *key, *value;
} KeyValue;

typedef struct {
    PyObject *table, *fields; /* held */
    Py_ssize_t n;             /* the table's size when handed */
#ifdef AHEAD_THREADS
    uint64_t version;         /* its version tag then */
#endif
    PyTypeObject *cls;        /* the first value's class (the thread checks every value's) */
    int managed;              /* its instances keep their dict in the managed slot */
    Py_ssize_t dictoffset;    /* else where they keep it */
    KeyValue *items;          /* sorted by key */
    Py_ssize_t *marked, n_marked;
    int ok;                   /* items and marked are the answer */
} AheadTable;

typedef struct {
    Py_ssize_t count;
    AheadTable *tables;
    int running; /* a thread started and not joined yet */
#ifdef AHEAD_THREADS
    pthread_t thread;
#endif
} AheadJob;

#define AHEAD_NAME "inventory._cbuild.sort_ahead"

#ifdef AHEAD_THREADS
/* ``str(a) < str(b)``'s order (-1, 0, 1) of two ready str: by code points, as Python compares them. */
static int
str_order(PyObject *a, PyObject *b)
{
    if (a == b)
        return 0;
    Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(b), n = la < lb ? la : lb;
    int ka = PyUnicode_KIND(a), kb = PyUnicode_KIND(b);
    const void *da = PyUnicode_DATA(a), *db = PyUnicode_DATA(b);
    if (ka == PyUnicode_1BYTE_KIND && kb == PyUnicode_1BYTE_KIND) {
        int c = memcmp(da, db, (size_t)n);
        if (c != 0)
            return c < 0 ? -1 : 1;
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 ca = PyUnicode_READ(ka, da, i), cb = PyUnicode_READ(kb, db, i);
            if (ca != cb)
                return ca < cb ? -1 : 1;
        }
    }
    return la < lb ? -1 : la > lb ? 1 : 0;
}

static int
plain_str(PyObject *s)
{
    return PyUnicode_CheckExact(s) && PyUnicode_IS_READY(s);
}

static int
by_str_key(const void *x, const void *y)
{
    return str_order(((const KeyValue *)x)->key, ((const KeyValue *)y)->key);
}

/* Tuples of str compare item by item, a shorter one first when it is the other's start. */
static int
by_tuple_key(const void *x, const void *y)
{
    PyObject *a = ((const KeyValue *)x)->key, *b = ((const KeyValue *)y)->key;
    Py_ssize_t la = PyTuple_GET_SIZE(a), lb = PyTuple_GET_SIZE(b), n = la < lb ? la : lb;
    for (Py_ssize_t i = 0; i < n; i++) {
        int c = str_order(PyTuple_GET_ITEM(a, i), PyTuple_GET_ITEM(b, i));
        if (c != 0)
            return c;
    }
    return la < lb ? -1 : la > lb ? 1 : 0;
}

/* The length of ``name`` in the model ``v``'s __dict__ (by_sorted_key's), -1 when not sure. */
static Py_ssize_t
field_length(AheadTable *t, PyObject *v, PyObject *name)
{
    PyObject *d;
    if (t->managed) {
        if (*(((void **)v) - 4) != NULL) /* its values not in a dict yet: making one needs the GIL */
            return -1;
        d = *(((PyObject **)v) - 3);
    }
    else
        d = *(PyObject **)((char *)v + t->dictoffset);
    if (d == NULL || !PyDict_CheckExact(d))
        return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *x = NULL, *found = NULL;
    while (found == NULL && PyDict_Next(d, &pos, &k, &x))
        if (k == name || (plain_str(k) && str_order(k, name) == 0))
            found = x;
    if (found == NULL)
        return -1;
    if (PyList_CheckExact(found))
        return PyList_GET_SIZE(found);
    if (PyDict_CheckExact(found))
        return PyDict_GET_SIZE(found);
    if (PyTuple_CheckExact(found))
        return PyTuple_GET_SIZE(found);
    if (plain_str(found))
        return PyUnicode_GET_LENGTH(found);
    return -1;
}

/* One table's answer, or t->ok = 0. */
static void
sort_one(AheadTable *t)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    int strs = 1, tuples = 1;
    if (t->n == 0)
        return;
    while (i < t->n && PyDict_Next(t->table, &pos, &k, &v)) {
        if (Py_TYPE(v) != t->cls) {
            t->ok = 0;
            return;
        }
        if (!plain_str(k))
            strs = 0;
        if (!PyTuple_CheckExact(k))
            tuples = 0;
        else
            for (Py_ssize_t j = 0; tuples && j < PyTuple_GET_SIZE(k); j++)
                tuples = plain_str(PyTuple_GET_ITEM(k, j));
        if (!strs && !tuples) {
            t->ok = 0;
            return;
        }
        t->items[i].key = k;
        t->items[i].value = v;
        i++;
    }
    if (i != t->n) {
        t->ok = 0;
        return;
    }
    qsort(t->items, (size_t)t->n, sizeof(KeyValue), strs ? by_str_key : by_tuple_key);
    Py_ssize_t n_fields = PyTuple_GET_SIZE(t->fields);
    for (i = 0; i < t->n; i++) {
        int many = 0;
        for (Py_ssize_t f = 0; !many && f < n_fields; f++) {
            Py_ssize_t len = field_length(t, t->items[i].value, PyTuple_GET_ITEM(t->fields, f));
            if (len < 0) {
                t->ok = 0;
                return;
            }
            many = len >= 2;
        }
        if (many)
            t->marked[t->n_marked++] = i;
    }
}

static void *
ahead_main(void *arg)
{
    AheadJob *job = arg;
    for (Py_ssize_t i = 0; i < job->count; i++)
        if (job->tables[i].ok)
            sort_one(&job->tables[i]);
    return NULL;
}
#endif

static void
ahead_join(AheadJob *job)
{
#ifdef AHEAD_THREADS
    if (job->running) {
        Py_BEGIN_ALLOW_THREADS
        pthread_join(job->thread, NULL);
        Py_END_ALLOW_THREADS
        job->running = 0;
    }
#endif
}

static void
ahead_free(PyObject *capsule)
{
    AheadJob *job = PyCapsule_GetPointer(capsule, AHEAD_NAME);
    if (job == NULL)
        return;
#ifdef AHEAD_THREADS
    if (job->running) /* the thread needs no GIL: joined with it held */
        pthread_join(job->thread, NULL);
#endif
    for (Py_ssize_t i = 0; i < job->count; i++) {
        AheadTable *t = &job->tables[i];
        Py_XDECREF(t->table);
        Py_XDECREF(t->fields);
        PyMem_RawFree(t->items);
        PyMem_RawFree(t->marked);
    }
    PyMem_RawFree(job->tables);
    PyMem_RawFree(job);
}

/* What the thread can work out of (table, fields): its first value's class and where its
 * instances keep their dict, checked against CPython's own answer with the GIL held. */
static void
ahead_prepare(AheadTable *t)
{
#ifdef AHEAD_THREADS
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    if (t->n == 0) { /* nothing to read: the answer is two empty lists */
        t->version = ((PyDictObject *)t->table)->ma_version_tag;
        t->ok = 1;
        return;
    }
    if (!PyDict_Next(t->table, &pos, &k, &v))
        return;
    for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(t->fields); f++)
        if (!plain_str(PyTuple_GET_ITEM(t->fields, f)))
            return;
    t->cls = Py_TYPE(v);
    PyObject **real = _PyObject_GetDictPtr(v), **ours;
    if (real == NULL) {
        PyErr_Clear();
        return;
    }
    if (t->cls->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        t->managed = 1;
        ours = ((PyObject **)v) - 3;
    }
    else if (t->cls->tp_dictoffset > 0) {
        t->dictoffset = t->cls->tp_dictoffset;
        ours = (PyObject **)((char *)v + t->dictoffset);
    }
    else
        return;
    if (ours != real)
        return;
    t->version = ((PyDictObject *)t->table)->ma_version_tag;
    t->items = PyMem_RawMalloc(sizeof(KeyValue) * (size_t)t->n);
    t->marked = PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)t->n);
    t->ok = t->items != NULL && t->marked != NULL;
#else
    (void)t;
#endif
}

static PyObject *
py_sort_ahead(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1 || !PyTuple_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "sort_ahead(((table: dict, fields: tuple), ...))");
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(args[0]);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(args[0], i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyDict_CheckExact(PyTuple_GET_ITEM(pair, 0))
            || !PyTuple_CheckExact(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "sort_ahead(((table: dict, fields: tuple), ...))");
            return NULL;
        }
    }
    AheadJob *job = PyMem_RawCalloc(1, sizeof(AheadJob));
    AheadTable *tables = count ? PyMem_RawCalloc((size_t)count, sizeof(AheadTable)) : NULL;
    if (job == NULL || (count && tables == NULL)) {
        PyMem_RawFree(job);
        PyMem_RawFree(tables);
        return PyErr_NoMemory();
    }
    job->count = count;
    job->tables = tables;
    PyObject *capsule = PyCapsule_New(job, AHEAD_NAME, ahead_free);
    if (capsule == NULL) {
        PyMem_RawFree(tables);
        PyMem_RawFree(job);
        return NULL;
    }
    int any = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(args[0], i);
        AheadTable *t = &tables[i];
        t->table = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
        t->fields = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
        t->n = PyDict_GET_SIZE(t->table);
        ahead_prepare(t);
        any |= t->ok;
    }
#ifdef AHEAD_THREADS
    if (any)
        job->running = pthread_create(&job->thread, NULL, ahead_main, job) == 0;
    if (!job->running)
        for (Py_ssize_t i = 0; i < count; i++)
            tables[i].ok = 0;
#endif
    return capsule;
}

/* Whether the thread answered each table (waited for): the others are by_sorted_key's, when asked. */
static PyObject *
py_ahead_answered(PyObject *module, PyObject *job_capsule)
{
    AheadJob *job = PyCapsule_GetPointer(job_capsule, AHEAD_NAME);
    if (job == NULL)
        return NULL;
    ahead_join(job);
    PyObject *out = PyTuple_New(job->count);
    for (Py_ssize_t i = 0; out != NULL && i < job->count; i++)
        PyTuple_SET_ITEM(out, i, PyBool_FromLong(job->tables[i].ok));
    return out;
}

static PyObject *
py_sorted_ahead(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    AheadJob *job = nargs == 2 ? PyCapsule_GetPointer(args[0], AHEAD_NAME) : NULL;
    if (job == NULL) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "sorted_ahead(job, index): a job of sort_ahead");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= job->count) {
        PyErr_SetString(PyExc_IndexError, "sorted_ahead: no such table");
        return NULL;
    }
    ahead_join(job);
    AheadTable *t = &job->tables[i];
    int fresh = t->ok && PyDict_GET_SIZE(t->table) == t->n;
#ifdef AHEAD_THREADS
    fresh = fresh && ((PyDictObject *)t->table)->ma_version_tag == t->version;
#endif
    if (!fresh) {
        PyObject *again[2] = {t->table, t->fields};
        return py_by_sorted_key(module, again, 2);
    }
    PyObject *values = PyList_New(t->n), *marked = PyList_New(t->n_marked);
    if (values == NULL || marked == NULL) {
        Py_XDECREF(values);
        Py_XDECREF(marked);
        return NULL;
    }
    for (Py_ssize_t j = 0; j < t->n; j++)
        PyList_SET_ITEM(values, j, Py_NewRef(t->items[j].value));
    for (Py_ssize_t j = 0; j < t->n_marked; j++) {
        PyObject *at = PyLong_FromSsize_t(t->marked[j]);
        if (at == NULL) {
            Py_DECREF(values);
            Py_DECREF(marked);
            return NULL;
        }
        PyList_SET_ITEM(marked, j, at);
    }
    return Py_BuildValue("(NN)", values, marked);
}

/* -- the walk's listings -------------------------------------------------------------
 *
 * ``dir_entries(prefix, rel_dir, names, kinds, skip_dirs, job)``: what ``scan.walk_files`` makes
 * of one listed directory whose entries are all files and directories (``kinds``: a str of
 * "f" and "d", one per name): the jobs of its files, in listing order, and the (path, relative
 * path + "/") of its subdirectories not named in ``skip_dirs``, in listing order. ``job`` is
 * (FileJob, root, its root, path, relpath descriptors, label prefix or None): a job is made
 * with its slots set, as FileJob(root, path, relpath) makes it, its relpath prefixed with the
 * label ("<label>/") when there is one. None for a directory with any other kind of entry
 * (the walk's own loop follows symlinks and skips the rest). A warm rescan's walk makes one
 * job per file of the tree (~20,000 at 2,000 services) from listings it did not redo.
 */
static PyObject *
py_dir_entries(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyUnicode_CheckExact(args[0]) || !PyUnicode_CheckExact(args[1]) || !PyTuple_CheckExact(args[2])
        || !PyUnicode_CheckExact(args[3]) || !PyAnySet_Check(args[4]) || !PyTuple_CheckExact(args[5])
        || PyTuple_GET_SIZE(args[5]) != 6 || !PyType_Check(PyTuple_GET_ITEM(args[5], 0))) {
        PyErr_SetString(PyExc_TypeError,
                        "dir_entries(prefix, rel_dir, names: tuple, kinds: str, skip_dirs: set, "
                        "job: (FileJob, root, root slot, path slot, relpath slot, label prefix or None))");
        return NULL;
    }
    PyObject *prefix = args[0], *rel_dir = args[1], *names = args[2], *kinds = args[3], *skip = args[4];
    PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(args[5], 0);
    PyObject *root = PyTuple_GET_ITEM(args[5], 1), *label = PyTuple_GET_ITEM(args[5], 5);
    PyObject *slots[3] = {PyTuple_GET_ITEM(args[5], 2), PyTuple_GET_ITEM(args[5], 3), PyTuple_GET_ITEM(args[5], 4)};
    for (int k = 0; k < 3; k++)
        if (Py_TYPE(slots[k])->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "a job slot cannot be set");
            return NULL;
        }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (!PyUnicode_IS_ASCII(kinds) || PyUnicode_GET_LENGTH(kinds) != n) {
        PyErr_SetString(PyExc_ValueError, "one kind per name");
        return NULL;
    }
    const char *kind = (const char *)PyUnicode_DATA(kinds);
    for (Py_ssize_t i = 0; i < n; i++)
        if ((kind[i] != 'f' && kind[i] != 'd') || !PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i)))
            Py_RETURN_NONE;
    PyObject *files = PyList_New(0), *dirs = PyList_New(0), *slash = PyUnicode_FromString("/");
    if (files == NULL || dirs == NULL || slash == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (kind[i] == 'd') {
            int skipped = PySet_Contains(skip, name);
            if (skipped < 0)
                goto fail;
            if (skipped)
                continue;
        }
        PyObject *path = PyUnicode_Concat(prefix, name);
        PyObject *rel = path ? PyUnicode_Concat(rel_dir, name) : NULL;
        if (rel == NULL) {
            Py_XDECREF(path);
            goto fail;
        }
        int rc;
        if (kind[i] == 'd') {
            PyObject *below = PyUnicode_Concat(rel, slash);
            PyObject *pair = below ? PyTuple_Pack(2, path, below) : NULL;
            rc = pair == NULL ? -1 : PyList_Append(dirs, pair);
            Py_XDECREF(pair);
            Py_XDECREF(below);
        }
        else {
            PyObject *relpath = label == Py_None ? Py_NewRef(rel) : PyUnicode_Concat(label, rel);
            PyObject *job = relpath ? cls->tp_alloc(cls, 0) : NULL;
            PyObject *values[3] = {root, path, relpath};
            rc = job == NULL ? -1 : 0;
            for (int k = 0; rc == 0 && k < 3; k++)
                rc = Py_TYPE(slots[k])->tp_descr_set(slots[k], job, values[k]);
            if (rc == 0)
                rc = PyList_Append(files, job);
            Py_XDECREF(job);
            Py_XDECREF(relpath);
        }
        Py_DECREF(path);
        Py_DECREF(rel);
        if (rc < 0)
            goto fail;
    }
    Py_DECREF(slash);
    return Py_BuildValue("(NN)", files, dirs);
fail:
    Py_XDECREF(files);
    Py_XDECREF(dirs);
    Py_XDECREF(slash);
    return NULL;
}

/* -- the walk's stat ---------------------------------------------------------------
 *
 * ``stat_sig(path, for_dir)``: what a walk keeps of ``os.stat(path)`` (``scan._file_sig`` or,
 * ``for_dir``, ``scan._dir_sig``: four fields packed as struct "<4q" packs them), the size,
 * and the newer of its modification and change times (ns), as ``(sig, size, newest_ns)``;
 * OSError as os.stat raises it. A warm rescan stats every file and directory of the tree
 * (~36,000 at 2,000 services): an ``os.stat_result`` (twenty fields, floats among them) made
 * and read for each was a fifth of its walk.
 */
#ifndef _WIN32 /* no nanosecond stat times there: scan's Python stat_sig is used */
#if defined(__APPLE__)
#define ST_MTIM st_mtimespec
#define ST_CTIM st_ctimespec
#else
#define ST_MTIM st_mtim
#define ST_CTIM st_ctim
#endif

static void
put64(char *p, long long v)
{
    unsigned long long u = (unsigned long long)v;
    for (int i = 0; i < 8; i++)
        p[i] = (char)((u >> (8 * i)) & 0xff);
}

/* The sig the walk keeps of a stat: a directory's (mtime, ctime, inode, device), a file's
 * (size, mtime, ctime, inode), each 8 bytes. */
static void
fill_sig(const struct stat *st, int for_dir, char *sig)
{
    long long mtime = (long long)st->ST_MTIM.tv_sec * 1000000000LL + st->ST_MTIM.tv_nsec;
    long long ctime = (long long)st->ST_CTIM.tv_sec * 1000000000LL + st->ST_CTIM.tv_nsec;
    if (for_dir) {
        put64(sig, mtime);
        put64(sig + 8, ctime);
        put64(sig + 16, (long long)st->st_ino);
        put64(sig + 24, (long long)st->st_dev);
    }
    else {
        put64(sig, (long long)st->st_size);
        put64(sig + 8, mtime);
        put64(sig + 16, ctime);
        put64(sig + 24, (long long)st->st_ino);
    }
}

/* ``bases``: None, or a tuple of (prefix, directory fd) pairs, a prefix being the bytes of a
 * root's path and a "/": a path under one is stat-ed relative to its open directory
 * (``fstatat``), which the kernel resolves from there rather than from "/" component by
 * component (a fifth less time per stat on a deep tree; the same answer: symlinks are
 * followed either way, and the walk's paths hold no ".."). 0 when ``bases`` is well formed. */
static int
check_bases(PyObject *bases)
{
    if (bases == Py_None)
        return 0;
    if (!PyTuple_CheckExact(bases))
        goto bad;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(bases); k++) {
        PyObject *b = PyTuple_GET_ITEM(bases, k);
        if (!PyTuple_CheckExact(b) || PyTuple_GET_SIZE(b) != 2 || !PyBytes_CheckExact(PyTuple_GET_ITEM(b, 0))
            || !PyLong_CheckExact(PyTuple_GET_ITEM(b, 1)))
            goto bad;
    }
    return 0;
bad:
    PyErr_SetString(PyExc_TypeError, "bases: None or a tuple of (prefix bytes, directory fd) pairs");
    return -1;
}

/* The directory fd to stat ``path`` (``len`` bytes) relative to, and in ``*skip`` how many of
 * its bytes to skip; -1 when none of ``bases`` holds it. */
static int
base_of(PyObject *bases, const char *path, Py_ssize_t len, Py_ssize_t *skip)
{
    if (bases == NULL || bases == Py_None)
        return -1;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(bases); k++) {
        PyObject *b = PyTuple_GET_ITEM(bases, k);
        PyObject *prefix = PyTuple_GET_ITEM(b, 0);
        Py_ssize_t plen = PyBytes_GET_SIZE(prefix);
        if (len > plen && memcmp(path, PyBytes_AS_STRING(prefix), plen) == 0) {
            long fd = PyLong_AsLong(PyTuple_GET_ITEM(b, 1));
            if (fd < 0 || fd > INT_MAX) {
                PyErr_Clear();
                return -1;
            }
            *skip = plen;
            return (int)fd;
        }
    }
    return -1;
}

static PyObject *
py_stat_sig(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "stat_sig(path, for_dir[, bases]) takes 2 or 3 arguments");
        return NULL;
    }
    PyObject *bases = nargs == 3 ? args[2] : Py_None;
    if (check_bases(bases) < 0)
        return NULL;
    int for_dir = PyObject_IsTrue(args[1]);
    if (for_dir < 0)
        return NULL;
    PyObject *encoded;
    if (!PyUnicode_FSConverter(args[0], &encoded))
        return NULL;
    struct stat st;
    int rc;
    Py_ssize_t skip = 0;
    const char *p = PyBytes_AS_STRING(encoded);
    int fd = base_of(bases, p, PyBytes_GET_SIZE(encoded), &skip);
    Py_BEGIN_ALLOW_THREADS
    rc = fd >= 0 ? fstatat(fd, p + skip, &st, 0) : stat(p, &st);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    if (rc != 0)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, args[0]);
    long long mtime = (long long)st.ST_MTIM.tv_sec * 1000000000LL + st.ST_MTIM.tv_nsec;
    long long ctime = (long long)st.ST_CTIM.tv_sec * 1000000000LL + st.ST_CTIM.tv_nsec;
    char sig[32];
    fill_sig(&st, for_dir, sig);
    return Py_BuildValue("(y#LL)", sig, (Py_ssize_t)32, (long long)st.st_size, mtime > ctime ? mtime : ctime);
}

/* ``known_digests(jobs, known, used, max_bytes)``: for each job (an object with a ``path``
 * str), the sha256 the walk cache ``known`` (path -> (file sig, digest)) holds for it when the
 * file's stat is still that sig and its size at most ``max_bytes`` (its path then added to
 * the set ``used``), else None: the caller handles that file as usual (stats it again, reads
 * and hashes it, or reports the error). Returns (that list, the total size of the files
 * answered). A warm rescan asks this of every file of the tree (~20,000 at 2,000 services):
 * a stat, one lookup and a comparison each, without a stat result, a sig or a call made per
 * file. */
static PyObject *path_attr;

static PyObject *
py_known_digests(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if ((nargs != 4 && nargs != 5) || !PyList_CheckExact(args[0]) || !PyDict_CheckExact(args[1])
        || !PySet_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "known_digests(jobs: list, known: dict, used: set, max_bytes[, bases])");
        return NULL;
    }
    PyObject *bases = nargs == 5 ? args[4] : Py_None;
    if (check_bases(bases) < 0)
        return NULL;
    long long max_bytes = PyLong_AsLongLong(args[3]);
    if (max_bytes == -1 && PyErr_Occurred())
        return NULL;
    PyObject *jobs = args[0], *known = args[1], *used = args[2];
    Py_ssize_t n = PyList_GET_SIZE(jobs);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    long long total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *answer = Py_None;
        PyObject *path = PyObject_GetAttr(PyList_GET_ITEM(jobs, i), path_attr);
        if (path == NULL)
            goto fail;
        PyObject *row = PyUnicode_CheckExact(path) ? PyDict_GetItemWithError(known, path) : NULL; /* borrowed */
        if (row == NULL && PyErr_Occurred()) {
            Py_DECREF(path);
            goto fail;
        }
        if (row != NULL && PyTuple_CheckExact(row) && PyTuple_GET_SIZE(row) >= 2
            && PyBytes_CheckExact(PyTuple_GET_ITEM(row, 0)) && PyBytes_GET_SIZE(PyTuple_GET_ITEM(row, 0)) == 32) {
            /* As os.stat encodes it; a path it cannot encode (a NUL in it) is the caller's to handle. */
            PyObject *encoded = NULL;
            struct stat st;
            int rc = -1;
            if (PyUnicode_FSConverter(path, &encoded)) {
                Py_ssize_t skip = 0;
                const char *p = PyBytes_AS_STRING(encoded);
                int fd = base_of(bases, p, PyBytes_GET_SIZE(encoded), &skip);
                Py_BEGIN_ALLOW_THREADS
                rc = fd >= 0 ? fstatat(fd, p + skip, &st, 0) : stat(p, &st);
                Py_END_ALLOW_THREADS
                Py_DECREF(encoded);
            }
            else
                PyErr_Clear();
            if (rc == 0 && (long long)st.st_size <= max_bytes) {
                char sig[32];
                fill_sig(&st, 0, sig);
                if (memcmp(sig, PyBytes_AS_STRING(PyTuple_GET_ITEM(row, 0)), 32) == 0) {
                    if (PySet_Add(used, path) < 0) {
                        Py_DECREF(path);
                        goto fail;
                    }
                    answer = PyTuple_GET_ITEM(row, 1);
                    total += (long long)st.st_size;
                }
            }
        }
        Py_DECREF(path);
        PyList_SET_ITEM(out, i, Py_NewRef(answer));
    }
    return Py_BuildValue("(NL)", out, total);
fail:
    /* The items not yet set are NULL, which a list's deallocation skips. */
    Py_DECREF(out);
    return NULL;
}

/* -- a tree's stats, as a walk left them ------------------------------------------------
 *
 * The stat sig of each directory a walk listed and of each file it hashed, in one packed
 * blob (scan.TreeStats): when every one of them is still what it was, the walk would list
 * the same entries and find the same digests, so its result is known without it (a warm
 * rescan of an unchanged tree: ~36,000 stats, no object made per entry). The blob is the
 * number of records (4 bytes), then each record: ``kind`` ('d' or 'f'), the length of the
 * part of its path shared with the previous record's (2 bytes), the length of the rest (2
 * bytes), the rest, then the 32-byte sig. (Lengths and counts little-endian.)
 *
 * ``pack_stats(dirs, used_dirs, files, used_files)``: the records of the entries of the walk
 * cache's ``dirs`` (path -> (sig, ...)) in ``used_dirs``, then of ``files`` in
 * ``used_files``, in the dicts' order; None when a path is too long for a record or an entry
 * is not (str, (32-byte sig, ...)).
 * ``stats_unchanged(records, bases)``: (files, their total size) when every record's path
 * stats (relative to ``bases``, see stat_sig) to its sig; None at the first that does not
 * (or a blob that is not its count of whole records). */

#define STATS_MAX_PATH 65535

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
    char prev[STATS_MAX_PATH];
    Py_ssize_t prev_len, count;
} Packed;

/* One record; 1 when the entry cannot have one (the blob is then not made). */
static int
pack_one(Packed *pk, int kind, PyObject *path, PyObject *row)
{
    if (!PyUnicode_CheckExact(path) || !PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) < 1
        || !PyBytes_CheckExact(PyTuple_GET_ITEM(row, 0)) || PyBytes_GET_SIZE(PyTuple_GET_ITEM(row, 0)) != 32)
        return 1;
    PyObject *encoded = NULL;
    const char *p;
    Py_ssize_t n;
    if (PyUnicode_IS_ASCII(path)) { /* its bytes as they are (os.fsencode's) */
        p = (const char *)PyUnicode_DATA(path);
        n = PyUnicode_GET_LENGTH(path);
    }
    else {
        if (!PyUnicode_FSConverter(path, &encoded))
            return -1;
        p = PyBytes_AS_STRING(encoded);
        n = PyBytes_GET_SIZE(encoded);
    }
    int rc = 1;
    if (n <= STATS_MAX_PATH && memchr(p, 0, n) == NULL) {
        Py_ssize_t shared = 0;
        while (shared < n && shared < pk->prev_len && p[shared] == pk->prev[shared])
            shared++;
        Py_ssize_t rest = n - shared, need = 5 + rest + 32;
        if (pk->len + need > pk->cap) {
            Py_ssize_t cap = (pk->cap + need) * 2;
            char *more = PyMem_Realloc(pk->buf, cap);
            if (more == NULL) {
                PyErr_NoMemory();
                rc = -1;
                goto done;
            }
            pk->buf = more;
            pk->cap = cap;
        }
        char *w = pk->buf + pk->len;
        w[0] = (char)kind;
        w[1] = (char)(shared & 0xff);
        w[2] = (char)(shared >> 8);
        w[3] = (char)(rest & 0xff);
        w[4] = (char)(rest >> 8);
        memcpy(w + 5, p + shared, rest);
        memcpy(w + 5 + rest, PyBytes_AS_STRING(PyTuple_GET_ITEM(row, 0)), 32);
        pk->len += need;
        pk->count++;
        memcpy(pk->prev + shared, p + shared, rest);
        pk->prev_len = n;
        rc = 0;
    }
done:
    Py_XDECREF(encoded);
    return rc;
}

static PyObject *
py_pack_stats(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_CheckExact(args[0]) || !PyAnySet_Check(args[1]) || !PyDict_CheckExact(args[2])
        || !PyAnySet_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "pack_stats(dirs: dict, used_dirs: set, files: dict, used_files: set)");
        return NULL;
    }
    Packed *pk = PyMem_Calloc(1, sizeof(Packed));
    if (pk == NULL || (pk->buf = PyMem_Malloc(pk->cap = 1 << 16)) == NULL) {
        PyMem_Free(pk);
        return PyErr_NoMemory();
    }
    pk->len = 4; /* the count, once known */
    int rc = 0;
    for (int part = 0; part < 2 && rc == 0; part++) {
        PyObject *table = args[2 * part], *used = args[2 * part + 1], *path, *row;
        Py_ssize_t pos = 0;
        /* Every entry used (a first walk's): none to look up. (A used entry is always one of
         * the table's: the walk cache puts both, or marks one it holds.) */
        int all = PySet_GET_SIZE(used) == PyDict_GET_SIZE(table);
        /* No Python code runs in between: the keys are exact strs, the sets hold strs. */
        while (rc == 0 && PyDict_Next(table, &pos, &path, &row)) {
            int in = all ? 1 : PySet_Contains(used, path);
            rc = in < 0 ? -1 : in ? pack_one(pk, part ? 'f' : 'd', path, row) : 0;
        }
    }
    if (rc == 0 && pk->count > INT32_MAX)
        rc = 1;
    if (rc == 0)
        put32(pk->buf, pk->count);
    PyObject *out = rc < 0 ? NULL : rc > 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(pk->buf, pk->len);
    PyMem_Free(pk->buf);
    PyMem_Free(pk);
    return out;
}

static PyObject *
py_stats_unchanged(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "stats_unchanged(records, bases)");
        return NULL;
    }
    PyObject *bases = args[1];
    if (check_bases(bases) < 0)
        return NULL;
    /* The bases as C values, so that the loop below runs without the GIL. */
    Py_ssize_t nb = bases == Py_None ? 0 : PyTuple_GET_SIZE(bases);
    const char *prefixes[16];
    Py_ssize_t plens[16];
    int fds[16];
    if (nb > 16)
        nb = 0; /* (more roots than that: each path stat-ed whole, the same answers) */
    for (Py_ssize_t k = 0; k < nb; k++) {
        PyObject *b = PyTuple_GET_ITEM(bases, k);
        long fd = PyLong_AsLong(PyTuple_GET_ITEM(b, 1));
        if (fd < 0 || fd > INT_MAX) {
            PyErr_Clear();
            fd = -1;
        }
        prefixes[k] = PyBytes_AS_STRING(PyTuple_GET_ITEM(b, 0));
        plens[k] = PyBytes_GET_SIZE(PyTuple_GET_ITEM(b, 0));
        fds[k] = (int)fd;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    char *path = PyMem_Malloc(STATS_MAX_PATH + 1);
    if (path == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    const unsigned char *p = view.buf, *end = p + view.len;
    long long files = 0, total = 0, count = -1;
    int same = view.len >= 4;
    Py_ssize_t len = 0;
    if (same) {
        count = get32(p);
        p += 4;
    }
    Py_BEGIN_ALLOW_THREADS
    while (same && p < end) {
        if (end - p < 5 || (p[0] != 'd' && p[0] != 'f')) {
            same = 0;
            break;
        }
        int for_dir = p[0] == 'd';
        Py_ssize_t shared = p[1] | p[2] << 8, rest = p[3] | p[4] << 8;
        if (shared > len || shared + rest > STATS_MAX_PATH || end - p < 5 + rest + 32) {
            same = 0;
            break;
        }
        memcpy(path + shared, p + 5, rest);
        len = shared + rest;
        path[len] = '\0';
        const unsigned char *sig = p + 5 + rest;
        p += 5 + rest + 32;
        int fd = -1;
        Py_ssize_t skip = 0;
        for (Py_ssize_t k = 0; k < nb; k++) /* as base_of picks it */
            if (fds[k] >= 0 && len > plens[k] && memcmp(path, prefixes[k], plens[k]) == 0) {
                fd = fds[k];
                skip = plens[k];
                break;
            }
        struct stat st;
        char now[32];
        if ((fd >= 0 ? fstatat(fd, path + skip, &st, 0) : stat(path, &st)) != 0) {
            same = 0;
            break;
        }
        fill_sig(&st, for_dir, now);
        if (memcmp(now, sig, 32) != 0) {
            same = 0;
            break;
        }
        if (!for_dir) {
            files++;
            total += (long long)st.st_size;
        }
        count--;
    }
    Py_END_ALLOW_THREADS
    if (count != 0) /* fewer or more records than it says */
        same = 0;
    PyMem_Free(path);
    PyBuffer_Release(&view);
    if (!same)
        Py_RETURN_NONE;
    return Py_BuildValue("(LL)", files, total);
}
#endif

/* -- the build's normalisation (InventoryBuilder.build, consuming) ----------------------
 *
 * What build()'s norm() does to an entity, on the model itself (its __dict__ updated in
 * place): its lists sorted and deduplicated, its dicts ordered by key, its facts' and
 * environment sources' evidence too. The same calls Python makes on the same values; a sort
 * by key is a sort of (key..., position) tuples, which is the stable sort by key. ~7,000
 * entities at 2,000 services: 0.074 s of Python, 0.041 s here (the rest is reading models
 * spread over the heap; the same for the actions' norm, which gained nothing in C). */

static PyObject *facts_name, *str_evidence, *str_environments, *str_environment_sources, *str_data_classes,
    *str_owners, *str_labels, *str_attributes, *str_facts, *str_kind, *str_grants,
    *str_data_class, *str_environment, *str_resolver, *str_how;

/* A model's __dict__ (a new reference). */
static PyObject *
model_dict(PyObject *obj)
{
    PyObject **slot = _PyObject_GetDictPtr(obj);
    if (slot != NULL && *slot != NULL && PyDict_CheckExact(*slot))
        return Py_NewRef(*slot);
    PyObject *d = PyObject_GetAttr(obj, dict_name);
    if (d != NULL && !PyDict_Check(d)) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_TypeError, "a model's __dict__ must be a dict");
        return NULL;
    }
    return d;
}

/* d[key], a new reference; KeyError when it is not there. */
static PyObject *
field_of(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return Py_NewRef(v);
}

/* ``items`` in the order of ``keys`` sorted: tuples that each end with their item's position. */
static PyObject *
undecorated(PyObject *keys, PyObject *items)
{
    if (PyList_Sort(keys) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(k, PyTuple_GET_SIZE(k) - 1));
        PyList_SET_ITEM(out, i, Py_NewRef(PyList_GET_ITEM(items, at)));
    }
    return out;
}

/* ``(a..., position)``: a sort key that sorts as ``(a...)`` does, stably. */
static PyObject *
keyed(PyObject *const *parts, Py_ssize_t n, Py_ssize_t position)
{
    PyObject *t = PyTuple_New(n + 1);
    if (t == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(t, i, Py_NewRef(parts[i]));
    PyObject *at = PyLong_FromSsize_t(position);
    if (at == NULL) {
        Py_DECREF(t);
        return NULL;
    }
    PyTuple_SET_ITEM(t, n, at);
    return t;
}

/* ``sorted(set(evs), key=attrgetter("path", "line"))`` for a list of exactly ``ev_cls``
 * (frozen: two are equal exactly when their path and line are; of equal ones the first is
 * kept, as set() keeps it); ``fallback(evs)`` for anything else. A list of its own. */
static PyObject *
ev_sorted(PyObject *evs, PyObject *ev_cls, PyObject *fallback)
{
    if (!PyList_CheckExact(evs))
        return PyObject_CallOneArg(fallback, evs);
    Py_ssize_t n = PyList_GET_SIZE(evs);
    if (n < 2)
        return PyList_GetSlice(evs, 0, n);
    for (Py_ssize_t i = 0; i < n; i++)
        if ((PyObject *)Py_TYPE(PyList_GET_ITEM(evs, i)) != ev_cls)
            return PyObject_CallOneArg(fallback, evs);
    PyObject *items = PyList_GetSlice(evs, 0, n); /* held: no Python code may change them under us */
    PyObject *keys = items == NULL ? NULL : PyList_New(n);
    PyObject *out = NULL;
    if (keys == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = model_dict(PyList_GET_ITEM(items, i));
        if (d == NULL)
            goto done;
        PyObject *parts[2] = {PyDict_GetItemWithError(d, path_name), PyDict_GetItemWithError(d, line_name)};
        PyObject *k = parts[0] != NULL && parts[1] != NULL ? keyed(parts, 2, i) : NULL;
        if (k == NULL && !PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "evidence without a path or line");
        Py_DECREF(d);
        if (k == NULL)
            goto done;
        PyList_SET_ITEM(keys, i, k);
    }
    if (PyList_Sort(keys) < 0 || (out = PyList_New(0)) == NULL)
        goto done;
    PyObject *prev = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (prev != NULL) {
            int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(k, 0), PyTuple_GET_ITEM(prev, 0), Py_EQ);
            if (same > 0)
                same = PyObject_RichCompareBool(PyTuple_GET_ITEM(k, 1), PyTuple_GET_ITEM(prev, 1), Py_EQ);
            if (same < 0) {
                Py_CLEAR(out);
                goto done;
            }
            if (same)
                continue;
        }
        prev = k;
        Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(k, 2));
        if (PyList_Append(out, PyList_GET_ITEM(items, at)) < 0) {
            Py_CLEAR(out);
            goto done;
        }
    }
done:
    Py_XDECREF(keys);
    Py_XDECREF(items);
    return out;
}

/* ``sorted(set(v))`` */
static PyObject *
sorted_set(PyObject *v)
{
    PyObject *s = PySet_New(v);
    if (s == NULL)
        return NULL;
    PyObject *l = PySequence_List(s);
    Py_DECREF(s);
    if (l != NULL && PyList_Sort(l) < 0)
        Py_CLEAR(l);
    return l;
}

/* ``dict(sorted(m.items()))`` */
static PyObject *
sorted_dict(PyObject *m)
{
    PyObject *items = PyMapping_Items(m);
    if (items == NULL)
        return NULL;
    PyObject *out = NULL;
    if (PyList_Sort(items) == 0 && (out = PyDict_New()) != NULL) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *kv = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2 ||
                PyDict_SetItem(out, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1)) < 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "items() must give pairs");
                Py_CLEAR(out);
                break;
            }
        }
    }
    Py_DECREF(items);
    return out;
}

/* Each of ``models`` with its evidence sorted (``m.__dict__["evidence"] = ev_sorted(...)``),
 * in the order of their keys ``(getattr(m, a) for a in names)``, ``as_str``: the last one
 * as its str(). A list of its own. */
static PyObject *
models_sorted(PyObject *models, PyObject *const *names, Py_ssize_t n_names, int as_str, PyObject *ev_cls,
              PyObject *fallback)
{
    PyObject *items = PySequence_List(models);
    if (items == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items);
    PyObject *keys = PyList_New(n), *out = NULL;
    if (keys == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = PyList_GET_ITEM(items, i);
        PyObject *d = model_dict(m);
        if (d == NULL)
            goto done;
        PyObject *evs = field_of(d, str_evidence);
        PyObject *sorted_evs = evs == NULL ? NULL : ev_sorted(evs, ev_cls, fallback);
        Py_XDECREF(evs);
        int rc = sorted_evs == NULL ? -1 : PyDict_SetItem(d, str_evidence, sorted_evs);
        Py_XDECREF(sorted_evs);
        Py_DECREF(d);
        if (rc < 0)
            goto done;
        PyObject *parts[4] = {NULL, NULL, NULL, NULL};
        Py_ssize_t got = 0;
        for (; got < n_names; got++) {
            parts[got] = PyObject_GetAttr(m, names[got]);
            if (parts[got] != NULL && as_str && got == n_names - 1)
                Py_SETREF(parts[got], PyObject_Str(parts[got]));
            if (parts[got] == NULL)
                break;
        }
        PyObject *k = got == n_names ? keyed(parts, n_names, i) : NULL;
        for (Py_ssize_t j = 0; j < got; j++)
            Py_DECREF(parts[j]);
        if (k == NULL)
            goto done;
        PyList_SET_ITEM(keys, i, k);
    }
    out = undecorated(keys, items);
done:
    Py_XDECREF(keys);
    Py_DECREF(items);
    return out;
}

/* norm_entity(entity, Evidence, no_data_kinds, ev_fallback): InventoryBuilder.build's norm()
 * of an entity, consuming (its __dict__ updated in place); returns the entity. */
static PyObject *
py_norm_entity(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyType_Check(args[1]) || !PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "norm_entity(entity, Evidence, no_data_kinds, ev_fallback)");
        return NULL;
    }
    PyObject *ent = args[0], *ev_cls = args[1], *no_data = args[2], *fallback = args[3];
    PyObject *d = model_dict(ent);
    if (d == NULL)
        return NULL;
    PyObject *attributes = NULL, *data_classes = NULL, *facts = NULL, *kind = NULL, *v = NULL;
    PyObject *fields[8] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    PyObject *names[8] = {str_evidence, str_environments, str_environment_sources, str_data_classes, str_owners,
                          str_labels, str_attributes, str_facts};
    PyObject *result = NULL;
    int i;
    if ((attributes = field_of(d, str_attributes)) == NULL || (v = field_of(d, str_data_classes)) == NULL ||
        (data_classes = sorted_set(v)) == NULL || (facts = field_of(d, str_facts)) == NULL ||
        (kind = field_of(d, str_kind)) == NULL)
        goto done;
    Py_CLEAR(v);
    int no_data_kind = PySequence_Contains(no_data, kind);
    if (no_data_kind < 0)
        goto done;
    if (no_data_kind && PyList_GET_SIZE(data_classes)) {
        /* {**attributes, "grants_access_to": list(data_classes)}; no data classes; no data_class facts */
        PyObject *grants = PyDict_New();
        PyObject *copy = grants == NULL ? NULL : PySequence_List(data_classes);
        if (copy == NULL || PyDict_Merge(grants, attributes, 1) < 0 || PyDict_SetItem(grants, str_grants, copy) < 0) {
            Py_XDECREF(grants);
            Py_XDECREF(copy);
            goto done;
        }
        Py_DECREF(copy);
        Py_SETREF(attributes, grants);
        Py_SETREF(data_classes, PyList_New(0));
        PyObject *kept = data_classes == NULL ? NULL : PyList_New(0);
        PyObject *it = kept == NULL ? NULL : PyObject_GetIter(facts), *f;
        if (it == NULL) {
            Py_XDECREF(kept);
            goto done;
        }
        while ((f = PyIter_Next(it)) != NULL) {
            PyObject *name = PyObject_GetAttr(f, facts_name);
            int other = name == NULL ? -1 : PyObject_RichCompareBool(name, str_data_class, Py_NE);
            Py_XDECREF(name);
            if (other < 0 || (other && PyList_Append(kept, f) < 0)) {
                Py_DECREF(f);
                break;
            }
            Py_DECREF(f);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            Py_DECREF(kept);
            goto done;
        }
        Py_SETREF(facts, kept);
    }
    {
        PyObject *fact_key[2] = {facts_name, value_name};
        if ((fields[7] = models_sorted(facts, fact_key, 2, 1, ev_cls, fallback)) == NULL)
            goto done;
    }
    if ((v = field_of(d, str_evidence)) == NULL || (fields[0] = ev_sorted(v, ev_cls, fallback)) == NULL)
        goto done;
    Py_CLEAR(v);
    if ((v = field_of(d, str_environments)) == NULL || (fields[1] = sorted_set(v)) == NULL)
        goto done;
    Py_CLEAR(v);
    {
        PyObject *source_key[3] = {str_environment, str_resolver, str_how};
        if ((v = field_of(d, str_environment_sources)) == NULL ||
            (fields[2] = models_sorted(v, source_key, 3, 0, ev_cls, fallback)) == NULL)
            goto done;
        Py_CLEAR(v);
    }
    fields[3] = Py_NewRef(data_classes);
    if ((v = field_of(d, str_owners)) == NULL || (fields[4] = sorted_set(v)) == NULL)
        goto done;
    Py_CLEAR(v);
    if ((v = field_of(d, str_labels)) == NULL || (fields[5] = sorted_dict(v)) == NULL)
        goto done;
    Py_CLEAR(v);
    if ((fields[6] = sorted_dict(attributes)) == NULL)
        goto done;
    for (i = 0; i < 8; i++)
        if (PyDict_SetItem(d, names[i], fields[i]) < 0)
            goto done;
    result = Py_NewRef(ent);
done:
    for (i = 0; i < 8; i++)
        Py_XDECREF(fields[i]);
    Py_XDECREF(attributes);
    Py_XDECREF(data_classes);
    Py_XDECREF(facts);
    Py_XDECREF(kind);
    Py_XDECREF(v);
    Py_DECREF(d);
    return result;
}

/* -- keyword search: whether any of a set of ASCII words occurs in a text -------------------
 *
 * The secrets prefilter (``secrets._prefilter``) asks it of every line a scanner keeps, lower-
 * cased: does any detector's keyword occur in it? ``re`` tries its alternation of the keywords
 * at nearly every position (their first characters are most letters), ~25 ns a character; this
 * looks up each position's first two bytes in a bitmap of the words' first two (a few dozen of
 * 65,536) and compares only the words that start with them. The answer is the regex's: true
 * when some word occurs, whatever the text. Words are ASCII without NUL (the caller falls
 * back to the regex otherwise); a text's characters are read as its code points, any beyond
 * ASCII matching no word byte.
 */
typedef struct {
    uint8_t pairs[65536 / 8];   /* bit a << 8 | b: some word of 2+ bytes starts with a, b */
    uint8_t singles[256 / 8];   /* bit a: the word "a" */
    uint16_t first[65536];      /* the first of the sorted words that start with a, b */
    uint16_t count[65536];      /* how many do */
    Py_ssize_t nwords;
    Py_ssize_t *offsets;        /* into bytes: word i is bytes[offsets[i]:offsets[i] + lens[i]] */
    Py_ssize_t *lens;
    char *bytes;
} KeywordSet;

static const char keyword_set_name[] = "stackpolicy keyword set";

static void
keyword_set_free(PyObject *capsule)
{
    KeywordSet *ks = PyCapsule_GetPointer(capsule, keyword_set_name);
    if (ks != NULL) {
        PyMem_Free(ks->offsets);
        PyMem_Free(ks->lens);
        PyMem_Free(ks->bytes);
        PyMem_Free(ks);
    }
}

static int
compare_words(const void *a, const void *b)
{
    PyObject *x = *(PyObject *const *)a, *y = *(PyObject *const *)b;
    Py_ssize_t nx = PyBytes_GET_SIZE(x), ny = PyBytes_GET_SIZE(y);
    int c = memcmp(PyBytes_AS_STRING(x), PyBytes_AS_STRING(y), nx < ny ? nx : ny);
    return c != 0 ? c : (nx < ny ? -1 : nx > ny);
}

/* keyword_set(words): the set, or None when a word is empty, not ASCII, or holds NUL. */
static PyObject *
py_keyword_set(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "keyword_set(words: tuple[str, ...])");
        return NULL;
    }
    PyObject *words = args[0];
    Py_ssize_t n = PyTuple_GET_SIZE(words), total = 0;
    if (n > 65535)
        Py_RETURN_NONE;
    PyObject **encoded = PyMem_Calloc(n ? n : 1, sizeof(PyObject *));
    KeywordSet *ks = PyMem_Calloc(1, sizeof(KeywordSet));
    PyObject *result = NULL;
    if (encoded == NULL || ks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PyTuple_GET_ITEM(words, i);
        if (!PyUnicode_Check(w)) {
            PyErr_SetString(PyExc_TypeError, "keyword_set(words: tuple[str, ...])");
            goto done;
        }
        if (PyUnicode_READY(w) < 0)
            goto done;
        if (!PyUnicode_IS_ASCII(w) || PyUnicode_GET_LENGTH(w) == 0
            || memchr(PyUnicode_1BYTE_DATA(w), 0, PyUnicode_GET_LENGTH(w)) != NULL) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        encoded[i] = PyBytes_FromStringAndSize((const char *)PyUnicode_1BYTE_DATA(w), PyUnicode_GET_LENGTH(w));
        if (encoded[i] == NULL)
            goto done;
        total += PyBytes_GET_SIZE(encoded[i]);
    }
    qsort(encoded, n, sizeof(PyObject *), compare_words);
    ks->nwords = n;
    ks->offsets = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    ks->lens = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    ks->bytes = PyMem_Malloc(total ? total : 1);
    if (ks->offsets == NULL || ks->lens == NULL || ks->bytes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(encoded[i]);
        Py_ssize_t len = PyBytes_GET_SIZE(encoded[i]);
        memcpy(ks->bytes + at, s, len);
        ks->offsets[i] = at;
        ks->lens[i] = len;
        at += len;
        if (len == 1) {
            ks->singles[s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
            continue;
        }
        unsigned key = (unsigned)s[0] << 8 | s[1];
        if (ks->count[key]++ == 0)
            ks->first[key] = (uint16_t)i;  /* sorted: the words of a pair are consecutive */
        ks->pairs[key >> 3] |= (uint8_t)(1u << (key & 7));
    }
    result = PyCapsule_New(ks, keyword_set_name, keyword_set_free);
    if (result != NULL)
        ks = NULL;  /* the capsule's now */
done:
    if (encoded != NULL) {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(encoded[i]);
        PyMem_Free(encoded);
    }
    if (ks != NULL) {
        PyMem_Free(ks->offsets);
        PyMem_Free(ks->lens);
        PyMem_Free(ks->bytes);
        PyMem_Free(ks);
    }
    return result;
}

/* Whether a word of ``ks`` starts at s[i] (the text's units as bytes, any beyond ASCII as 0xFF). */
#define KEYWORD_SEARCH(TYPE)                                                                      \
    static int                                                                                    \
    keyword_in_##TYPE(const KeywordSet *ks, const TYPE *s, Py_ssize_t n)                          \
    {                                                                                             \
        for (Py_ssize_t i = 0; i < n; i++) {                                                      \
            unsigned a = s[i] < 128 ? (unsigned)s[i] : 0xFF;                                      \
            if (ks->singles[a >> 3] & (1u << (a & 7)))                                            \
                return 1;                                                                         \
            if (i + 1 == n)                                                                       \
                break;                                                                            \
            unsigned b = s[i + 1] < 128 ? (unsigned)s[i + 1] : 0xFF;                              \
            unsigned key = a << 8 | b;                                                            \
            if (!(ks->pairs[key >> 3] & (1u << (key & 7))))                                       \
                continue;                                                                         \
            for (Py_ssize_t w = ks->first[key], end = w + ks->count[key]; w < end; w++) {         \
                Py_ssize_t len = ks->lens[w], k = 2;                                              \
                const unsigned char *word = (const unsigned char *)ks->bytes + ks->offsets[w];    \
                if (len > n - i)                                                                  \
                    continue;                                                                     \
                while (k < len && s[i + k] == word[k])                                            \
                    k++;                                                                          \
                if (k == len)                                                                     \
                    return 1;                                                                     \
            }                                                                                     \
        }                                                                                         \
        return 0;                                                                                 \
    }

KEYWORD_SEARCH(Py_UCS1)
KEYWORD_SEARCH(Py_UCS2)
KEYWORD_SEARCH(Py_UCS4)

/* has_keyword(keyword_set, text): whether a word of the set occurs in ``text``. */
static PyObject *
py_has_keyword(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "has_keyword(keyword_set, text: str)");
        return NULL;
    }
    const KeywordSet *ks = PyCapsule_GetPointer(args[0], keyword_set_name);
    if (ks == NULL)
        return NULL;
    PyObject *text = args[1];
    if (PyUnicode_READY(text) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int found;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        found = keyword_in_Py_UCS1(ks, PyUnicode_1BYTE_DATA(text), n);
        break;
    case PyUnicode_2BYTE_KIND:
        found = keyword_in_Py_UCS2(ks, PyUnicode_2BYTE_DATA(text), n);
        break;
    default:
        found = keyword_in_Py_UCS4(ks, PyUnicode_4BYTE_DATA(text), n);
        break;
    }
    return PyBool_FromLong(found);
}

/* trusted(model, fields[, given[, private]]): ``commands.model.trusted`` in C (see there): an
 * instance of ``model`` with ``fields`` as its __dict__, ``given`` (default: a new set of the
 * fields' names) as its fields-set, no extra, ``private`` (default None) as its private slot;
 * the steps object.__new__ and the slots' descriptors take, without a Python call between
 * them (~100,000 per 2,000 services on the scan's serial tail: actions, edges, references).
 */
static PyObject *
py_trusted(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char usage[] = "trusted(model: type, fields: dict, given: set | None = None, private=None)";
    PyObject *given = nargs > 2 ? args[2] : Py_None, *private = nargs > 3 ? args[3] : Py_None;
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {  /* given=, private= (each once, and not also by position) */
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(name, "given") == 0 && nargs <= 2 && given == Py_None)
            given = args[nargs + i];
        else if (PyUnicode_CompareWithASCIIString(name, "private") == 0 && nargs <= 3 && private == Py_None)
            private = args[nargs + i];
        else {
            PyErr_SetString(PyExc_TypeError, usage);
            return NULL;
        }
    }
    if (nargs < 2 || nargs > 4 || !PyType_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, usage);
        return NULL;
    }
    if (model_slots() < 0)
        return NULL;
    PyObject *fields_set = given == Py_None ? PySet_New(args[1]) : Py_NewRef(given);
    if (fields_set == NULL)
        return NULL;
    PyObject *obj = PyBaseObject_Type.tp_new((PyTypeObject *)args[0], empty_tuple, NULL);
    if (obj == NULL || PyObject_GenericSetAttr(obj, dict_name, args[1]) < 0
        || set_slot(set_fields_set, obj, fields_set) < 0 || set_slot(set_extra, obj, Py_None) < 0
        || set_slot(set_private, obj, private) < 0) {
        Py_XDECREF(obj);
        obj = NULL;
    }
    Py_DECREF(fields_set);
    return obj;
}

/* evidence_sorted(ev_cls, fallback, evs): ``ev_sorted`` above, from Python (InventoryBuilder.build's
 * lists of evidence: actions', edges', owners', the secrets). */
static PyObject *
py_evidence_sorted(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "evidence_sorted(ev_cls: type, fallback, evs)");
        return NULL;
    }
    return ev_sorted(args[2], args[0], args[1]);
}

#ifndef _WIN32
/* list_dir(path): scan._list_dir in C: (the entry names sorted, their kinds as one str of "d",
 * "f", "l" or "o", whether every kind is known) of the directory ``path``, as os.scandir and its
 * DirEntry tests give them: the kind read from the listing (d_type), or from lstat where the
 * file system does not give it (a file gone meanwhile is "o"; any other failure "o" and not
 * known). Raises OSError when the directory cannot be opened or read. A cold walk lists every
 * directory of the tree (~16,000 at 2,000 services); the Python loop over DirEntry objects was a
 * sixth of its time. */
static PyObject *
py_list_dir(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "list_dir(path: str)");
        return NULL;
    }
    PyObject *path_bytes = NULL, *entries = NULL, *names = NULL, *kinds = NULL, *result = NULL;
    DIR *dir = NULL;
    if (!PyUnicode_FSConverter(args[0], &path_bytes))
        return NULL;
    /* (Opened from a root's open directory, as stat_sig does, it took no less time.) */
    Py_BEGIN_ALLOW_THREADS
    dir = opendir(PyBytes_AS_STRING(path_bytes));
    Py_END_ALLOW_THREADS
    if (dir == NULL) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, args[0]);
        goto done;
    }
    if ((entries = PyList_New(0)) == NULL)
        goto done;
    for (;;) {  /* (name, d_type) pairs: a pair sorts by its name, unique in a directory */
        errno = 0;
        struct dirent *ent = readdir(dir);
        if (ent == NULL) {
            if (errno != 0) {
                PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, args[0]);
                goto done;
            }
            break;
        }
        const char *n = ent->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
            continue;
        PyObject *name = PyUnicode_DecodeFSDefault(n);
        int d_type = (int)ent->d_type;
        if (name != NULL && !PyUnicode_IS_ASCII(name)) { /* not UTF-8 on disk: listed as 'x' */
            PyObject *strict = PyUnicode_DecodeUTF8(n, (Py_ssize_t)strlen(n), NULL);
            if (strict == NULL) {
                PyErr_Clear();
                d_type = -1;
            }
            Py_XDECREF(strict);
        }
        PyObject *pair = Py_BuildValue("(Ni)", name, d_type);
        if (pair == NULL || PyList_Append(entries, pair) < 0) {
            Py_XDECREF(pair);
            goto done;
        }
        Py_DECREF(pair);
    }
    if (PyList_Sort(entries) < 0)
        goto done;
    Py_ssize_t n = PyList_GET_SIZE(entries);
    if ((names = PyTuple_New(n)) == NULL || (kinds = PyUnicode_New(n, 127)) == NULL)
        goto done;
    int known = 1;
    Py_UCS1 *kind_of = PyUnicode_1BYTE_DATA(kinds);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(entries, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        int d_type = (int)PyLong_AsLong(PyTuple_GET_ITEM(pair, 1));
        char kind = 'o';
        if (d_type == -1)
            kind = 'x';
        else if (d_type == DT_LNK)
            kind = 'l';
        else if (d_type == DT_DIR)
            kind = 'd';
        else if (d_type == DT_REG)
            kind = 'f';
        else if (d_type == DT_UNKNOWN) {
            PyObject *name_bytes = NULL;
            if (!PyUnicode_FSConverter(name, &name_bytes))
                goto done;
            struct stat st;
            int rc;
            Py_BEGIN_ALLOW_THREADS
            rc = fstatat(dirfd(dir), PyBytes_AS_STRING(name_bytes), &st, AT_SYMLINK_NOFOLLOW);
            Py_END_ALLOW_THREADS
            Py_DECREF(name_bytes);
            if (rc == 0)
                kind = S_ISLNK(st.st_mode) ? 'l' : S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 'o';
            else if (errno != ENOENT)
                known = 0;  /* unreadable: skipped, and not remembered */
        }
        kind_of[i] = (Py_UCS1)kind;
        PyTuple_SET_ITEM(names, i, Py_NewRef(name));
    }
    result = Py_BuildValue("(OOO)", names, kinds, known ? Py_True : Py_False);
done:
    if (dir != NULL) {
        Py_BEGIN_ALLOW_THREADS
        closedir(dir);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(path_bytes);
    Py_XDECREF(entries);
    Py_XDECREF(names);
    Py_XDECREF(kinds);
    return result;
}
#endif

/* -- slotted(cls, values): commands.reading's objects, made in one call --------------------
 *
 * An instance of ``cls``, a class whose instances hold ``__slots__`` only (a
 * ``dataclass(slots=True)``), its slots in ``__slots__``' order set to ``values`` (a tuple or
 * list of as many): what ``object.__new__(cls)`` and one assignment per slot make, without
 * the Python call and the descriptor per slot (the actions step reads every sighted line's
 * row into such objects: ~30,000 lines and ~40,000 commands at 2,000 services, on the cold
 * scan's serial tail). The slots' offsets are looked up once per class.
 */
#define SLOTTED_CLASSES 4
#define SLOTTED_MAX 32
static struct {
    PyTypeObject *type;  /* a strong reference: the offsets are its */
    Py_ssize_t n;
    Py_ssize_t offsets[SLOTTED_MAX];
} slotted_cache[SLOTTED_CLASSES];

/* The offsets of ``type``'s slots, in ``*offsets`` (the cache's, or ``spare``'s once the cache
 * is full: looked up again on every call then); their number, or -1 with an exception. */
static Py_ssize_t
slotted_layout(PyTypeObject *type, Py_ssize_t **offsets, Py_ssize_t *spare)
{
    for (int k = 0; k < SLOTTED_CLASSES; k++)
        if (slotted_cache[k].type == type) {
            *offsets = slotted_cache[k].offsets;
            return slotted_cache[k].n;
        }
    int free_at = -1;
    for (int k = 0; k < SLOTTED_CLASSES && free_at < 0; k++)
        if (slotted_cache[k].type == NULL)
            free_at = k;
    Py_ssize_t *into = free_at >= 0 ? slotted_cache[free_at].offsets : spare;
    if (type->tp_dictoffset != 0 || type->tp_itemsize != 0 || type->tp_new != PyBaseObject_Type.tp_new) {
        PyErr_Format(PyExc_TypeError, "slotted: %s is not a class of plain slots", type->tp_name);
        return -1;
    }
    PyObject *names = PyObject_GetAttrString((PyObject *)type, "__slots__");
    if (names == NULL)
        return -1;
    if (!PyTuple_Check(names) || PyTuple_GET_SIZE(names) > SLOTTED_MAX) {
        Py_DECREF(names);
        PyErr_Format(PyExc_TypeError, "slotted: %s's __slots__ is not a tuple of at most %d names", type->tp_name,
                     SLOTTED_MAX);
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *descr = _PyType_Lookup(type, PyTuple_GET_ITEM(names, i)); /* borrowed */
        PyMemberDef *member = descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type)
            ? ((PyMemberDescrObject *)descr)->d_member : NULL;
        if (member == NULL || member->type != T_OBJECT_EX || (member->flags & READONLY)) {
            Py_DECREF(names);
            PyErr_Format(PyExc_TypeError, "slotted: %s has a slot that is not a plain member", type->tp_name);
            return -1;
        }
        into[i] = member->offset;
    }
    Py_DECREF(names);
    if (free_at >= 0) {
        slotted_cache[free_at].n = n;
        slotted_cache[free_at].type = (PyTypeObject *)Py_NewRef(type);
    }
    *offsets = into;
    return n;
}

static PyObject *
py_slotted(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyType_Check(args[0]) || !(PyTuple_CheckExact(args[1]) || PyList_CheckExact(args[1]))) {
        PyErr_SetString(PyExc_TypeError, "slotted(cls: type, values: tuple | list)");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)args[0];
    Py_ssize_t spare[SLOTTED_MAX], *offsets;
    Py_ssize_t n = slotted_layout(type, &offsets, spare);
    if (n < 0)
        return NULL;
    PyObject **items = PySequence_Fast_ITEMS(args[1]);
    if (PySequence_Fast_GET_SIZE(args[1]) != n) {
        PyErr_Format(PyExc_TypeError, "slotted: %s takes %zd values, not %zd", type->tp_name, n,
                     PySequence_Fast_GET_SIZE(args[1]));
        return NULL;
    }
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        *(PyObject **)((char *)obj + offsets[i]) = Py_NewRef(items[i]);
    return obj;
}

static PyMethodDef methods[] = {
    {"build", (PyCFunction)(void (*)(void))py_build, METH_FASTCALL,
     "build(plan, row, evidence[, consume]): one model of ``plan`` from its stored tuple (``consume``: its lists of "
     "rows are emptied as their models are made)."},
    {"build_many", (PyCFunction)(void (*)(void))py_build_many, METH_FASTCALL,
     "build_many(plan, rows, evidence[, consume]): a list of models of ``plan``, one per stored tuple (``consume``: "
     "``rows`` and the lists of rows in them are emptied as their models are made)."},
    {"load", (PyCFunction)(void (*)(void))py_load, METH_FASTCALL,
     "load(plan, evidence_plan, payload[, many]): the model (list of models) stored in payload, built as it is read; "
     "None for a payload only marshal reads"},
    {"encode", (PyCFunction)(void (*)(void))py_encode, METH_FASTCALL,
     "encode(plan, obj, many, strings, evidence[, see, step, every]): the payload of the model ``obj`` of ``plan`` "
     "(of the list ``obj``, many), as marshal writes (body, evidence table)."},
    {"marshal_v2", (PyCFunction)py_marshal_v2, METH_O,
     "marshal_v2(obj): marshal.dumps(obj, 2) of plain data (dict, tuple, list, str, bytes, None, bool), made with "
     "the GIL let go; None for anything else. ``obj`` must not change meanwhile."},
    {"encode_ahead", (PyCFunction)(void (*)(void))py_encode_ahead, METH_FASTCALL,
     "encode_ahead(models, plan, obj, strings, evidence[, see, step, every[, known]]): encode's payload of the model "
     "``obj``, its longest list of models written ``models`` at a time on a second thread too; None when ``see`` "
     "answered something true for a value of that list (encode it then). ``see`` and ``step`` must change nothing."},
    {"dir_entries", (PyCFunction)(void (*)(void))py_dir_entries, METH_FASTCALL,
     "dir_entries(prefix, rel_dir, names, kinds, skip_dirs, job): the file jobs and subdirectories of a listed "
     "directory of files and directories only, as scan.walk_files makes them; None for any other."},
    {"norm_entity", (PyCFunction)(void (*)(void))py_norm_entity, METH_FASTCALL,
     "norm_entity(entity, Evidence, no_data_kinds, ev_fallback): InventoryBuilder.build's norm() of an entity, on "
     "the entity itself (its __dict__ updated); returns it."},
    {"by_sorted_key", (PyCFunction)(void (*)(void))py_by_sorted_key, METH_FASTCALL,
     "by_sorted_key(table, fields): the values of the dict ``table`` in the order of its sorted keys, and the "
     "positions of those whose __dict__ holds one of ``fields`` with two or more items."},
    {"plain_reads", (PyCFunction)py_plain_reads, METH_O,
     "plain_reads(cls): instances of the class read attributes as object.__getattribute__ does, without the "
     "__getattr__ hook (for pydantic models without private attributes or extras: commands.model.plain_reads)."},
    {"sort_ahead", (PyCFunction)(void (*)(void))py_sort_ahead, METH_FASTCALL,
     "sort_ahead(((table, fields), ...)): a job working out by_sorted_key(table, fields) of each pair on another "
     "thread; none of the tables or their values may change until sorted_ahead asks."},
    {"ahead_answered", (PyCFunction)py_ahead_answered, METH_O,
     "ahead_answered(job): whether sort_ahead's thread worked out each table (waited for)."},
    {"sorted_ahead", (PyCFunction)(void (*)(void))py_sorted_ahead, METH_FASTCALL,
     "sorted_ahead(job, i): by_sorted_key of the job's i-th (table, fields), as it is now (waited for)."},
    {"evidence_sorted", (PyCFunction)(void (*)(void))py_evidence_sorted, METH_FASTCALL,
     "evidence_sorted(ev_cls, fallback, evs): sorted(set(evs), key=(path, line)) for a list of ev_cls (the first of "
     "equal ones kept), fallback(evs) for anything else; a list of its own."},
    {"slotted", (PyCFunction)(void (*)(void))py_slotted, METH_FASTCALL,
     "slotted(cls, values): an instance of a class of plain __slots__, its slots (in __slots__' order) set to "
     "``values``, without __new__ or __init__ (commands.reading)."},
    {"trusted", (PyCFunction)(void (*)(void))py_trusted, METH_FASTCALL | METH_KEYWORDS,
     "trusted(model, fields[, given[, private]]): an instance of ``model`` of ``fields`` without validation "
     "(commands.model.trusted)."},
    {"keyword_set", (PyCFunction)(void (*)(void))py_keyword_set, METH_FASTCALL,
     "keyword_set(words): the set has_keyword searches for (None when a word is empty, not ASCII or holds NUL)."},
    {"has_keyword", (PyCFunction)(void (*)(void))py_has_keyword, METH_FASTCALL,
     "has_keyword(keyword_set, text): whether any of the set's words occurs in ``text``."},
#ifndef _WIN32
    {"write_strings", (PyCFunction)(void (*)(void))py_write_strings, METH_FASTCALL,
     "write_strings(fd, strings): one chunk of the judging helper's stream (its 8-byte length, then "
     "marshal.dumps(strings, 2)'s bytes) written to fd, the GIL let go."},
    {"list_dir", (PyCFunction)(void (*)(void))py_list_dir, METH_FASTCALL,
     "list_dir(path): (sorted entry names, their kinds as a str of d/f/l/o/x, whether every kind is known) of the "
     "directory, as scan._list_dir gives them; raises OSError."},
    {"stat_sig", (PyCFunction)(void (*)(void))py_stat_sig, METH_FASTCALL,
     "stat_sig(path, for_dir[, bases]): (sig, size, newest_ns) of os.stat(path), as scan's walk keeps it."},
    {"known_digests", (PyCFunction)(void (*)(void))py_known_digests, METH_FASTCALL,
     "known_digests(jobs, known, used, max_bytes): each job's digest from the walk cache when its stat is unchanged, "
     "else None; and the total size of those files."},
    {"pack_stats", (PyCFunction)(void (*)(void))py_pack_stats, METH_FASTCALL,
     "pack_stats(dirs, used_dirs, files, used_files): the walk's stat records (scan.TreeStats), or None."},
    {"stats_unchanged", (PyCFunction)(void (*)(void))py_stats_unchanged, METH_FASTCALL,
     "stats_unchanged(records, bases): (files, total size) when every record's stat is as recorded, else None."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_cbuild", "Build stored pydantic models from their stored tuples, and encode them (see inventory.store).",
    -1, methods,
};

/* BaseModel.__dict__[name], a data descriptor. */
static PyObject *
slot_descriptor(PyObject *base_dict, const char *name)
{
    PyObject *descr = PyMapping_GetItemString(base_dict, name);
    if (descr == NULL || Py_TYPE(descr)->tp_descr_set == NULL) {
        Py_XDECREF(descr);
        PyErr_Format(PyExc_ImportError, "pydantic.BaseModel has no %s slot", name);
        return NULL;
    }
    return descr;
}

/* The pydantic.BaseModel slots a model is made with, looked up on first use rather than when
 * the module is imported: the scrub's judging helper imports this module for the keyword
 * search alone, and importing pydantic was half of its start on the scan's spare core. */
static int
model_slots(void)
{
    if (set_private != NULL)
        return 0;
    PyObject *pydantic = PyImport_ImportModule("pydantic");
    if (pydantic == NULL)
        return -1;
    PyObject *base = PyObject_GetAttrString(pydantic, "BaseModel");
    Py_DECREF(pydantic);
    if (base == NULL)
        return -1;
    PyObject *base_dict = PyObject_GetAttrString(base, "__dict__");
    Py_DECREF(base);
    if (base_dict == NULL)
        return -1;
    PyObject *fields_set = slot_descriptor(base_dict, "__pydantic_fields_set__");
    PyObject *extra = fields_set ? slot_descriptor(base_dict, "__pydantic_extra__") : NULL;
    PyObject *private = extra ? slot_descriptor(base_dict, "__pydantic_private__") : NULL;
    Py_DECREF(base_dict);
    if (private == NULL) {
        Py_XDECREF(fields_set);
        Py_XDECREF(extra);
        return -1;
    }
    set_fields_set = fields_set;
    set_extra = extra;
    set_private = private;  /* last: the others are set once this is */
    return 0;
}

PyMODINIT_FUNC
PyInit__cbuild(void)
{
    dict_name = PyUnicode_InternFromString("__dict__");
    path_name = PyUnicode_InternFromString("path");
    line_name = PyUnicode_InternFromString("line");
    value_name = PyUnicode_InternFromString("value");
    name_name = PyUnicode_InternFromString("name");
    facts_name = name_name;
    struct { PyObject **slot; const char *text; } names[] = {
        {&str_evidence, "evidence"}, {&str_environments, "environments"},
        {&str_environment_sources, "environment_sources"}, {&str_data_classes, "data_classes"},
        {&str_owners, "owners"}, {&str_labels, "labels"}, {&str_attributes, "attributes"}, {&str_facts, "facts"},
        {&str_kind, "kind"}, {&str_grants, "grants_access_to"},
        {&str_data_class, "data_class"}, {&str_environment, "environment"}, {&str_resolver, "resolver"},
        {&str_how, "how"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if ((*names[k].slot = PyUnicode_InternFromString(names[k].text)) == NULL)
            return NULL;
#ifndef _WIN32
    path_attr = PyUnicode_InternFromString("path");
    if (path_attr == NULL)
        return NULL;
#endif
    empty_tuple = PyTuple_New(0);
    if (dict_name == NULL || path_name == NULL || line_name == NULL || value_name == NULL || name_name == NULL
        || empty_tuple == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VALUE", K_VALUE) < 0 || PyModule_AddIntConstant(m, "EV", K_EV) < 0
        || PyModule_AddIntConstant(m, "EVS", K_EVS) < 0 || PyModule_AddIntConstant(m, "MODEL", K_MODEL) < 0
        || PyModule_AddIntConstant(m, "OPT_MODEL", K_OPT_MODEL) < 0
        || PyModule_AddIntConstant(m, "MODELS", K_MODELS) < 0 || PyModule_AddIntConstant(m, "JSON", K_JSON) < 0
        || PyModule_AddIntConstant(m, "PLAIN", S_PLAIN) < 0 || PyModule_AddIntConstant(m, "SEEN", S_SEEN) < 0
        || PyModule_AddIntConstant(m, "KEYED", S_KEYED) < 0 || PyModule_AddIntConstant(m, "PAIR", S_PAIR) < 0
        || PyModule_AddIntConstant(m, "X_STR", X_STR) < 0 || PyModule_AddIntConstant(m, "X_SCALAR", X_SCALAR) < 0
        || PyModule_AddIntConstant(m, "X_LITERAL", X_LITERAL) < 0 || PyModule_AddIntConstant(m, "X_LIST", X_LIST) < 0
        || PyModule_AddIntConstant(m, "X_DICT", X_DICT) < 0 || PyModule_AddIntConstant(m, "X_UNION", X_UNION) < 0
        || PyModule_AddIntConstant(m, "STATS_FROM_BASES", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
