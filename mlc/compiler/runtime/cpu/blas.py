"""BLAS for dense products: ``gemm`` (C = alpha A B + beta C, in place, no temporaries)
through the OpenBLAS that NumPy's wheels ship, loaded through cffi's backend, so it works after a plain
``pip install`` with no system BLAS. Without it, NumPy's ``dot`` with ``out=`` is used."""
from __future__ import annotations

import glob
import os
from functools import lru_cache
from typing import Any

import _cffi_backend
import numpy as np

from ...codegen import Program
from ...codegen.c_skinny import GROUP_K, LANES, MAX_K, MAX_M, PARALLEL_WORK, TILES_M, skinny_program
from ...graph import Apply
from ...ops.blas import Dot, Gemm
from . import native, toolchain
from .thunks import LIBRARIES, REGISTRY, Buffer

try:
    from . import _products
except ImportError:  # installed without a C compiler: products through cffi's backend and NumPy
    _products = None

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_BLAS_DTYPES = {"f": "float32", "d": "float64"}


_SYMBOL_STYLES = (("scipy_", "64_", True), ("", "64_", True), ("scipy_", "", False), ("", "", False))


def _openblas_paths() -> list[str]:
    root = os.path.dirname(np.__file__)
    return (glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*.so*"))
            + glob.glob(os.path.join(root, ".libs", "*openblas*.so*")))


@lru_cache(maxsize=None)
def _openblas_threads() -> tuple[Any, Any] | None:
    """OpenBLAS's ``(set_num_threads, get_num_threads)``, or None."""
    found = _openblas({"set": "void(*)(int)", "get": "int(*)(void)"},
                      lambda prefix, suffix: f"{prefix}openblas_{{}}_num_threads{suffix}")
    return None if found is None else (found[0]["set"], found[0]["get"])


def _openblas(signatures: dict[str, str], naming: Any) -> tuple[dict, bool] | None:
    """``({key: function}, ilp64)`` from the first OpenBLAS of NumPy's that has them all;
    ``naming(prefix, suffix)`` gives the symbol pattern (``{}`` stands for the key)."""
    for path in _openblas_paths():
        for prefix, suffix, ilp64 in _SYMBOL_STYLES:
            names = {key: naming(prefix, suffix).format(key) for key in signatures}
            typed = {names[key]: sig.replace("INT", "int64_t" if ilp64 else "int") for key, sig in signatures.items()}
            try:
                lib = native.dlopen(os.path.abspath(path), typed)
            except (OSError, AttributeError):
                continue
            return {key: getattr(lib, names[key]) for key in signatures}, ilp64
    return None


def set_blas_threads(n: int) -> bool:
    """Let NumPy's OpenBLAS (used by NumPy and by mlc's products) use ``n`` threads;
    False if it cannot be found."""
    functions = _openblas_threads()
    if functions is not None:
        functions[0](int(n))
    return functions is not None


def blas_threads() -> int | None:
    """How many threads NumPy's OpenBLAS uses (None if it cannot be found)."""
    functions = _openblas_threads()
    return None if functions is None else int(functions[1]())


@lru_cache(maxsize=None)
def cblas() -> tuple[Any, dict, bool] | None:
    """``(ffi, {dtype: gemm function}, ilp64)`` from NumPy's bundled OpenBLAS, or None."""
    gemm = "void(*)(int, int, int, INT, INT, INT, {t}, const void*, INT, const void*, INT, {t}, void*, INT)"
    found = _openblas({"d": gemm.format(t="double"), "s": gemm.format(t="float")},
                      lambda prefix, suffix: f"{prefix}cblas_{{}}gemm{suffix}")
    if found is None:
        return None
    return native.ffi, {"float64": found[0]["d"], "float32": found[0]["s"]}, found[1]


def _operand(a: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``(array, transpose flag, leading dimension)`` for BLAS, copying only if needed."""
    item = a.itemsize
    if a.strides[1] == item and a.strides[0] >= max(1, a.shape[1]) * item:
        return a, NO_TRANS, a.strides[0] // item
    if a.strides[0] == item and a.strides[1] >= max(1, a.shape[0]) * item:
        return a, TRANS, a.strides[1] // item
    a = np.ascontiguousarray(a)
    return a, NO_TRANS, max(1, a.shape[1])


def gemm(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> None:
    """``C = alpha * A @ B + beta * C`` in place (C: C-contiguous, same dtype as A and B).
    ``_products.c`` decides which code runs it (see ``_fast_products``); operands the BLAS
    cannot read as they are get a contiguous copy first."""
    fast = _fast_products(_BLAS_DTYPES.get(C.dtype.char))
    if fast is not None and fast.gemm(alpha, A, B, beta, C):
        return
    M, K = A.shape
    N = B.shape[1]
    blas = cblas()
    usable = C.dtype.char in _BLAS_DTYPES and A.dtype == C.dtype and B.dtype == C.dtype and C.flags.c_contiguous
    if blas is None or not usable or M * N * K == 0:
        product = np.dot(A, B)
        if alpha != 1:
            product *= alpha
        if beta == 0:  # as in BLAS, C's old contents (maybe uninitialised) are ignored
            C[...] = product
        else:
            if beta != 1:
                C *= beta
            C += product
        return
    A, ta, lda = _operand(A)
    B, tb, ldb = _operand(B)
    if fast is not None and fast.gemm(alpha, A, B, beta, C):
        return
    # No extension (installed without a compiler): the BLAS, on OpenBLAS's own threads.
    blas[1][_BLAS_DTYPES[C.dtype.char]](ROW_MAJOR, ta, tb, M, N, K, alpha, _pointer(A), lda, _pointer(B), ldb, beta,
                                        _pointer(C), max(1, N))


_CHARS = native.ffi.typeof("char[]")
_VOID_P = native.ffi.typeof("void*")


def _pointer(a: np.ndarray) -> Any:
    """``a``'s data as a C pointer: cffi's ``from_buffer`` (a fifth of ``a.ctypes``' cost) on
    ``a`` or, for a transposed operand, on its transpose (same first element)."""
    try:
        return _cffi_backend.from_buffer(_CHARS, a, False)
    except ValueError:
        pass
    try:
        return _cffi_backend.from_buffer(_CHARS, a.T, False)
    except ValueError:
        return native.ffi.cast(_VOID_P, a.ctypes.data)


# The skinny kernels from the size where they share the product among the threads. Below it, in
# a train step the operands come cold from memory (the layer's large products evicted them) and
# the product is as fast on the BLAS's one thread: twice as fast in a hot cache, no faster there.
SKINNY_WORK = PARALLEL_WORK
# An update C += A B by skinny_k up to this size of C: there each core keeps its half of C (the weights) in
# its cache from one step to the next (784x500 floats: 88 against 89 us alone, and the tutorials' mlp.py epoch
# 0.86 against 1.11 s); past it C comes from memory either way, and BLAS's was faster (2048x500: 167 against
# 141 us).
SKINNY_UPDATE_BYTES = 1 << 21
# Multiply-adds from which a product is spread over the cores. Measured on the MLP step's
# 256x500x10 products (1.3M): one thread 44-78 us, two blocks 33-37 us; the step alternated
# with 2^21 here: 2.31-2.46 against 2.37-2.64 ms quiet, 5.6-6.6 against 6.7-7.5 ms loaded.
SPLIT_WORK = 1 << 18
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@lru_cache(maxsize=None)
def _split_program() -> Any:
    """The C of the split products, or None where nothing is split (one core, no OpenBLAS
    to hold to one thread, no OpenMP to spread the blocks over)."""
    from ...codegen.c_gemm import gemm_split_program
    if CORES < 2 or _openblas_threads() is None or cblas() is None or not _openmp():
        return None
    return gemm_split_program("int64_t" if cblas()[2] else "int")


@LIBRARIES.register(Dot, Gemm)
def products_library(node: Apply) -> Program | None:
    """The products' library for a function with a float product (the skinny kernels of
    its dtype and, where products are split, the split driver): built with its kernels,
    not at its first product."""
    dtype = node.outputs[0].dtype
    return _products_program(dtype) if dtype in LANES else None


@lru_cache(maxsize=None)
def _products_program(dtype: str) -> Program | None:
    parts = [p for p in [skinny_program(dtype) if _skinny_pays() else None, _split_program()] if p is not None]
    if len(parts) <= 1:
        return parts[0] if parts else None
    return Program("c", "\n".join(p.source for p in parts), sum((p.entries for p in parts), ()), tuple(parts))


@lru_cache(maxsize=None)
def _skinny_library(dtype: str) -> Any:
    from . import CPU
    return CPU.build(skinny_program(dtype))


@lru_cache(maxsize=None)
def _split_library() -> Any:
    from . import CPU
    program = _split_program()
    return None if program is None else CPU.build(program)


@lru_cache(maxsize=None)
def _fast_products(dtype: str | None) -> Any:
    """``_products``, the extension that decides and runs each product in C, given this
    machine's BLAS, split driver and ``dtype``'s skinny kernels (built at the first product of
    that dtype) and the thresholds above; None without the extension, the BLAS, or for
    another dtype."""
    blas = cblas()
    if _products is None or blas is None or dtype not in blas[1]:
        return None
    _configure_machine()
    split, skinny = _split_library(), _skinny_library(dtype) if _skinny_pays() else None

    def address(library: Any, name: str) -> int:
        return 0 if library is None else native.address(getattr(library[1], name))
    _products.configure(np.dtype(dtype).num, native.address(blas[1][dtype]), address(split, f"gemm_split_{dtype}"),
                        *(address(skinny, f"skinny_{kind}_{dtype}") for kind in "nkm"), LANES[dtype])
    return _products


def _skinny_pays() -> bool:
    """Whether the skinny kernels beat the BLAS here: where one machine vector holds their
    64-byte tile (AVX-512: twice as fast on one thread). On AVX2 they were as fast or slower
    (a tutorial logistic_sgd epoch 36 against the BLAS's 33 ms), so the BLAS keeps those
    products and the kernels are not built."""
    return toolchain.vector_bytes() == 64


# Preemptions a second of the thread running the products from which the machine counts as busy
# and the products that share their blocks among the threads run them on one (``_products.c``):
# measured over a tutorial epoch, 7-12 on the quiet 2-core machine (43-57 right after NumPy's
# threaded products), 110 with two spinning processes and 730 with one.
BUSY_RATE = 75.0


@lru_cache(maxsize=None)
def _configure_machine() -> None:
    threads, gomp = _openblas_threads(), _libgomp()
    set_threads, get_threads = (native.address(f) for f in threads) if threads else (0, 0)
    set_omp, get_omp = ((native.address(gomp.omp_set_num_threads), native.address(gomp.omp_get_max_threads))
                        if gomp else (0, 0))
    _products.configure_machine(set_threads, get_threads, set_omp, get_omp, BUSY_RATE, cblas()[2], SKINNY_WORK,
                                SPLIT_WORK, SKINNY_UPDATE_BYTES, MAX_K, GROUP_K, MAX_M, TILES_M, CORES)


@lru_cache(maxsize=None)
def _libgomp() -> Any:
    """libgomp's ``omp_set_num_threads`` and ``omp_get_max_threads`` (the OpenMP of mlc's C
    code), or None without it."""
    try:
        return native.dlopen("libgomp.so.1", {"omp_set_num_threads": "void(*)(int)",
                                              "omp_get_max_threads": "int(*)(void)"})
    except (OSError, AttributeError):
        return None


def route(A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> str:
    """The code ``gemm`` runs these operands through: ``"skinny_n"``, ``"skinny_k"``, ``"skinny_m"``,
    ``"split"`` or ``"blas"``; ``""`` where ``_products.c`` does not take them as they are."""
    fast = _fast_products(_BLAS_DTYPES.get(C.dtype.char))
    return "" if fast is None else fast.route(1.0, A, B, beta, C)


def _product_call(thunk: Any, ins: list, inplace: bool, reusable: bool) -> Any:
    """What the VM calls for a Dot or Gemm ``thunk``: its C fast path, which hands the calls
    it does not take to the thunk; the thunk itself without the extension."""
    dtype = thunk.buffer.dtype
    fast = _fast_products(dtype)
    if fast is None:
        return thunk
    return fast.ProductCall(tuple(ins), thunk.out, thunk.buffer.cell if reusable else None, thunk,
                            np.dtype(dtype).num, inplace)


def blas_pointers(ffi: Any) -> tuple[dict, Any, Any] | None:
    """For C code that calls the BLAS itself on mlc's OpenMP threads: ``({dtype: cblas gemm},
    OpenBLAS's set_num_threads, its get_num_threads)``, the first two as ``void*`` of ``ffi``
    (the C code holds OpenBLAS to one thread while it runs); None where there is no OpenBLAS
    or no OpenMP to run the calls on (``cblas()[2]`` says the gemm's integer type)."""
    threads, blas = _openblas_threads(), cblas()
    if threads is None or blas is None or not _openmp():
        return None
    gemms = {dt: ffi.cast("void*", native.address(f)) for dt, f in blas[1].items()}
    return gemms, ffi.cast("void*", native.address(threads[0])), threads[1]


@lru_cache(maxsize=None)
def _openmp() -> bool:
    from . import toolchain
    return "-fopenmp" in toolchain.features()[0]


class DotThunk:
    def __init__(self, node: Apply, ins: list, outs: list, reusable: bool) -> None:
        self.ins, self.out = ins, outs[0]
        self.buffer = Buffer(reusable, node.outputs[0].dtype)
        self.node = node
        self.call = _product_call(self, ins, False, reusable)

    def __call__(self) -> None:
        x, y = self.ins[0][0], self.ins[1][0]
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"Dot: shapes {x.shape} and {y.shape} are not aligned ({x.shape[-1]} != {y.shape[0]})")
        dtype = self.buffer.dtype
        shape = x.shape[:-1] + y.shape[1:]
        if x.dtype == dtype and y.dtype == dtype and x.ndim == 2 and y.ndim == 2:
            out = self.buffer.get(shape)
            gemm(1.0, x, y, 0.0, out)
        else:
            out = np.asarray(np.dot(x, y), dtype=dtype)
        self.out[0] = out


class GemmThunk:
    def __init__(self, node: Apply, ins: list, outs: list, reusable: bool) -> None:
        self.node, self.ins, self.out = node, ins, outs[0]
        self.inplace = node.op.inplace
        self.buffer = Buffer(reusable, node.outputs[0].dtype)
        self.call = _product_call(self, ins, self.inplace, reusable)

    def prepare(self) -> tuple:
        """Check the operands' shapes (raising as a call would); the result's shape."""
        z, _, x, y, _ = (c[0] for c in self.ins)
        if x.shape[1] != y.shape[0]:
            raise ValueError(f"Gemm: shapes {x.shape} and {y.shape} are not aligned")
        shape = (x.shape[0], y.shape[1])
        if z.shape != shape and (z.ndim != 2 or any(d not in (1, n) for d, n in zip(z.shape, shape))):
            raise ValueError(f"Gemm: z of shape {z.shape} does not fit dot(x, y) of shape {shape}")
        return shape

    def __call__(self) -> None:
        z, alpha, x, y, beta = (c[0] for c in self.ins)
        shape = self.prepare()
        if self.inplace and z.shape == shape and z.flags.c_contiguous and z.flags.writeable:
            out = z
        else:
            out = self.buffer.get(shape)
            out[...] = z
        gemm(float(alpha), x, y, float(beta), out)
        self.out[0] = out


@REGISTRY.register(Dot)
def dot_thunk(node: Apply, ins: list, outs: list, context: Any) -> DotThunk:
    return DotThunk(node, ins, outs, context.reusable(node))


@REGISTRY.register(Gemm)
def gemm_thunk(node: Apply, ins: list, outs: list, context: Any) -> GemmThunk:
    return GemmThunk(node, ins, outs, context.reusable(node))
