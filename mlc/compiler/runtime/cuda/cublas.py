"""cuBLAS GEMM for ``device=cuda``, through cffi over ``libcublas`` (ABI mode: nothing to
compile). The library comes from the CUDA toolkit whose ``nvcc`` builds the kernels, or from
NVIDIA's ``nvidia-cublas`` wheel; without it the tiled GEMM kernel of ours runs instead.

cuBLAS is column-major and mlc's arrays are row-major views, so a product ``out = x @ y``
is asked as ``outᵀ = yᵀ xᵀ``: a row-major matrix is its transpose in column-major order,
and a transposed view is its own matrix read with ``op = T``. ``gemm_arguments`` does that
arithmetic in plain Python, so it is tested without a GPU.
"""
from __future__ import annotations

import ctypes.util
import glob
import os
import shutil
from functools import lru_cache
from typing import NamedTuple

OP_N, OP_T = 0, 1
POINTER_MODE_DEVICE = 1
INT_MAX = 2 ** 31 - 1
STATUS = {0: "SUCCESS", 1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH",
          11: "MAPPING_ERROR", 13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED",
          16: "LICENSE_ERROR"}

DECLARATIONS = """
typedef int cublasStatus_t;
typedef void *cublasHandle_t;
cublasStatus_t cublasCreate_v2(cublasHandle_t *handle);
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, int mode);
cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
    const float *alpha, const float *A, int lda, const float *B, int ldb,
    const float *beta, float *C, int ldc);
cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
    const double *alpha, const double *A, int lda, const double *B, int ldb,
    const double *beta, double *C, int ldc);
"""


class CublasError(RuntimeError):
    """cuBLAS could not be loaded or refused a call (the message names the function)."""


class GemmArguments(NamedTuple):
    """One column-major ``gemm`` call: ``C = alpha op(A) op(B) + beta C`` with A = y, B = x."""
    transa: int
    transb: int
    m: int
    n: int
    k: int
    lda: int
    ldb: int
    ldc: int


def _as_column_major_transpose(rows: int, cols: int, strides: tuple) -> tuple | None:
    """``(op, ld)`` that makes a row-major ``rows×cols`` view (strides in elements) read as
    its transpose by column-major BLAS; None when the view has no leading dimension."""
    s0, s1 = strides
    if s1 == 1 or cols == 1:  # row-major: in column-major memory it already is the transpose
        ld = s0 if rows > 1 else max(1, cols)
        return (OP_N, ld) if ld >= max(1, cols) else None
    if s0 == 1 or rows == 1:  # a transposed view: the matrix itself, read transposed
        ld = s1 if cols > 1 else max(1, rows)
        return (OP_T, ld) if ld >= max(1, rows) else None
    return None


def gemm_arguments(M: int, N: int, K: int, x_strides: tuple, y_strides: tuple, out_strides: tuple) -> GemmArguments | None:
    """The call that computes row-major ``out (M×N) = x (M×K) @ y (K×N)`` (strides in elements),
    or None when a layout cannot be described to BLAS (broadcast or too large)."""
    a = _as_column_major_transpose(K, N, y_strides)
    b = _as_column_major_transpose(M, K, x_strides)
    c = _as_column_major_transpose(M, N, out_strides)
    if a is None or b is None or c is None or c[0] != OP_N or max(M, N, K, a[1], b[1], c[1]) > INT_MAX:
        return None
    return GemmArguments(a[0], b[0], N, M, K, a[1], b[1], c[1])


def library_candidates() -> list[str]:
    """Where ``libcublas`` may be, best first: the toolkit of ``nvcc`` (it matches the PTX we
    build), ``$CUDA_HOME``, NVIDIA's wheels, the loader's path."""
    nvcc = shutil.which("nvcc")
    toolkits = [os.path.dirname(os.path.dirname(nvcc)) if nvcc else None,
                os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    found = [path for toolkit in filter(None, toolkits)
             for path in sorted(glob.glob(os.path.join(toolkit, "lib64", "libcublas.so*")), reverse=True)]
    try:
        import nvidia  # the namespace package of NVIDIA's wheels (nvidia-cublas, nvidia-cublas-cu12)
        for root in nvidia.__path__:
            found += sorted(glob.glob(os.path.join(root, "*", "lib", "libcublas.so*")), reverse=True)
    except ImportError:
        pass
    by_loader = ctypes.util.find_library("cublas")
    return found + ([by_loader] if by_loader else [])


@lru_cache(maxsize=None)
def load() -> tuple:
    """``(ffi, lib)`` for the first ``libcublas`` that loads; ``CublasError`` names where it looked."""
    import cffi
    ffi = cffi.FFI()
    ffi.cdef(DECLARATIONS)
    candidates, errors = library_candidates(), []
    for path in candidates:
        try:
            return ffi, ffi.dlopen(path)
        except OSError as err:
            errors.append(f"{path}: {err}")
    where = "; ".join(errors) or "none in nvcc's toolkit, $CUDA_HOME/lib64, NVIDIA's wheels or the loader's path"
    raise CublasError(f"libcublas could not be loaded ({where}); install the CUDA toolkit's cuBLAS "
                      "or pip install nvidia-cublas")


def check(status: int, function: str) -> None:
    if status != 0:
        raise CublasError(f"{function} failed: CUBLAS_STATUS_{STATUS.get(status, status)}")


class Handle:
    """A cuBLAS handle on the current CUDA context, in device pointer mode (``alpha`` and
    ``beta`` stay on the device, so a product never waits for the host)."""

    def __init__(self) -> None:
        self.ffi, self.lib = load()
        handle = self.ffi.new("cublasHandle_t *")
        check(self.lib.cublasCreate_v2(handle), "cublasCreate")
        self.handle = handle[0]
        check(self.lib.cublasSetPointerMode_v2(self.handle, POINTER_MODE_DEVICE), "cublasSetPointerMode")

    def gemm(self, dtype: str, args: GemmArguments, alpha: int, y: int, x: int, beta: int, out: int) -> None:
        """``out = alpha x @ y + beta out`` with device addresses (``int``) and ``gemm_arguments``."""
        ctype, function = ("float", "cublasSgemm_v2") if dtype == "float32" else ("double", "cublasDgemm_v2")
        ptr = lambda address: self.ffi.cast(f"{ctype} *", address)  # noqa: E731
        check(getattr(self.lib, function)(self.handle, args.transa, args.transb, args.m, args.n, args.k,
                                          ptr(alpha), ptr(y), args.lda, ptr(x), args.ldb, ptr(beta),
                                          ptr(out), args.ldc), function)

    def __del__(self) -> None:
        handle = getattr(self, "handle", None)
        if handle is not None:
            self.lib.cublasDestroy_v2(handle)
