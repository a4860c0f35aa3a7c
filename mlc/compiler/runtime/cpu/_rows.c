/* The per-call fast path of row kernels (see xent.py): RowsCall objects run one kernel
 * ``void k(long n, long k, void *operand0, ..., [void *bad | int flag])`` over rows of k
 * elements (softmax, log-softmax, the crossentropy on labels and their gradients): read the
 * cells, check every operand is a C-contiguous array of the kind and shape the kernel
 * takes, allocate the outputs, call the kernel, in ~0.3 us where the thunk's Python path
 * takes ~4.5 us. Anything else (empty rows, strides, other dtypes, a bad label the kernel
 * reports) goes to the thunk's Python path, which words the errors. Built when mlc is
 * installed (setup.py). */
#define PY_SSIZE_T_CLEAN
#include <stddef.h>
#include <stdint.h>
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include "_cells.h"

#define MAX_ROW_OPERANDS 6
#define RELEASE_GIL_AT 32768  /* elements: larger kernels let other threads run (as cffi calls do) */
#define BAD_ROW (-1)          /* ``tail``: the kernel's last argument points to the first bad label's row (or -1) */

/* Operand kinds: 'm' rows of k (any shape whose last dim is k, the same for every 'm'),
 * 'v' a vector of one value per row (the float dtype), 'l' labels (int64, one per row). */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *ins, *outs, *fallback;
    void *kernel;
    int n_in, n_out, typenum, tail;
    char in_kinds[MAX_ROW_OPERANDS], out_kinds[MAX_ROW_OPERANDS];
} RowsCall;

static void run_rows(RowsCall *self, long n, long k, void **p, int64_t *bad) {
    typedef void *v;
    const int count = self->n_in + self->n_out;
    void *f = self->kernel;
    if (self->tail == BAD_ROW) {
        p[count] = bad;
        switch (count + 1) {
        case 3: ((void (*)(long, long, v, v, v))f)(n, k, p[0], p[1], p[2]); break;
        case 4: ((void (*)(long, long, v, v, v, v))f)(n, k, p[0], p[1], p[2], p[3]); break;
        case 5: ((void (*)(long, long, v, v, v, v, v))f)(n, k, p[0], p[1], p[2], p[3], p[4]); break;
        case 6: ((void (*)(long, long, v, v, v, v, v, v))f)(n, k, p[0], p[1], p[2], p[3], p[4], p[5]); break;
        }
        return;
    }
    const int flag = self->tail;
    switch (count) {
    case 2: ((void (*)(long, long, v, v, int))f)(n, k, p[0], p[1], flag); break;
    case 3: ((void (*)(long, long, v, v, v, int))f)(n, k, p[0], p[1], p[2], flag); break;
    case 4: ((void (*)(long, long, v, v, v, v, int))f)(n, k, p[0], p[1], p[2], p[3], flag); break;
    case 5: ((void (*)(long, long, v, v, v, v, v, int))f)(n, k, p[0], p[1], p[2], p[3], p[4], flag); break;
    case 6: ((void (*)(long, long, v, v, v, v, v, v, int))f)(n, k, p[0], p[1], p[2], p[3], p[4], p[5], flag); break;
    }
}

static PyObject *rows_call(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    RowsCall *self = (RowsCall *)obj;
    PyArrayObject *in[MAX_ROW_OPERANDS], *rows = NULL;
    void *p[MAX_ROW_OPERANDS + 1];
    for (int i = 0; i < self->n_in; i++) {
        PyObject *v = PyList_GET_ITEM(PyTuple_GET_ITEM(self->ins, i), 0);
        if (!PyArray_CheckExact(v) || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)v)) goto python;
        in[i] = (PyArrayObject *)v;
        const int want = self->in_kinds[i] == 'l' ? NPY_INT64 : self->typenum;
        if (PyArray_TYPE(in[i]) != want || PyArray_NDIM(in[i]) < 1) goto python;
        if (self->in_kinds[i] == 'm') {
            if (rows == NULL) rows = in[i];
            else if (!same_shape(in[i], PyArray_NDIM(rows), PyArray_DIMS(rows))) goto python;
        }
        p[i] = PyArray_DATA(in[i]);
    }
    if (rows == NULL) goto python;
    const long k = (long)PyArray_DIM(rows, PyArray_NDIM(rows) - 1), size = (long)PyArray_SIZE(rows);
    if (k == 0 || size == 0) goto python;  /* nothing to compute: perform gives the empty results */
    npy_intp n = size / k;
    for (int i = 0; i < self->n_in; i++)
        if (self->in_kinds[i] != 'm' && (PyArray_NDIM(in[i]) != 1 || PyArray_DIM(in[i], 0) != n)) goto python;
    PyObject *out[MAX_ROW_OPERANDS];
    for (int j = 0; j < self->n_out; j++) {
        out[j] = self->out_kinds[j] == 'm' ? PyArray_SimpleNew(PyArray_NDIM(rows), PyArray_DIMS(rows), self->typenum)
                                          : PyArray_SimpleNew(1, &n, self->typenum);
        if (out[j] == NULL) {
            for (int i = 0; i < j; i++) Py_DECREF(out[i]);
            return NULL;
        }
        p[self->n_in + j] = PyArray_DATA((PyArrayObject *)out[j]);
    }
    int64_t bad = -1;
    if (size >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        run_rows(self, (long)n, k, p, &bad);
        Py_END_ALLOW_THREADS
    } else {
        run_rows(self, (long)n, k, p, &bad);
    }
    if (bad >= 0) {  /* a label out of range: the Python path raises perform's error naming it */
        for (int j = 0; j < self->n_out; j++) Py_DECREF(out[j]);
        goto python;
    }
    for (int j = 0; j < self->n_out; j++)
        PyList_SetItem(PyTuple_GET_ITEM(self->outs, j), 0, out[j]);  /* steals the reference */
    Py_RETURN_NONE;
python:
    return PyObject_CallNoArgs(self->fallback);
}

static PyObject *rows_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *ins, *outs, *in_kinds, *out_kinds, *fallback;
    unsigned long long kernel;
    int typenum, tail;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OKii", &PyTuple_Type, &ins, &PyBytes_Type, &in_kinds, &PyTuple_Type, &outs,
                          &PyBytes_Type, &out_kinds, &fallback, &kernel, &typenum, &tail))
        return NULL;
    const Py_ssize_t n_in = PyTuple_GET_SIZE(ins), n_out = PyTuple_GET_SIZE(outs);
    const Py_ssize_t pointers = n_in + n_out + (tail == BAD_ROW ? 1 : 0);
    if (n_in < 1 || n_out < 1 || pointers < 2 || pointers > MAX_ROW_OPERANDS || PyBytes_GET_SIZE(in_kinds) != n_in
            || PyBytes_GET_SIZE(out_kinds) != n_out || (tail < 0 && tail != BAD_ROW)) {
        PyErr_SetString(PyExc_ValueError, "RowsCall: inconsistent operands");
        return NULL;
    }
    for (Py_ssize_t j = 0; j < n_out; j++) {
        PyObject *cell = PyTuple_GET_ITEM(outs, j);
        if (!PyList_Check(cell) || PyList_GET_SIZE(cell) != 1) {
            PyErr_SetString(PyExc_TypeError, "RowsCall: cells must be one-element lists");
            return NULL;
        }
    }
    if (check_cells("RowsCall", ins, PyTuple_GET_ITEM(outs, 0), Py_None) < 0) return NULL;
    RowsCall *self = (RowsCall *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = rows_call;
    Py_INCREF(ins); self->ins = ins;
    Py_INCREF(outs); self->outs = outs;
    Py_INCREF(fallback); self->fallback = fallback;
    self->kernel = (void *)(uintptr_t)kernel;
    self->n_in = (int)n_in; self->n_out = (int)n_out; self->typenum = typenum; self->tail = tail;
    memcpy(self->in_kinds, PyBytes_AS_STRING(in_kinds), n_in);
    memcpy(self->out_kinds, PyBytes_AS_STRING(out_kinds), n_out);
    return (PyObject *)self;
}

static int rows_traverse(RowsCall *self, visitproc visit, void *arg) {
    Py_VISIT(self->ins); Py_VISIT(self->outs); Py_VISIT(self->fallback);
    return 0;
}

static int rows_clear(RowsCall *self) {
    Py_CLEAR(self->ins); Py_CLEAR(self->outs); Py_CLEAR(self->fallback);
    return 0;
}

static void rows_dealloc(RowsCall *self) {
    PyObject_GC_UnTrack(self);
    rows_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject RowsCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlc.compiler.runtime.cpu._rows.RowsCall",
    .tp_basicsize = sizeof(RowsCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(RowsCall, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = rows_new,
    .tp_traverse = (traverseproc)rows_traverse,
    .tp_clear = (inquiry)rows_clear,
    .tp_dealloc = (destructor)rows_dealloc,
    .tp_doc = "One row kernel (softmax, crossentropy) over C-contiguous rows of one shape.",
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rows", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__rows(void) {
    import_array();
    if (PyType_Ready(&RowsCallType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&RowsCallType);
    if (PyModule_AddObject(m, "RowsCall", (PyObject *)&RowsCallType) < 0) return NULL;
    if (PyModule_AddIntConstant(m, "BAD_ROW", BAD_ROW) < 0) return NULL;
    return m;
}
