"""The per-call fast path of compiled elementwise kernels, in C: a small CPython extension,
built once per machine and Python into the build cache, whose ``FlatCall`` objects run one
kernel on C-contiguous operands of one shape — read the cells, take the data pointers,
reuse or allocate the output, call the kernel — in a fraction of a microsecond, where the
same steps through cffi cost ~2.5 µs. Anything else (broadcasting, strides, non-array
values) goes to the thunk's Python path. Without Python's or NumPy's headers, or a
compiler, there is no fast path and nothing else changes.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

# Operands (inputs and output) of the largest kernel called here; larger ones take the Python path.
MAX_OPERANDS = 40
# Kernels over this many elements run with the GIL released (as cffi's calls do), so that
# other threads' calls overlap; below it, releasing costs more than the kernel.
RELEASE_GIL_AT = 32768

_CALLS = "\n".join(
    f"    case {n}: ((void (*)(long{', void*' * n}))self->kernel)(size"
    + "".join(f", p[{k}]" for k in range(n)) + "); break;"
    for n in range(2, MAX_OPERANDS + 1))

SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <stddef.h>
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#define MAX_OPERANDS @MAX@

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
@CALLS@
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
    if (size >= @RELEASE@) {
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
    .tp_name = "mlc_fastcall.FlatCall",
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

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "mlc_fastcall", NULL, -1, NULL};

PyMODINIT_FUNC PyInit_mlc_fastcall(void) {
    import_array();
    if (PyType_Ready(&FlatCallType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&FlatCallType);
    if (PyModule_AddObject(m, "FlatCall", (PyObject *)&FlatCallType) < 0) return NULL;
    return m;
}
""".replace("@MAX@", str(MAX_OPERANDS)).replace("@CALLS@", _CALLS).replace("@RELEASE@", str(RELEASE_GIL_AT))


@lru_cache(maxsize=None)
def module() -> Any:
    """The built extension, or None (no compiler, no headers, or a failed build)."""
    from . import toolchain
    from ...codegen.cache import artifact, cache_key
    cxx = toolchain.compiler()
    python_include = Path(sysconfig.get_paths()["include"])
    if cxx is None or not (python_include / "Python.h").exists():
        return None
    includes = [f"-I{python_include}", f"-I{np.get_include()}"]
    flags = ("-O2", "-fPIC", "-shared", "-std=gnu11")
    identity = f"{toolchain._compiler_identity(cxx)}|{sys.version}|{np.__version__}|{sys.implementation.cache_tag}"
    key = cache_key(SOURCE, identity, flags + tuple(includes), toolchain.machine_identity())

    def build(directory: Path, output: Path) -> None:
        c_file = output.with_suffix(".c")
        c_file.write_text(SOURCE)
        try:
            toolchain._run_all([[cxx, *flags, *includes, str(c_file), "-o", str(output)]], cxx)
        finally:
            c_file.unlink(missing_ok=True)

    try:
        path = artifact(key, ".so", build, SOURCE)
        loader = importlib.machinery.ExtensionFileLoader("mlc_fastcall", str(path))
        spec = importlib.util.spec_from_file_location("mlc_fastcall", str(path), loader=loader)
        extension = importlib.util.module_from_spec(spec)
        loader.exec_module(extension)
    except (OSError, ImportError, toolchain.CompileError):
        return None
    return extension


def flat_call(ins: list, out_cell: list, buffer: list | None, fallback: Callable[[], None], kernel: Any,
              scalar: list[bool], lead: int, inplace: int | None, dtype: str) -> Callable[[], None] | None:
    """A callable running ``kernel`` (a cffi function ``void(long n, void*...)``) on the arrays
    in ``ins`` into ``out_cell`` when they are C-contiguous and the non-``scalar`` ones share
    one shape, else calling ``fallback``; None when there is no fast path for it."""
    extension = module()
    if extension is None or len(ins) + 1 > MAX_OPERANDS or not ins:
        return None
    from .native import address
    return extension.FlatCall(tuple(ins), out_cell, buffer, fallback, address(kernel), bytes(map(bool, scalar)),
                              lead, -1 if inplace is None else inplace, np.dtype(dtype).num)
