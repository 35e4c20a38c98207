/* Build stored pydantic models from their stored tuples, in C.
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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { K_VALUE, K_EV, K_EVS, K_MODEL, K_OPT_MODEL, K_MODELS, K_JSON };

/* The descriptors of the three slots pydantic keeps beside __dict__, and "__dict__". */
static PyObject *set_fields_set, *set_extra, *set_private, *dict_name, *empty_tuple;

static PyObject *build_one(PyObject *plan, PyObject *row, PyObject *ev);
static PyObject *build_list(PyObject *plan, PyObject *rows, PyObject *ev);

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
field_value(PyObject *plan, Py_ssize_t i, char kind, PyObject *v, PyObject *ev)
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
        return build_one(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), v, ev);
    case K_OPT_MODEL:
        if (v == Py_None)
            return Py_NewRef(Py_None);
        return build_one(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), v, ev);
    case K_MODELS:
        truth = PyObject_IsTrue(v);
        if (truth < 0)
            return NULL;
        if (!truth)
            return PyList_New(0);
        return build_list(PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 3), i), v, ev);
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

/* One model of ``plan`` from its stored tuple ``row``. */
static PyObject *
build_one(PyObject *plan, PyObject *row, PyObject *ev)
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
        PyObject *value = field_value(plan, i, kinds[i], items[i], ev);
        if (value == NULL)
            goto fail;
        int rc = PyDict_SetItem(dict, PyTuple_GET_ITEM(keys, i), value);
        Py_DECREF(value);
        if (rc < 0)
            goto fail;
    }
    obj = PyBaseObject_Type.tp_new((PyTypeObject *)PyTuple_GET_ITEM(plan, 0), empty_tuple, NULL);
    if (obj == NULL || PyObject_GenericSetAttr(obj, dict_name, dict) < 0
        || set_slot(set_fields_set, obj, PyTuple_GET_ITEM(plan, 4)) < 0
        || set_slot(set_extra, obj, Py_None) < 0 || set_slot(set_private, obj, Py_None) < 0)
        goto fail;
    Py_DECREF(dict);
    Py_DECREF(seq);
    return obj;
fail:
    Py_XDECREF(obj);
    Py_XDECREF(dict);
    Py_DECREF(seq);
    return NULL;
}

/* A list of models of ``plan``, one per stored tuple of ``rows``. */
static PyObject *
build_list(PyObject *plan, PyObject *rows, PyObject *ev)
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
        PyObject *obj = build_one(plan, items[i], ev);
        if (obj == NULL) {
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(out, i, obj);
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

static PyObject *
py_build(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "build(plan, row, evidence) takes 3 arguments");
        return NULL;
    }
    if (check_ev(args[2]) < 0)
        return NULL;
    return build_one(args[0], args[1], args[2]);
}

static PyObject *
py_build_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "build_many(plan, rows, evidence) takes 3 arguments");
        return NULL;
    }
    if (check_ev(args[2]) < 0 || check_plan(args[0]) < 0)
        return NULL;
    return build_list(args[0], args[1], args[2]);
}

static PyMethodDef methods[] = {
    {"build", (PyCFunction)(void (*)(void))py_build, METH_FASTCALL,
     "build(plan, row, evidence): one model of ``plan`` from its stored tuple."},
    {"build_many", (PyCFunction)(void (*)(void))py_build_many, METH_FASTCALL,
     "build_many(plan, rows, evidence): a list of models of ``plan``, one per stored tuple."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_cbuild", "Build stored pydantic models from their stored tuples (see inventory.store).",
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

PyMODINIT_FUNC
PyInit__cbuild(void)
{
    PyObject *pydantic = PyImport_ImportModule("pydantic");
    if (pydantic == NULL)
        return NULL;
    PyObject *base = PyObject_GetAttrString(pydantic, "BaseModel");
    Py_DECREF(pydantic);
    if (base == NULL)
        return NULL;
    PyObject *base_dict = PyObject_GetAttrString(base, "__dict__");
    Py_DECREF(base);
    if (base_dict == NULL)
        return NULL;
    set_fields_set = slot_descriptor(base_dict, "__pydantic_fields_set__");
    set_extra = set_fields_set ? slot_descriptor(base_dict, "__pydantic_extra__") : NULL;
    set_private = set_extra ? slot_descriptor(base_dict, "__pydantic_private__") : NULL;
    Py_DECREF(base_dict);
    if (set_private == NULL)
        return NULL;
    dict_name = PyUnicode_InternFromString("__dict__");
    empty_tuple = PyTuple_New(0);
    if (dict_name == NULL || empty_tuple == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VALUE", K_VALUE) < 0 || PyModule_AddIntConstant(m, "EV", K_EV) < 0
        || PyModule_AddIntConstant(m, "EVS", K_EVS) < 0 || PyModule_AddIntConstant(m, "MODEL", K_MODEL) < 0
        || PyModule_AddIntConstant(m, "OPT_MODEL", K_OPT_MODEL) < 0
        || PyModule_AddIntConstant(m, "MODELS", K_MODELS) < 0 || PyModule_AddIntConstant(m, "JSON", K_JSON) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
