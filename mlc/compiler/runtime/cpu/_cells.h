/* What the fast paths (_fastcall.c, _products.c) share: the storage cells a call reads and
 * writes, and the output buffer kept between calls. Each includes it after Python.h and
 * NumPy's arrayobject.h. */
#ifndef MLC_CELLS_H
#define MLC_CELLS_H

static inline int same_shape(PyArrayObject *a, int nd, npy_intp *dims) {
    return PyArray_NDIM(a) == nd && PyArray_CompareLists(PyArray_DIMS(a), dims, nd);
}

/* The cells a call reads and writes are one-element lists (``buffer`` may be None). */
static inline int check_cells(const char *what, PyObject *ins, PyObject *out_cell, PyObject *buffer) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ins); i++) {
        PyObject *cell = PyTuple_GET_ITEM(ins, i);
        if (!PyList_Check(cell) || PyList_GET_SIZE(cell) != 1) goto bad;
    }
    if (PyList_GET_SIZE(out_cell) != 1 || (buffer != Py_None && (!PyList_Check(buffer) || PyList_GET_SIZE(buffer) != 1)))
        goto bad;
    return 0;
bad:
    PyErr_Format(PyExc_TypeError, "%s: cells must be one-element lists", what);
    return -1;
}

/* A new reference to the output: the kept buffer when it has the shape, else a new array
 * (kept in the buffer, when there is one). */
static inline PyObject *output(PyObject *buffer, int nd, npy_intp *dims, int typenum) {
    if (buffer != Py_None) {
        PyObject *kept = PyList_GET_ITEM(buffer, 0);
        if (PyArray_CheckExact(kept) && same_shape((PyArrayObject *)kept, nd, dims)) {
            Py_INCREF(kept);
            return kept;
        }
    }
    PyObject *out = PyArray_SimpleNew(nd, dims, typenum);
    if (out != NULL && buffer != Py_None) { Py_INCREF(out); PyList_SetItem(buffer, 0, out); }
    return out;
}

#endif
