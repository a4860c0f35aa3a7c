"""The products with one small side (``codegen/c_skinny.py``): equal to NumPy in float64
for every layout they take (called directly, small sizes included), the same bits whatever
the thread count, and chosen by ``blas.gemm`` (``_products.c``) for exactly the shapes they
are meant for."""
import ctypes
import os

import numpy as np
import pytest

from mlc.compiler.codegen.c_skinny import GROUP_K, LANES, MAX_K, MAX_M, TILES_M
from mlc.compiler.runtime.cpu import blas

pytestmark = pytest.mark.skipif(blas._skinny_library("float32") is None, reason="no C compiler")
TOL = {"float32": 2e-5, "float64": 1e-13}


def layouts(rng, dtype, shape):
    """``shape``-shaped matrices laid out every way a graph hands them to a product:
    row-major, transposed, every other row, every other column, reversed columns."""
    M, K = shape
    base = rng.normal(size=(2 * M, 2 * K)).astype(dtype)
    return {"rows": np.ascontiguousarray(base[:M, :K]), "transposed": rng.normal(size=(K, M)).astype(dtype).T,
            "row step": base[::2, :K], "column step": base[:M, ::2], "reversed": base[:M, :K][:, ::-1]}


def skinny(kind, alpha, A, B, beta, C):
    """``C = alpha A B + beta C`` by the kernel ``skinny_<kind>`` itself, as ``_products.c``
    calls it (strides in elements, scratch of 64-byte vectors)."""
    dtype, (M, K), N = C.dtype.name, A.shape, B.shape[1]
    lanes, item = LANES[dtype], C.itemsize
    group = GROUP_K * lanes
    sizes = {"n": K * lanes, "k": K * -(-N // group) * group, "m": K * (M + 4 + TILES_M * lanes) + 2 * M * N}
    scratch = np.empty(sizes[kind] + 64, dtype)
    aligned = scratch[(-scratch.ctypes.data % 64) // item:]
    kernel = getattr(blas._skinny_library(dtype)[1], f"skinny_{kind}_{dtype}")
    pointer = lambda a: blas.native.ffi.cast("void*", a.ctypes.data)  # noqa: E731 (strided views too)
    kernel(M, N, K, alpha, pointer(A), A.strides[0] // item, A.strides[1] // item, pointer(B), B.strides[0] // item,
           B.strides[1] // item, beta, pointer(C), N, pointer(aligned))


def check(rng, dtype, kind, M, K, N, a_layout, b_layout, alpha=0.5, beta=2.0):
    A = layouts(rng, dtype, (M, K))[a_layout]
    B = layouts(rng, dtype, (K, N))[b_layout]
    C0 = rng.normal(size=(M, N)).astype(dtype)
    C = C0.copy() if beta else np.full((M, N), np.nan, dtype)  # beta 0: C's old contents are ignored
    skinny(kind, alpha, A, B, beta, C)
    want = alpha * (A.astype("float64") @ B.astype("float64")) + (beta * C0 if beta else 0)
    tol = TOL[dtype] * np.sqrt(K) * max(1.0, np.abs(want).max())
    np.testing.assert_allclose(C, want, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M", [1, 7, 8, 17, 600])
@pytest.mark.parametrize("a_layout", ["rows", "transposed", "row step"])  # A contiguous along an axis
@pytest.mark.parametrize("b_layout", ["rows", "transposed", "column step"])
def test_small_n_equals_numpy(rng, dtype, M, a_layout, b_layout):
    lanes = LANES[dtype]
    for N in (1, lanes // 2 + 1, lanes - 3, lanes):
        check(rng, dtype, "n", M, 300, N, a_layout, b_layout)
    check(rng, dtype, "n", M, 300, lanes, a_layout, b_layout, alpha=-1.0, beta=0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M", [1, 3, 4, 9, 256])
@pytest.mark.parametrize("K", [1, 10, MAX_K])
@pytest.mark.parametrize("a_layout", ["rows", "transposed", "reversed"])
@pytest.mark.parametrize("b_layout", ["rows", "transposed", "column step"])
def test_small_k_equals_numpy(rng, dtype, M, K, a_layout, b_layout):
    for N in (1, LANES[dtype], LANES[dtype] + 3, 500):
        check(rng, dtype, "k", M, K, N, a_layout, b_layout)
    check(rng, dtype, "k", M, K, 77, a_layout, b_layout, alpha=2.0, beta=0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M", [1, 3, 4, 5, 13, 20, MAX_M])  # 13: two blocks of 8 rows, the last padded
@pytest.mark.parametrize("a_layout", ["rows", "transposed", "column step", "reversed"])  # packed: any layout
@pytest.mark.parametrize("b_layout", ["rows", "row step"])  # B contiguous along its columns
def test_small_m_equals_numpy(rng, dtype, M, a_layout, b_layout):
    lanes = LANES[dtype]
    for K, N in ((300, 1), (300, lanes - 3), (300, lanes), (300, lanes + 3), (40, 500)):
        check(rng, dtype, "m", M, K, N, a_layout, b_layout)
    check(rng, dtype, "m", M, 300, 77, a_layout, b_layout, alpha=-1.0, beta=0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta", [0.0, 2.0])
def test_small_m_with_more_rows_of_b_than_columns_sums_two_halves_of_k(rng, dtype, beta):
    from mlc.compiler.codegen.c_skinny import PARALLEL_WORK
    M, K, N = 20, 784, 300 + LANES[dtype] // 2  # a tail tile too
    assert M * N * K > PARALLEL_WORK and K > N
    check(rng, dtype, "m", M, K, N, "rows", "rows", beta=beta)


def test_gemm_takes_the_kernels_for_the_shapes_they_are_for_and_leaves_the_rest_to_the_blas(rng):
    split_or_blas = "split" if blas._split_program() is not None else "blas"
    skinny_n, skinny_k, skinny_m = (("skinny_n", "skinny_k", "skinny_m") if blas._skinny_pays()
                                    else (split_or_blas,) * 3)
    cases = {(2048, 500, 10): skinny_n, (2000, 256, 16): skinny_n, (2048, 10, 500): skinny_k,
             (8192, MAX_K, 40): skinny_k, (2048, 500, 8): split_or_blas, (2048, 500, 17): split_or_blas,
             (2048, MAX_K + 1, 500): split_or_blas, (8192, 10, 8): split_or_blas,
             (256, 500, 10): split_or_blas,  # small: the BLAS is as fast on the cold operands of a train step
             (2048, 500, 10, "reversed"): "",  # A along no axis: neither the kernel nor the BLAS (a copy first)
             (MAX_M, 784, 500): skinny_m, (1, 784, 500): split_or_blas, (MAX_M + 1, 784, 500): split_or_blas,
             (20, 784, 500, "B transposed"): split_or_blas,  # B along its rows: the BLAS
             (784, 20, 500, "update"): skinny_k,  # the tutorial's weight update: C within the cores' caches
             (256, 10, 500, "update"): split_or_blas, (2048, 10, 500, "update"): split_or_blas}  # a C past them
    assert all(M * N * K > blas.SKINNY_WORK for M, K, N in [(2048, 500, 10), (2000, 256, 16), (2048, 10, 500),
                                                              (8192, MAX_K, 40), (MAX_M, 784, 500), (784, 20, 500)])
    for (M, K, N, *how), code in cases.items():
        A = rng.normal(size=(M, K)).astype("float32")
        A = A[:, ::-1] if how == ["reversed"] else A
        B = rng.normal(size=(N, K) if how == ["B transposed"] else (K, N)).astype("float32")
        B = B.T if how == ["B transposed"] else B
        beta = 1.0 if how == ["update"] else 0.0
        C = np.zeros((M, N), "float32")
        assert blas.route(A, B, beta, C) == code, (M, K, N, how)
        blas.gemm(1.0, A, B, beta, C)
        np.testing.assert_allclose(C, A.astype("float64") @ B, atol=1e-3)
    small = np.ones((4, 4), "float32")
    assert blas.route(small, small, 0.0, np.ones((4, 4), "float64")) == ""  # mixed dtypes: NumPy's path


def test_the_kernels_are_built_for_the_machines_vectors():
    width = np.zeros(1, np.int64)
    blas._skinny_library("float32")[1].skinny_vector_bytes_float32(blas.native.ffi.cast("void*", width.ctypes.data))
    flags = set(open("/proc/cpuinfo").read().split()) if os.path.exists("/proc/cpuinfo") else set()
    assert width[0] in (16, 32, 64)
    if "avx2" in flags:  # -march=native: at least AVX's width, and the whole tile only with AVX-512
        assert width[0] == (64 if "avx512f" in flags else 32)
    assert blas.toolchain.vector_bytes() == width[0]  # what the compiler's macros say, without a build
    assert blas._skinny_pays() == (width[0] == 64)


@pytest.mark.skipif(blas.CORES < 2, reason="one core: one thread")
@pytest.mark.parametrize("kind, shape, transposed", [("n", (600, 784, 10), False), ("n", (784, 600, 10), True),
                                                     ("k", (1024, 16, 512), False), ("m", (20, 784, 500), False),
                                                     ("m", (20, 500, 784), True)])
def test_the_same_bits_whatever_the_thread_count(rng, kind, shape, transposed):
    from mlc.compiler.codegen.c_skinny import PARALLEL_WORK
    M, K, N = shape
    assert M * N * K > PARALLEL_WORK  # shared among the threads
    A = rng.normal(size=(K, M)).astype("float32").T if transposed else rng.normal(size=(M, K)).astype("float32")
    B = rng.normal(size=(K, N)).astype("float32")
    gomp = None
    results = []
    for threads in (blas.CORES, 1, blas.CORES):
        C = np.empty((M, N), "float32")
        skinny(kind, 1.0, A, B, 0.0, C)  # the first call loads the kernels, and with them libgomp
        gomp = gomp or ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        gomp.omp_set_num_threads(ctypes.c_int(threads))
        skinny(kind, 1.0, A, B, 0.0, C)
        results.append(C)
    assert all(np.array_equal(r, results[0]) for r in results)
