/* The per-call fast path of compiled loop kernels (see fastcall.py): FlatCall objects run
 * one elementwise kernel ``void k(long n, void *operand0, ...)`` on C-contiguous operands of
 * one shape, and its strided loop on the one layout of other operands they remember; ReduceCall objects one reduction kernel on C-contiguous inputs of the shape
 * whose layout they remember. Built when mlc is installed (setup.py); without it mlc runs
 * the Python path. */
#define PY_SSIZE_T_CLEAN
#include <stddef.h>
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include "_cells.h"

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
    struct Strided *strided;  /* the remembered strided layout, or NULL */
} FlatCall;

/* The strided loop ``void k(int ndim, long *shape, long *strides, void *operand0, ...)`` on
 * operands of the one layout (shapes and byte strides) the thunk's Python path remembered:
 * a loop's slices keep theirs from call to call. */
#define MAX_STRIDED_OPERANDS 8
#define MAX_STRIDED_DIMS 8

struct Strided {
    void *kernel;
    PyObject *held;   /* the int64 arrays of the shape and the element strides, kept alive here */
    void *layout[2];
    int nd, nds[MAX_STRIDED_OPERANDS];
    npy_intp shape[MAX_STRIDED_DIMS], out_strides[MAX_STRIDED_DIMS];
    npy_intp dims[MAX_STRIDED_OPERANDS][MAX_STRIDED_DIMS], strides[MAX_STRIDED_OPERANDS][MAX_STRIDED_DIMS];
};

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

static void run_strided(void *kernel, int nd, void *const *l, int n_operands, void **p) {
    typedef void *v;
    switch (n_operands) {
    case 2: ((void (*)(int, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1]); break;
    case 3: ((void (*)(int, v, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1], p[2]); break;
    case 4: ((void (*)(int, v, v, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1], p[2], p[3]); break;
    case 5: ((void (*)(int, v, v, v, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1], p[2], p[3], p[4]); break;
    case 6: ((void (*)(int, v, v, v, v, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1], p[2], p[3], p[4], p[5]); break;
    case 7: ((void (*)(int, v, v, v, v, v, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1], p[2], p[3], p[4], p[5], p[6]); break;
    case 8: ((void (*)(int, v, v, v, v, v, v, v, v, v, v))kernel)(nd, l[0], l[1], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]); break;
    }
}

/* Operands that are not all C-contiguous of one shape: the strided loop where they have the
 * remembered layout (and so does the output the call would write), else the Python path. */
static PyObject *strided_call(FlatCall *self, PyArrayObject **arrays, void **p) {
    const struct Strided *s = self->strided;
    const int n = self->n_in;
    if (s == NULL) return PyObject_CallNoArgs(self->fallback);
    for (int i = 0; i < n; i++) {
        const int nd = PyArray_NDIM(arrays[i]);
        if (nd != s->nds[i] || !PyArray_CompareLists(PyArray_DIMS(arrays[i]), s->dims[i], nd)
                || !PyArray_CompareLists(PyArray_STRIDES(arrays[i]), s->strides[i], nd))
            return PyObject_CallNoArgs(self->fallback);
    }
    PyObject *out = NULL;
    if (self->inplace >= 0) {
        PyArrayObject *target = arrays[self->inplace];
        if (same_shape(target, s->nd, (npy_intp *)s->shape) && PyArray_ISWRITEABLE(target)) out = (PyObject *)target;
    }
    if (out != NULL) Py_INCREF(out);
    else if ((out = output(self->buffer, s->nd, (npy_intp *)s->shape, self->typenum)) == NULL) return NULL;
    if (!PyArray_CompareLists(PyArray_STRIDES((PyArrayObject *)out), s->out_strides, s->nd)) {
        Py_DECREF(out);
        return PyObject_CallNoArgs(self->fallback);
    }
    p[n] = PyArray_DATA((PyArrayObject *)out);
    const npy_intp size = PyArray_SIZE((PyArrayObject *)out);
    /* copied, its arrays held: another thread may remember another layout while this one runs */
    void *const kernel = s->kernel, *const layout[2] = {s->layout[0], s->layout[1]};
    const int nd = s->nd;
    PyObject *held = s->held;
    Py_INCREF(held);
    if (size >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        run_strided(kernel, nd, layout, n + 1, p);
        Py_END_ALLOW_THREADS
    } else if (size) {
        run_strided(kernel, nd, layout, n + 1, p);
    }
    Py_DECREF(held);
    PyList_SetItem(self->out_cell, 0, out);  /* steals the reference */
    Py_RETURN_NONE;
}

/* The data pointers of the ``n`` C-contiguous int64 arrays in the tuple ``held``. */
static int held_pointers(PyObject *held, int n, void **pointers, const char *what) {
    if (PyTuple_GET_SIZE(held) != n) {
        PyErr_Format(PyExc_ValueError, "%s.remember: held must be %d arrays", what, n);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        PyObject *a = PyTuple_GET_ITEM(held, k);
        if (!PyArray_CheckExact(a) || PyArray_TYPE((PyArrayObject *)a) != NPY_INT64
                || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)a)) {
            PyErr_Format(PyExc_TypeError, "%s.remember: held must be C-contiguous int64 arrays", what);
            return -1;
        }
        pointers[k] = PyArray_DATA((PyArrayObject *)a);
    }
    return 0;
}

static int read_tuple(PyObject *tuple, npy_intp *values, int *count, int most, const char *what) {
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) > most) {
        PyErr_Format(PyExc_ValueError, "remember: %s must be a tuple of at most %d", what, most);
        return -1;
    }
    *count = (int)PyTuple_GET_SIZE(tuple);
    for (int d = 0; d < *count; d++) {
        values[d] = PyLong_AsSsize_t(PyTuple_GET_ITEM(tuple, d));
        if (values[d] == -1 && PyErr_Occurred()) return -1;
    }
    return 0;
}

/* remember(kernel, shape, shapes, strides, out_strides, held): run the strided ``kernel``
 * (an address) whenever the inputs have these ``shapes`` and byte ``strides`` (a tuple per
 * input) and the output ``shape`` and ``out_strides``; ``held``: the C-contiguous int64
 * arrays of the shape and the element strides it is given, kept alive here. */
static PyObject *flat_remember(FlatCall *self, PyObject *args) {
    unsigned long long kernel;
    PyObject *shape, *shapes, *strides, *out_strides, *held;
    if (!PyArg_ParseTuple(args, "KO!O!O!O!O!", &kernel, &PyTuple_Type, &shape, &PyTuple_Type, &shapes,
                          &PyTuple_Type, &strides, &PyTuple_Type, &out_strides, &PyTuple_Type, &held))
        return NULL;
    const int n = self->n_in;
    if (n + 1 > MAX_STRIDED_OPERANDS || PyTuple_GET_SIZE(shapes) != n || PyTuple_GET_SIZE(strides) != n) {
        PyErr_SetString(PyExc_ValueError, "FlatCall.remember: a shape and strides per input");
        return NULL;
    }
    struct Strided s;
    s.kernel = (void *)(uintptr_t)kernel;
    if (held_pointers(held, 2, s.layout, "FlatCall") < 0) return NULL;
    int count;
    if (read_tuple(shape, s.shape, &s.nd, MAX_STRIDED_DIMS, "shape") < 0
            || read_tuple(out_strides, s.out_strides, &count, MAX_STRIDED_DIMS, "out_strides") < 0)
        return NULL;
    if (count != s.nd) {
        PyErr_SetString(PyExc_ValueError, "FlatCall.remember: out_strides must match the shape");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (read_tuple(PyTuple_GET_ITEM(shapes, i), s.dims[i], &s.nds[i], MAX_STRIDED_DIMS, "each shape") < 0
                || read_tuple(PyTuple_GET_ITEM(strides, i), s.strides[i], &count, MAX_STRIDED_DIMS, "each strides") < 0)
            return NULL;
        if (count != s.nds[i]) {
            PyErr_SetString(PyExc_ValueError, "FlatCall.remember: each input's strides must match its shape");
            return NULL;
        }
    }
    if (self->strided == NULL) {
        if ((self->strided = PyMem_Malloc(sizeof(struct Strided))) == NULL) return PyErr_NoMemory();
        self->strided->held = NULL;
    }
    Py_INCREF(held);
    s.held = held;
    PyObject *previous = self->strided->held;
    *self->strided = s;
    Py_XDECREF(previous);
    Py_RETURN_NONE;
}

static PyObject *flat_call(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    FlatCall *self = (FlatCall *)obj;
    PyArrayObject *arrays[MAX_OPERANDS];
    void *p[MAX_OPERANDS];
    const int n = self->n_in;
    int contiguous = 1;
    for (int i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(PyTuple_GET_ITEM(self->ins, i), 0);
        if (!PyArray_CheckExact(v)) return PyObject_CallNoArgs(self->fallback);
        arrays[i] = (PyArrayObject *)v;
        p[i] = PyArray_DATA(arrays[i]);
        contiguous &= PyArray_IS_C_CONTIGUOUS(arrays[i]) != 0;
    }
    if (!contiguous) return strided_call(self, arrays, p);
    PyArrayObject *lead = arrays[self->lead];
    const int nd = PyArray_NDIM(lead);
    npy_intp *dims = PyArray_DIMS(lead);
    for (int i = 0; i < n; i++)
        if (!self->scalar[i] && !same_shape(arrays[i], nd, dims))
            return strided_call(self, arrays, p);
    PyObject *out = NULL;
    if (self->inplace >= 0) {
        PyArrayObject *target = arrays[self->inplace];
        if (same_shape(target, nd, dims) && PyArray_ISWRITEABLE(target)) out = (PyObject *)target;
    }
    if (out != NULL) Py_INCREF(out);
    else if ((out = output(self->buffer, nd, dims, self->typenum)) == NULL) return NULL;
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
    if (check_cells("FlatCall", ins, out_cell, buffer) < 0) return NULL;
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
    self->strided = NULL;
    return (PyObject *)self;
}

static int flat_traverse(FlatCall *self, visitproc visit, void *arg) {
    Py_VISIT(self->ins); Py_VISIT(self->out_cell); Py_VISIT(self->buffer); Py_VISIT(self->fallback);
    if (self->strided != NULL) Py_VISIT(self->strided->held);
    return 0;
}

static int flat_clear(FlatCall *self) {
    Py_CLEAR(self->ins); Py_CLEAR(self->out_cell); Py_CLEAR(self->buffer); Py_CLEAR(self->fallback);
    if (self->strided != NULL) {
        Py_CLEAR(self->strided->held);
        PyMem_Free(self->strided);
        self->strided = NULL;
    }
    return 0;
}

static void flat_dealloc(FlatCall *self) {
    PyObject_GC_UnTrack(self);
    flat_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef flat_methods[] = {
    {"remember", (PyCFunction)flat_remember, METH_VARARGS, "Remember the strided loop of one layout of the operands."},
    {NULL, NULL, 0, NULL},
};

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
    .tp_methods = flat_methods,
    .tp_doc = "One elementwise kernel over C-contiguous operands of one shape, or over the strided layout it remembers.",
};

/* ReduceCall: one reduction kernel ``void k(int nk, int nr, long *kept, long *reduced,
 * long *kept_strides, long *reduced_strides, void *operand0, ...)`` on C-contiguous inputs of
 * the one shape whose loop layout the thunk's Python path remembered (remember()). */
#define MAX_REDUCE_OPERANDS 8

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *ins, *out_cell, *buffer, *fallback;
    PyObject *held;  /* the four int64 arrays of the remembered layout, or NULL */
    void *kernel;
    void *layout[4];
    int n_in, typenum, nd, out_nd, nk, nr;
    npy_intp dims[NPY_MAXDIMS], out_dims[NPY_MAXDIMS];
} ReduceCall;

static void run_reduce(ReduceCall *self, void **p) {
    void **l = self->layout;
    const int nk = self->nk, nr = self->nr;
    typedef void *v;
    switch (self->n_in + 1) {
    case 2: ((void (*)(int, int, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1]); break;
    case 3: ((void (*)(int, int, v, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1], p[2]); break;
    case 4: ((void (*)(int, int, v, v, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1], p[2], p[3]); break;
    case 5: ((void (*)(int, int, v, v, v, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1], p[2], p[3], p[4]); break;
    case 6: ((void (*)(int, int, v, v, v, v, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1], p[2], p[3], p[4], p[5]); break;
    case 7: ((void (*)(int, int, v, v, v, v, v, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1], p[2], p[3], p[4], p[5], p[6]); break;
    case 8: ((void (*)(int, int, v, v, v, v, v, v, v, v, v, v, v, v))self->kernel)(nk, nr, l[0], l[1], l[2], l[3], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]); break;
    }
}

static PyObject *reduce_call(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    ReduceCall *self = (ReduceCall *)obj;
    void *p[MAX_REDUCE_OPERANDS];
    if (self->held == NULL) return PyObject_CallNoArgs(self->fallback);
    npy_intp size = 0;
    for (int i = 0; i < self->n_in; i++) {
        PyObject *v = PyList_GET_ITEM(PyTuple_GET_ITEM(self->ins, i), 0);
        if (!PyArray_CheckExact(v) || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)v)
                || !same_shape((PyArrayObject *)v, self->nd, self->dims))
            return PyObject_CallNoArgs(self->fallback);
        p[i] = PyArray_DATA((PyArrayObject *)v);
        size = PyArray_SIZE((PyArrayObject *)v);
    }
    PyObject *out = output(self->buffer, self->out_nd, self->out_dims, self->typenum);
    if (out == NULL) return NULL;
    p[self->n_in] = PyArray_DATA((PyArrayObject *)out);
    if (size >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        run_reduce(self, p);
        Py_END_ALLOW_THREADS
    } else {
        run_reduce(self, p);
    }
    PyList_SetItem(self->out_cell, 0, out);  /* steals the reference */
    Py_RETURN_NONE;
}

static int read_dims(PyObject *tuple, npy_intp *dims, int *nd) {
    if (read_tuple(tuple, dims, nd, NPY_MAXDIMS, "a shape") < 0) return -1;
    for (int d = 0; d < *nd; d++)
        if (dims[d] < 0) {
            PyErr_SetString(PyExc_ValueError, "ReduceCall.remember: negative dim");
            return -1;
        }
    return 0;
}

/* remember(shape, out_shape, nk, nr, held): run the kernel with this layout (``held``: the
 * four C-contiguous int64 arrays of kept dims, reduced dims, kept strides and reduced
 * strides, kept alive here) whenever every input is C-contiguous of ``shape``. */
static PyObject *reduce_remember(ReduceCall *self, PyObject *args) {
    PyObject *shape, *out_shape, *held;
    int nk, nr;
    if (!PyArg_ParseTuple(args, "O!O!iiO!", &PyTuple_Type, &shape, &PyTuple_Type, &out_shape, &nk, &nr,
                          &PyTuple_Type, &held))
        return NULL;
    void *layout[4];
    if (held_pointers(held, 4, layout, "ReduceCall") < 0) return NULL;
    npy_intp dims[NPY_MAXDIMS], out_dims[NPY_MAXDIMS];
    int nd, out_nd;
    if (read_dims(shape, dims, &nd) < 0 || read_dims(out_shape, out_dims, &out_nd) < 0) return NULL;
    Py_INCREF(held);
    Py_XSETREF(self->held, held);
    memcpy(self->layout, layout, sizeof(layout));
    memcpy(self->dims, dims, sizeof(dims));
    memcpy(self->out_dims, out_dims, sizeof(out_dims));
    self->nd = nd; self->out_nd = out_nd; self->nk = nk; self->nr = nr;
    Py_RETURN_NONE;
}

static PyObject *reduce_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *ins, *out_cell, *buffer, *fallback;
    unsigned long long kernel;
    int typenum;
    if (!PyArg_ParseTuple(args, "O!O!OOKi", &PyTuple_Type, &ins, &PyList_Type, &out_cell, &buffer, &fallback,
                          &kernel, &typenum))
        return NULL;
    const Py_ssize_t n = PyTuple_GET_SIZE(ins);
    if (n < 1 || n + 1 > MAX_REDUCE_OPERANDS) {
        PyErr_SetString(PyExc_ValueError, "ReduceCall: 1 to 7 inputs");
        return NULL;
    }
    if (check_cells("ReduceCall", ins, out_cell, buffer) < 0) return NULL;
    ReduceCall *self = (ReduceCall *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = reduce_call;
    Py_INCREF(ins); self->ins = ins;
    Py_INCREF(out_cell); self->out_cell = out_cell;
    Py_INCREF(buffer); self->buffer = buffer;
    Py_INCREF(fallback); self->fallback = fallback;
    self->held = NULL;
    self->kernel = (void *)(uintptr_t)kernel;
    self->n_in = (int)n; self->typenum = typenum;
    return (PyObject *)self;
}

static int reduce_traverse(ReduceCall *self, visitproc visit, void *arg) {
    Py_VISIT(self->ins); Py_VISIT(self->out_cell); Py_VISIT(self->buffer); Py_VISIT(self->fallback);
    Py_VISIT(self->held);
    return 0;
}

static int reduce_clear(ReduceCall *self) {
    Py_CLEAR(self->ins); Py_CLEAR(self->out_cell); Py_CLEAR(self->buffer); Py_CLEAR(self->fallback);
    Py_CLEAR(self->held);
    return 0;
}

static void reduce_dealloc(ReduceCall *self) {
    PyObject_GC_UnTrack(self);
    reduce_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef reduce_methods[] = {
    {"remember", (PyCFunction)reduce_remember, METH_VARARGS, "Remember the loop layout of one input shape."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReduceCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlc.compiler.runtime.cpu._fastcall.ReduceCall",
    .tp_basicsize = sizeof(ReduceCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(ReduceCall, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = reduce_new,
    .tp_traverse = (traverseproc)reduce_traverse,
    .tp_clear = (inquiry)reduce_clear,
    .tp_dealloc = (destructor)reduce_dealloc,
    .tp_methods = reduce_methods,
    .tp_doc = "One reduction kernel over C-contiguous inputs of the shape whose layout it remembers.",
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastcall", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__fastcall(void) {
    import_array();
    if (PyType_Ready(&FlatCallType) < 0 || PyType_Ready(&ReduceCallType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&FlatCallType);
    if (PyModule_AddObject(m, "FlatCall", (PyObject *)&FlatCallType) < 0) return NULL;
    Py_INCREF(&ReduceCallType);
    if (PyModule_AddObject(m, "ReduceCall", (PyObject *)&ReduceCallType) < 0) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_OPERANDS", MAX_OPERANDS) < 0) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_REDUCE_OPERANDS", MAX_REDUCE_OPERANDS) < 0) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_STRIDED_OPERANDS", MAX_STRIDED_OPERANDS) < 0) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_STRIDED_DIMS", MAX_STRIDED_DIMS) < 0) return NULL;
    return m;
}
