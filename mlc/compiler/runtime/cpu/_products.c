/* The matrix products' dispatch and per-call fast path (see blas.py): which code runs
 * C = alpha A B + beta C (the skinny kernels, the BLAS split into blocks on mlc's threads, or
 * the BLAS itself), decided and run here in one place, for Python callers (gemm()) and for
 * the Dot and Gemm nodes of a compiled function (ProductCall objects, which read their cells,
 * keep their output and call the product in ~0.5 us, where the Python path costs ~6 us).
 * The kernels and the thresholds come from blas.py through configure(); a product this code
 * does not take (other dtypes, operands the BLAS cannot read without a copy) returns to the
 * Python path. Built when mlc is installed (setup.py). */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* RUSAGE_THREAD */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <time.h>
#define HAVE_RUSAGE 1
#ifdef RUSAGE_THREAD
#define WHO RUSAGE_THREAD  /* this thread's preemptions: not those of other libraries' idle spinning threads */
#else
#define WHO RUSAGE_SELF
#endif
#endif
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include "_cells.h"

#define ROW_MAJOR 101
#define NO_TRANS 111
#define TRANS 112
#define RELEASE_GIL_AT 32768  /* multiply-adds: larger products let other Python threads run */
#define BUSY_WINDOW 0.05  /* seconds between two looks at how often the kernel preempted this thread */

enum { NONE, SKINNY_N, SKINNY_K, SKINNY_M, SPLIT, BLAS };
static const char *ROUTES[] = {"", "skinny_n", "skinny_k", "skinny_m", "split", "blas"};

typedef void (*skinny_t)(long, long, long, double, const void *, long, long, const void *, long, long, double,
                         void *, long, void *);
typedef void (*split_t)(void *, void *, int, int, int, long, long, long, double, const void *, long, const void *,
                        long, double, void *, long, long, int);
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const void *, int, const void *, int, float, void *, int);
typedef void (*dgemm_t)(int, int, int, int, int, int, double, const void *, int, const void *, int, double, void *,
                        int);
typedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const void *, int64_t, const void *,
                          int64_t, float, void *, int64_t);
typedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const void *, int64_t, const void *,
                          int64_t, double, void *, int64_t);

typedef struct {
    void *blas, *split, *skinny_n, *skinny_k, *skinny_m;  /* NULL where there is none; blas NULL: not configured */
    long lanes;
} Kernels;

static Kernels kernels[2];  /* float32, float64 */
static struct {
    void *set_threads, *get_threads;  /* OpenBLAS's, or NULL */
    void *set_omp, *get_omp;  /* libgomp's omp_set_num_threads and omp_get_max_threads, or NULL */
    double busy_rate;  /* preemptions a second from which the machine counts as busy */
    long skinny_work, split_work, update_bytes, max_k, group_k, max_m, tiles_m, cores;
    int ilp64;
} machine;

typedef struct {
    int route, ta, tb, by_rows;
    long lda, ldb, blocks, scratch;
} Plan;

typedef struct {
    long M, N, K, sai, sak, sbk, sbj;  /* strides in elements */
    double alpha, beta;
    const void *A, *B;
    void *C;
} Product;

static Kernels *kernels_for(int typenum) {
    return typenum == NPY_FLOAT32 ? &kernels[0] : typenum == NPY_FLOAT64 ? &kernels[1] : NULL;
}

static int blas_threads(void) {
    return machine.get_threads == NULL ? 1 : ((int (*)(void))machine.get_threads)();
}

/* The BLAS's view of an operand with element strides (rows, cols): row-major, or transposed. */
static int blas_operand(long s_row, long s_col, long rows, long cols, int *trans, long *ld) {
    if (s_col == 1 && s_row >= (cols > 1 ? cols : 1)) { *trans = NO_TRANS; *ld = s_row; return 1; }
    if (s_row == 1 && s_col >= (rows > 1 ? rows : 1)) { *trans = TRANS; *ld = s_col; return 1; }
    return 0;
}

/* Which code runs the product: the skinny kernels from SKINNY_WORK multiply-adds up for the
 * shapes they beat the BLAS on (N within a vector, K or M a few vectors' worth), else the BLAS, split into blocks
 * on mlc's threads when OpenBLAS may use more than one (one owner of the cores); NONE when
 * the operands need a copy first. */
static int plan(const Kernels *k, const Product *x, long item, Plan *p) {
    const long M = x->M, N = x->N, K = x->K, work = M * N * K, lanes = k->lanes;
    p->scratch = 0;
    if (k->blas == NULL || work == 0) return p->route = NONE;
    if (work > machine.skinny_work && k->skinny_n != NULL) {
        if (N <= lanes && lanes < 2 * N && (x->sak == 1 || x->sai == 1)) {
            p->scratch = K * lanes;
            return p->route = SKINNY_N;
        }
        if (K <= machine.max_k && N >= lanes && (x->beta == 0 || M * N * item <= machine.update_bytes)) {
            const long group = machine.group_k * lanes;
            p->scratch = K * ((N + group - 1) / group) * group;
            return p->route = SKINNY_K;
        }
        if (M <= machine.max_m && x->sbj == 1) {
            p->scratch = K * (M + 4 + machine.tiles_m * lanes) + 2 * M * N;  /* see c_skinny.py */
            return p->route = SKINNY_M;
        }
    }
    if (!blas_operand(x->sai, x->sak, M, K, &p->ta, &p->lda) || !blas_operand(x->sbk, x->sbj, K, N, &p->tb, &p->ldb))
        return p->route = NONE;
    if (k->split != NULL && blas_threads() >= 2) {
        p->by_rows = M * K > K * N;  /* share out the larger operand; each block reads all of the smaller */
        long blocks = work >= machine.split_work ? (p->by_rows ? M : N) / 32 : 1;
        blocks = blocks > machine.cores ? machine.cores : blocks;
        p->blocks = blocks < 1 ? 1 : blocks;
        return p->route = SPLIT;
    }
    return p->route = BLAS;
}

static void run(const Kernels *k, const Plan *p, const Product *x, int single, void *scratch) {
    const long M = x->M, N = x->N, K = x->K, ldc = N > 1 ? N : 1;
    switch (p->route) {
    case SKINNY_N:
    case SKINNY_K:
    case SKINNY_M:
        ((skinny_t)(p->route == SKINNY_N ? k->skinny_n : p->route == SKINNY_K ? k->skinny_k : k->skinny_m))(
            M, N, K, x->alpha, x->A, x->sai, x->sak, x->B, x->sbk, x->sbj, x->beta, x->C, N, scratch);
        break;
    case SPLIT:
        ((split_t)k->split)(k->blas, machine.set_threads, blas_threads(), p->ta, p->tb, M, N, K, x->alpha, x->A,
                            p->lda, x->B, p->ldb, x->beta, x->C, ldc, p->blocks, p->by_rows);
        break;
    case BLAS:
        if (machine.ilp64 && single)
            ((sgemm64_t)k->blas)(ROW_MAJOR, p->ta, p->tb, M, N, K, (float)x->alpha, x->A, p->lda, x->B, p->ldb,
                                 (float)x->beta, x->C, ldc);
        else if (machine.ilp64)
            ((dgemm64_t)k->blas)(ROW_MAJOR, p->ta, p->tb, M, N, K, x->alpha, x->A, p->lda, x->B, p->ldb, x->beta,
                                 x->C, ldc);
        else if (single)
            ((sgemm_t)k->blas)(ROW_MAJOR, p->ta, p->tb, (int)M, (int)N, (int)K, (float)x->alpha, x->A, (int)p->lda,
                               x->B, (int)p->ldb, (float)x->beta, x->C, (int)ldc);
        else
            ((dgemm_t)k->blas)(ROW_MAJOR, p->ta, p->tb, (int)M, (int)N, (int)K, x->alpha, x->A, (int)p->lda, x->B,
                               (int)p->ldb, x->beta, x->C, (int)ldc);
        break;
    }
}

/* Fill ``x`` from A, B, C (2-d arrays of ``C``'s float dtype, A's columns as many as B's rows,
 * C-contiguous C of shape (rows of A, columns of B)) and plan it; the kernels, or NULL when
 * this code does not take the product. */
static Kernels *prepare(PyArrayObject *A, PyArrayObject *B, PyArrayObject *C, Product *x, Plan *p) {
    const int typenum = PyArray_TYPE(C);
    Kernels *k = kernels_for(typenum);
    if (k == NULL || PyArray_NDIM(A) != 2 || PyArray_NDIM(B) != 2 || PyArray_TYPE(A) != typenum
            || PyArray_TYPE(B) != typenum)
        return NULL;
    const long item = (long)PyArray_ITEMSIZE(C);
    npy_intp *sa = PyArray_STRIDES(A), *sb = PyArray_STRIDES(B);
    if ((sa[0] | sa[1] | sb[0] | sb[1]) % item) return NULL;
    x->M = PyArray_DIM(A, 0); x->K = PyArray_DIM(A, 1); x->N = PyArray_DIM(B, 1);
    x->sai = sa[0] / item; x->sak = sa[1] / item; x->sbk = sb[0] / item; x->sbj = sb[1] / item;
    x->A = PyArray_DATA(A); x->B = PyArray_DATA(B); x->C = PyArray_DATA(C);
    return plan(k, x, item, p) == NONE ? NULL : k;
}

/* Whether other processes are taking this one's cores: the kernel preempted the calling thread
 * (where Linux counts per thread; else the process) more than busy_rate times a second over the
 * last window. Looked at once a window, by whichever thread holds the GIL then (products called
 * from several Python threads may misjudge a window: they then run on one thread, same bits). */
static int machine_busy(void) {
#ifdef HAVE_RUSAGE
    static double last_time = -1;
    static long last_count;
    static int busy;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const double t = now.tv_sec + 1e-9 * now.tv_nsec;
    if (last_time < 0 || t - last_time >= BUSY_WINDOW) {
        struct rusage usage;
        if (getrusage(WHO, &usage) == 0) {
            if (last_time >= 0) busy = (usage.ru_nivcsw - last_count) > machine.busy_rate * (t - last_time);
            last_time = t;
            last_count = usage.ru_nivcsw;
        }
    }
    return busy;
#else
    return 0;
#endif
}

/* Run a planned product (the GIL released for large ones); -1 with MemoryError when the
 * scratch of a skinny kernel cannot be had. On a busy machine, a product that would share
 * its blocks among the OpenMP threads runs them all on this one: each parallel product
 * waited for whichever thread another process had descheduled (the tutorials' logistic_sgd
 * epoch, medians alternated in one process: 0.159 -> 0.126 s with two spinning processes,
 * 0.109 -> 0.092 s with one). The blocks are the same, and so are the bits. */
static int execute(const Kernels *k, const Plan *p, const Product *x, int typenum) {
    void *scratch = NULL;
    if (p->scratch) {  /* vectors of 64 bytes: aligned as such */
        const size_t bytes = ((size_t)p->scratch * (typenum == NPY_FLOAT32 ? 4 : 8) + 63) / 64 * 64;
        if ((scratch = aligned_alloc(64, bytes)) == NULL) { PyErr_NoMemory(); return -1; }
    }
    const int single = typenum == NPY_FLOAT32;
    const int shared = p->route == SPLIT ? p->blocks > 1 : p->route != BLAS;  /* skinny: taken where they share */
    const int threads = shared && machine.set_omp != NULL && machine_busy() ? ((int (*)(void))machine.get_omp)() : 0;
    if (threads) ((void (*)(int))machine.set_omp)(1);
    if (x->M * x->N * x->K >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        run(k, p, x, single, scratch);
        Py_END_ALLOW_THREADS
    } else {
        run(k, p, x, single, scratch);
    }
    if (threads) ((void (*)(int))machine.set_omp)(threads);
    free(scratch);
    return 0;
}

static int fits(PyArrayObject *C, PyArrayObject *A, PyArrayObject *B) {
    return PyArray_NDIM(C) == 2 && PyArray_NDIM(A) == 2 && PyArray_NDIM(B) == 2 && PyArray_IS_C_CONTIGUOUS(C)
        && PyArray_ISWRITEABLE(C) && PyArray_DIM(A, 1) == PyArray_DIM(B, 0) && PyArray_DIM(C, 0) == PyArray_DIM(A, 0)
        && PyArray_DIM(C, 1) == PyArray_DIM(B, 1);
}

/* The product gemm() and route() are given, (alpha, A, B, beta, C), read and planned: its
 * kernels, or NULL, with an exception set for bad arguments and without one when this code
 * does not take the product. */
static Kernels *asked(const char *name, PyObject *const *args, Py_ssize_t nargs, Product *x, Plan *p) {
    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "%s takes 5 arguments (alpha, A, B, beta, C)", name);
        return NULL;
    }
    if (!PyArray_Check(args[1]) || !PyArray_Check(args[2]) || !PyArray_Check(args[4])) {
        PyErr_Format(PyExc_TypeError, "%s: A, B and C must be NumPy arrays", name);
        return NULL;
    }
    PyArrayObject *A = (PyArrayObject *)args[1], *B = (PyArrayObject *)args[2], *C = (PyArrayObject *)args[4];
    x->alpha = PyFloat_AsDouble(args[0]);
    x->beta = PyFloat_AsDouble(args[3]);
    if (PyErr_Occurred() || !fits(C, A, B)) return NULL;
    return prepare(A, B, C, x, p);
}

/* gemm(alpha, A, B, beta, C): C = alpha A B + beta C in place; False (nothing done) when
 * this code does not take it. */
static PyObject *py_gemm(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Product x; Plan p;
    Kernels *k = asked("gemm", args, nargs, &x, &p);
    if (k == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_FALSE;
    }
    if (execute(k, &p, &x, PyArray_TYPE((PyArrayObject *)args[4])) < 0) return NULL;
    Py_RETURN_TRUE;
}

/* route(alpha, A, B, beta, C): the name of the code gemm() would run, or "" when it would not take it. */
static PyObject *py_route(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Product x; Plan p;
    Kernels *k = asked("route", args, nargs, &x, &p);
    if (k == NULL && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(ROUTES[k == NULL ? NONE : p.route]);
}

/* configure(typenum, blas, split, skinny_n, skinny_k, skinny_m, lanes): one dtype's functions (addresses, 0 for
 * none). */
static PyObject *py_configure(PyObject *module, PyObject *args) {
    int typenum;
    unsigned long long blas, split, skinny_n, skinny_k, skinny_m;
    long lanes;
    if (!PyArg_ParseTuple(args, "iKKKKKl", &typenum, &blas, &split, &skinny_n, &skinny_k, &skinny_m, &lanes))
        return NULL;
    Kernels *k = kernels_for(typenum);
    if (k == NULL || lanes < 1) {
        PyErr_SetString(PyExc_ValueError, "configure: float32 or float64, and lanes >= 1");
        return NULL;
    }
    *k = (Kernels){(void *)(uintptr_t)blas, (void *)(uintptr_t)split, (void *)(uintptr_t)skinny_n,
                   (void *)(uintptr_t)skinny_k, (void *)(uintptr_t)skinny_m, lanes};
    if (k->skinny_k == NULL || k->skinny_m == NULL) k->skinny_n = NULL;  /* all or none */
    Py_RETURN_NONE;
}

/* configure_machine(set_threads, get_threads, set_omp, get_omp, busy_rate, ilp64, skinny_work, split_work,
 * update_bytes, max_k, group_k, max_m, tiles_m, cores) */
static PyObject *py_configure_machine(PyObject *module, PyObject *args) {
    unsigned long long set_threads, get_threads, set_omp, get_omp;
    int ilp64;
    if (!PyArg_ParseTuple(args, "KKKKdpllllllll", &set_threads, &get_threads, &set_omp, &get_omp, &machine.busy_rate,
                          &ilp64, &machine.skinny_work,
                          &machine.split_work, &machine.update_bytes, &machine.max_k, &machine.group_k, &machine.max_m,
                          &machine.tiles_m, &machine.cores))
        return NULL;
    machine.set_threads = (void *)(uintptr_t)set_threads;
    machine.get_threads = (void *)(uintptr_t)get_threads;
    machine.set_omp = set_omp && get_omp ? (void *)(uintptr_t)set_omp : NULL;
    machine.get_omp = (void *)(uintptr_t)get_omp;
    machine.ilp64 = ilp64;
    Py_RETURN_NONE;
}

/* ProductCall: one Dot (cells x, y) or Gemm (cells z, alpha, x, y, beta) node. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *ins, *out_cell, *buffer, *fallback;
    int typenum, inplace;
} ProductCall;

static PyArrayObject *matrix(PyObject *cell, int typenum) {
    PyObject *v = PyList_GET_ITEM(cell, 0);
    return PyArray_CheckExact(v) && PyArray_NDIM((PyArrayObject *)v) == 2 && PyArray_TYPE((PyArrayObject *)v) == typenum
        ? (PyArrayObject *)v : NULL;
}

static PyObject *product_call(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    ProductCall *self = (ProductCall *)obj;
    const int gemm = PyTuple_GET_SIZE(self->ins) == 5;
    PyObject *const *cells = &PyTuple_GET_ITEM(self->ins, 0);
    PyArrayObject *a = matrix(cells[gemm ? 2 : 0], self->typenum), *b = matrix(cells[gemm ? 3 : 1], self->typenum);
    PyArrayObject *z = gemm ? matrix(cells[0], self->typenum) : NULL;
    if (a == NULL || b == NULL || (gemm && z == NULL) || PyArray_DIM(a, 1) != PyArray_DIM(b, 0))
        return PyObject_CallNoArgs(self->fallback);
    npy_intp dims[2] = {PyArray_DIM(a, 0), PyArray_DIM(b, 1)};
    Product x = {.alpha = 1.0, .beta = 0.0};
    if (gemm) {
        x.alpha = PyFloat_AsDouble(PyList_GET_ITEM(cells[1], 0));
        x.beta = PyFloat_AsDouble(PyList_GET_ITEM(cells[4], 0));
        if (PyErr_Occurred()) { PyErr_Clear(); return PyObject_CallNoArgs(self->fallback); }
        for (int d = 0; d < 2; d++)  /* z broadcasts to the product's shape */
            if (PyArray_DIM(z, d) != dims[d] && PyArray_DIM(z, d) != 1) return PyObject_CallNoArgs(self->fallback);
    }
    PyObject *out = NULL;
    if (gemm && self->inplace && same_shape(z, 2, dims) && PyArray_IS_C_CONTIGUOUS(z) && PyArray_ISWRITEABLE(z)) {
        out = (PyObject *)z;
        Py_INCREF(out);
    } else if ((out = output(self->buffer, 2, dims, self->typenum)) == NULL) {
        return NULL;
    }
    Plan p;
    Kernels *k = prepare(a, b, (PyArrayObject *)out, &x, &p);
    if (k == NULL) { Py_DECREF(out); return PyObject_CallNoArgs(self->fallback); }
    if ((PyObject *)z != out && z != NULL && PyArray_CopyInto((PyArrayObject *)out, z) < 0) { Py_DECREF(out); return NULL; }
    if (execute(k, &p, &x, self->typenum) < 0) { Py_DECREF(out); return NULL; }
    PyList_SetItem(self->out_cell, 0, out);  /* steals the reference */
    Py_RETURN_NONE;
}

static PyObject *product_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *ins, *out_cell, *buffer, *fallback;
    int typenum, inplace;
    if (!PyArg_ParseTuple(args, "O!O!OOip", &PyTuple_Type, &ins, &PyList_Type, &out_cell, &buffer, &fallback, &typenum,
                          &inplace))
        return NULL;
    const Py_ssize_t n = PyTuple_GET_SIZE(ins);
    if ((n != 2 && n != 5) || kernels_for(typenum) == NULL) {
        PyErr_SetString(PyExc_ValueError, "ProductCall: the cells of a Dot (2) or a Gemm (5), of float32 or float64");
        return NULL;
    }
    if (check_cells("ProductCall", ins, out_cell, buffer) < 0) return NULL;
    ProductCall *self = (ProductCall *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = product_call;
    Py_INCREF(ins); self->ins = ins;
    Py_INCREF(out_cell); self->out_cell = out_cell;
    Py_INCREF(buffer); self->buffer = buffer;
    Py_INCREF(fallback); self->fallback = fallback;
    self->typenum = typenum; self->inplace = inplace;
    return (PyObject *)self;
}

static int product_traverse(ProductCall *self, visitproc visit, void *arg) {
    Py_VISIT(self->ins); Py_VISIT(self->out_cell); Py_VISIT(self->buffer); Py_VISIT(self->fallback);
    return 0;
}

static int product_clear(ProductCall *self) {
    Py_CLEAR(self->ins); Py_CLEAR(self->out_cell); Py_CLEAR(self->buffer); Py_CLEAR(self->fallback);
    return 0;
}

static void product_dealloc(ProductCall *self) {
    PyObject_GC_UnTrack(self);
    product_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ProductCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlc.compiler.runtime.cpu._products.ProductCall",
    .tp_basicsize = sizeof(ProductCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(ProductCall, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = product_new,
    .tp_traverse = (traverseproc)product_traverse,
    .tp_clear = (inquiry)product_clear,
    .tp_dealloc = (destructor)product_dealloc,
    .tp_doc = "One Dot or Gemm node's product, read from its cells.",
};

/* busy(): whether products now run on this thread alone (see machine_busy). */
static PyObject *py_busy(PyObject *module, PyObject *unused) {
    return PyBool_FromLong(machine_busy());
}

static PyMethodDef methods[] = {
    {"gemm", (PyCFunction)(void (*)(void))py_gemm, METH_FASTCALL, "C = alpha A B + beta C in place; False if not taken."},
    {"route", (PyCFunction)(void (*)(void))py_route, METH_FASTCALL, "The code gemm() would run for these operands."},
    {"configure", py_configure, METH_VARARGS, "One dtype's BLAS and kernels."},
    {"configure_machine", py_configure_machine, METH_VARARGS, "OpenBLAS's thread functions and the thresholds."},
    {"busy", py_busy, METH_NOARGS, "Whether other processes are taking this one's cores (products run on one thread)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_products", NULL, -1, methods};

PyMODINIT_FUNC PyInit__products(void) {
    import_array();
    if (PyType_Ready(&ProductCallType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ProductCallType);
    if (PyModule_AddObject(m, "ProductCall", (PyObject *)&ProductCallType) < 0) return NULL;
    return m;
}
