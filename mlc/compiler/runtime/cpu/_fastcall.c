/* The per-call fast path of compiled elementwise kernels (see fastcall.py): FlatCall
 * objects run one kernel ``void k(long n, void *operand0, ...)`` on C-contiguous operands of
 * one shape. Built when mlc is installed (setup.py); without it mlc runs the Python path. */
#define PY_SSIZE_T_CLEAN
#include <stddef.h>
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#define MAX_OPERANDS 40  /* the cases of run() below */
#define RELEASE_GIL_AT 32768  /* elements: larger kernels let other threads run (as cffi calls do) */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *ins;       /* tuple of the input cells (one-element lists) */
    PyObject *out_cell;  /* list */
    PyObject *buffer;    /* one-element list keeping the output between calls, or None */
    PyObject *fallback;  /* the thunk's Python path */
    void *kernel;
    int n_in, lead, inplace, typenum;
    char scalar[MAX_OPERANDS];
} FlatCall;

static int same_shape(PyArrayObject *a, int nd, npy_intp *dims) {
    return PyArray_NDIM(a) == nd && PyArray_CompareLists(PyArray_DIMS(a), dims, nd);
}

static void run(FlatCall *self, long size, void **p) {
    switch (self->n_in + 1) {
    case 2: ((void (*)(long, void*, void*))self->kernel)(size, p[0], p[1]); break;
    case 3: ((void (*)(long, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2]); break;
    case 4: ((void (*)(long, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3]); break;
    case 5: ((void (*)(long, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4]); break;
    case 6: ((void (*)(long, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5]); break;
    case 7: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6]); break;
    case 8: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]); break;
    case 9: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]); break;
    case 10: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]); break;
    case 11: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10]); break;
    case 12: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]); break;
    case 13: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12]); break;
    case 14: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]); break;
    case 15: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]); break;
    case 16: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]); break;
    case 17: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16]); break;
    case 18: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17]); break;
    case 19: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18]); break;
    case 20: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19]); break;
    case 21: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20]); break;
    case 22: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21]); break;
    case 23: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22]); break;
    case 24: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23]); break;
    case 25: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24]); break;
    case 26: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25]); break;
    case 27: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26]); break;
    case 28: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27]); break;
    case 29: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28]); break;
    case 30: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29]); break;
    case 31: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30]); break;
    case 32: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31]); break;
    case 33: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32]); break;
    case 34: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33]); break;
    case 35: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33], p[34]); break;
    case 36: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33], p[34], p[35]); break;
    case 37: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33], p[34], p[35], p[36]); break;
    case 38: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33], p[34], p[35], p[36], p[37]); break;
    case 39: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33], p[34], p[35], p[36], p[37], p[38]); break;
    case 40: ((void (*)(long, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*, void*))self->kernel)(size, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20], p[21], p[22], p[23], p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32], p[33], p[34], p[35], p[36], p[37], p[38], p[39]); break;
    }
}

static PyObject *flat_call(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    FlatCall *self = (FlatCall *)obj;
    PyArrayObject *arrays[MAX_OPERANDS];
    void *p[MAX_OPERANDS];
    const int n = self->n_in;
    for (int i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(PyTuple_GET_ITEM(self->ins, i), 0);
        if (!PyArray_CheckExact(v) || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)v))
            return PyObject_CallNoArgs(self->fallback);
        arrays[i] = (PyArrayObject *)v;
        p[i] = PyArray_DATA(arrays[i]);
    }
    PyArrayObject *lead = arrays[self->lead];
    const int nd = PyArray_NDIM(lead);
    npy_intp *dims = PyArray_DIMS(lead);
    for (int i = 0; i < n; i++)
        if (!self->scalar[i] && !same_shape(arrays[i], nd, dims))
            return PyObject_CallNoArgs(self->fallback);
    PyObject *out = NULL;
    if (self->inplace >= 0) {
        PyArrayObject *target = arrays[self->inplace];
        if (same_shape(target, nd, dims) && PyArray_ISWRITEABLE(target)) out = (PyObject *)target;
    }
    if (out == NULL && self->buffer != Py_None) {
        PyObject *kept = PyList_GET_ITEM(self->buffer, 0);
        if (PyArray_CheckExact(kept) && same_shape((PyArrayObject *)kept, nd, dims)) out = kept;
    }
    if (out == NULL) {
        out = PyArray_SimpleNew(nd, dims, self->typenum);
        if (out == NULL) return NULL;
        if (self->buffer != Py_None) { Py_INCREF(out); PyList_SetItem(self->buffer, 0, out); }
    } else {
        Py_INCREF(out);
    }
    p[n] = PyArray_DATA((PyArrayObject *)out);
    const npy_intp size = PyArray_SIZE((PyArrayObject *)out);
    if (size >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        run(self, (long)size, p);
        Py_END_ALLOW_THREADS
    } else if (size) {
        run(self, (long)size, p);
    }
    PyList_SetItem(self->out_cell, 0, out);  /* steals the reference */
    Py_RETURN_NONE;
}

static PyObject *flat_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *ins, *out_cell, *buffer, *fallback, *scalar;
    unsigned long long kernel;
    int lead, inplace, typenum;
    if (!PyArg_ParseTuple(args, "O!O!OOKO!iii", &PyTuple_Type, &ins, &PyList_Type, &out_cell, &buffer, &fallback,
                          &kernel, &PyBytes_Type, &scalar, &lead, &inplace, &typenum))
        return NULL;
    const Py_ssize_t n = PyTuple_GET_SIZE(ins);
    if (n < 1 || n + 1 > MAX_OPERANDS || PyBytes_GET_SIZE(scalar) != n || lead < 0 || lead >= n || inplace >= n) {
        PyErr_SetString(PyExc_ValueError, "FlatCall: inconsistent operands");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *cell = PyTuple_GET_ITEM(ins, i);
        if (!PyList_Check(cell) || PyList_GET_SIZE(cell) != 1) {
            PyErr_SetString(PyExc_TypeError, "FlatCall: cells must be one-element lists");
            return NULL;
        }
    }
    if (PyList_GET_SIZE(out_cell) != 1 || (buffer != Py_None && (!PyList_Check(buffer) || PyList_GET_SIZE(buffer) != 1))) {
        PyErr_SetString(PyExc_TypeError, "FlatCall: cells must be one-element lists");
        return NULL;
    }
    FlatCall *self = (FlatCall *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = flat_call;
    Py_INCREF(ins); self->ins = ins;
    Py_INCREF(out_cell); self->out_cell = out_cell;
    Py_INCREF(buffer); self->buffer = buffer;
    Py_INCREF(fallback); self->fallback = fallback;
    self->kernel = (void *)(uintptr_t)kernel;
    self->n_in = (int)n; self->lead = lead; self->inplace = inplace; self->typenum = typenum;
    memcpy(self->scalar, PyBytes_AS_STRING(scalar), n);
    return (PyObject *)self;
}

static int flat_traverse(FlatCall *self, visitproc visit, void *arg) {
    Py_VISIT(self->ins); Py_VISIT(self->out_cell); Py_VISIT(self->buffer); Py_VISIT(self->fallback);
    return 0;
}

static int flat_clear(FlatCall *self) {
    Py_CLEAR(self->ins); Py_CLEAR(self->out_cell); Py_CLEAR(self->buffer); Py_CLEAR(self->fallback);
    return 0;
}

static void flat_dealloc(FlatCall *self) {
    PyObject_GC_UnTrack(self);
    flat_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject FlatCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlc.compiler.runtime.cpu._fastcall.FlatCall",
    .tp_basicsize = sizeof(FlatCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(FlatCall, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = flat_new,
    .tp_traverse = (traverseproc)flat_traverse,
    .tp_clear = (inquiry)flat_clear,
    .tp_dealloc = (destructor)flat_dealloc,
    .tp_doc = "One elementwise kernel over C-contiguous operands of one shape.",
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastcall", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__fastcall(void) {
    import_array();
    if (PyType_Ready(&FlatCallType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&FlatCallType);
    if (PyModule_AddObject(m, "FlatCall", (PyObject *)&FlatCallType) < 0) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_OPERANDS", MAX_OPERANDS) < 0) return NULL;
    return m;
}
