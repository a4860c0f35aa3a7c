"""The products with one small side (``codegen/c_skinny.py``): equal to NumPy in float64
for every layout they take (called as ``blas.gemm`` calls them, small sizes included), the
same bits whatever the thread count, and used by ``blas.gemm`` for exactly the shapes they
are meant for."""
import ctypes
import os

import numpy as np
import pytest

from mlc.compiler.codegen.c_skinny import LANES, MAX_K
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


def check(rng, dtype, M, K, N, a_layout, b_layout, alpha=0.5, beta=2.0):
    A = layouts(rng, dtype, (M, K))[a_layout]
    B = layouts(rng, dtype, (K, N))[b_layout]
    C0 = rng.normal(size=(M, N)).astype(dtype)
    C = C0.copy() if beta else np.full((M, N), np.nan, dtype)  # beta 0: C's old contents are ignored
    ran = blas._skinny(dtype, alpha, A, B, beta, C, M, N, K)
    if not ran:
        blas.gemm(alpha, A, B, beta, C)
    want = alpha * (A.astype("float64") @ B.astype("float64")) + (beta * C0 if beta else 0)
    tol = TOL[dtype] * np.sqrt(K) * max(1.0, np.abs(want).max())
    np.testing.assert_allclose(C, want, rtol=0, atol=tol)
    return ran


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M", [1, 7, 8, 17, 600])
@pytest.mark.parametrize("a_layout", ["rows", "transposed", "row step", "column step", "reversed"])
@pytest.mark.parametrize("b_layout", ["rows", "transposed", "column step"])
def test_small_n_equals_numpy(rng, dtype, M, a_layout, b_layout):
    lanes = LANES[dtype]
    along_an_axis = a_layout not in ("column step", "reversed")  # else left to the BLAS
    for N in (lanes // 2 + 1, lanes - 3, lanes):
        assert check(rng, dtype, M, 300, N, a_layout, b_layout) == along_an_axis
    assert check(rng, dtype, M, 300, lanes, a_layout, b_layout, alpha=-1.0, beta=0.0) == along_an_axis


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M", [1, 3, 4, 9, 256])
@pytest.mark.parametrize("K", [1, 10, MAX_K])
@pytest.mark.parametrize("a_layout", ["rows", "transposed", "reversed"])
@pytest.mark.parametrize("b_layout", ["rows", "transposed", "column step"])
def test_small_k_equals_numpy(rng, dtype, M, K, a_layout, b_layout):
    lanes, item = LANES[dtype], np.dtype(dtype).itemsize
    for N in (lanes, lanes + 3, 500):  # an update of a C past the cache is left to the BLAS
        assert check(rng, dtype, M, K, N, a_layout, b_layout) == (M * N * item <= blas.SKINNY_UPDATE_BYTES)
    assert check(rng, dtype, M, K, 77, a_layout, b_layout, alpha=2.0, beta=0.0)


def test_the_kernels_take_the_shapes_they_are_for_and_leave_the_rest_to_the_blas(rng, monkeypatch):
    ran = []
    real = blas._skinny_library("float32")

    class Spy:
        def __getattr__(self, name):
            ran.append(name)
            return getattr(real[1], name)
    monkeypatch.setattr(blas, "_skinny_library", lambda dtype: (real[0], Spy()))
    cases = {(2048, 500, 10): "skinny_n_float32", (2000, 256, 16): "skinny_n_float32",
             (2048, 10, 500): "skinny_k_float32", (8192, MAX_K, 40): "skinny_k_float32",
             (2048, 500, 8): None, (2048, 500, 17): None, (2048, MAX_K + 1, 500): None, (8192, 10, 8): None,
             (256, 500, 10): None,  # small: the BLAS is as fast on the cold operands of a train step
             (256, 10, 500, "update"): None, (2048, 10, 500, "update"): None}  # a C past the cache: BLAS
    assert all(M * N * K > blas.SKINNY_WORK for (M, K, N, *_), entry in cases.items() if entry)
    for (M, K, N, *update), entry in cases.items():
        ran.clear()
        A, B = rng.normal(size=(M, K)).astype("float32"), rng.normal(size=(K, N)).astype("float32")
        C = np.zeros((M, N), "float32")
        blas.gemm(1.0, A, B, 1.0 if update else 0.0, C)
        np.testing.assert_allclose(C, A.astype("float64") @ B, atol=1e-3)
        assert ran == ([entry] if entry else []), (M, K, N)


@pytest.mark.skipif(blas.CORES < 2, reason="one core: one thread")
@pytest.mark.parametrize("shape, transposed", [((600, 784, 10), False), ((784, 600, 10), True), ((1024, 16, 512), False)])
def test_the_same_bits_whatever_the_thread_count(rng, shape, transposed):
    from mlc.compiler.codegen.c_skinny import PARALLEL_WORK
    M, K, N = shape
    assert M * N * K > PARALLEL_WORK  # shared among the threads
    A = rng.normal(size=(K, M)).astype("float32").T if transposed else rng.normal(size=(M, K)).astype("float32")
    B = rng.normal(size=(K, N)).astype("float32")
    gomp = None
    results = []
    for threads in (blas.CORES, 1, blas.CORES):
        C = np.empty((M, N), "float32")
        blas.gemm(1.0, A, B, 0.0, C)  # the first call loads the kernels, and with them libgomp
        gomp = gomp or ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        gomp.omp_set_num_threads(ctypes.c_int(threads))
        blas.gemm(1.0, A, B, 0.0, C)
        results.append(C)
    assert all(np.array_equal(r, results[0]) for r in results)
