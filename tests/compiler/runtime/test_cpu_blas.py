"""Matrix products on the CPU (``runtime/cpu/blas.py``): through NumPy's OpenBLAS, large ones
split into blocks run on mlc's OpenMP threads, each block a single-threaded BLAS call."""
import ctypes
import os

import numpy as np
import pytest

from mlc.compiler.runtime.cpu import blas

pytestmark = pytest.mark.skipif(blas.cblas() is None, reason="NumPy's OpenBLAS not found")


def operands(rng, dtype, M, K, N, ta, tb):
    A = rng.normal(size=(K, M) if ta else (M, K)).astype(dtype)
    B = rng.normal(size=(N, K) if tb else (K, N)).astype(dtype)
    return (A.T if ta else A), (B.T if tb else B)


@pytest.mark.parametrize("dtype, tol", [("float32", 2e-4), ("float64", 1e-11)])
@pytest.mark.parametrize("M, K, N", [(256, 784, 500), (784, 256, 500), (900, 300, 70), (5, 3, 7), (64, 2000, 33)])
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_equals_numpy_for_every_layout(rng, dtype, tol, M, K, N, ta, tb):
    A, B = operands(rng, dtype, M, K, N, ta, tb)
    C0 = rng.normal(size=(M, N)).astype(dtype)
    C = C0.copy()
    blas.gemm(0.5, A, B, 2.0, C)
    want = 0.5 * (A.astype("float64") @ B.astype("float64")) + 2.0 * C0
    np.testing.assert_allclose(C, want, rtol=tol, atol=tol * np.sqrt(K))


def _omp_set_num_threads(n):
    blas.cblas()  # a product has loaded the kernels, and with them libgomp
    gomp = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    gomp.omp_set_num_threads(ctypes.c_int(n))


@pytest.mark.skipif(blas.CORES < 2, reason="one core: nothing is split")
def test_split_products_are_the_same_bits_whatever_the_thread_count(rng):
    A, B = operands(rng, "float32", 256, 784, 500, 0, 0)
    results = []
    for threads in (blas.CORES, 1, blas.CORES):
        C = np.empty((256, 500), "float32")
        blas.gemm(1.0, A, B, 0.0, C)  # loads the split kernels (and libgomp) on the first call
        _omp_set_num_threads(threads)
        blas.gemm(1.0, A, B, 0.0, C)
        results.append(C)
    assert all(np.array_equal(r, results[0]) for r in results)


def test_products_leave_openblas_thread_count_as_it_was(rng):
    before = blas.blas_threads()
    A, B = operands(rng, "float64", 300, 300, 300, 0, 0)
    blas.gemm(1.0, A, B, 0.0, np.empty((300, 300)))
    assert blas.blas_threads() == before


needs_split = pytest.mark.skipif(blas.CORES < 2 or blas._split_program() is None,
                                 reason="one core, or no OpenMP: nothing is split")

FIRST_PRODUCT_SCRIPT = """
import sys, numpy as np, mlc.compiler as theano, mlc.compiler.tensor as T
from mlc.compiler.codegen import cache
from mlc.compiler.runtime.cpu import blas
theano.config.cache_dir = sys.argv[1]
x, w = T.fmatrix(), T.fmatrix()
f = theano.function([x, w], T.tanh(T.dot(x, w)))
built = cache.builds
a, b = np.ones((256, 784), "float32") / 784, np.ones((784, 500), "float32")
assert np.allclose(f(a, b), np.tanh(1.0))
assert np.allclose(f(a, b[:, :10]), np.tanh(1.0))  # a skinny product
assert blas._split_library() is not None and blas._skinny_library("float32") is not None
print(built, cache.builds)
"""


@needs_split
def test_the_products_library_is_built_with_the_function_not_at_its_first_product(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", FIRST_PRODUCT_SCRIPT, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    built, after = map(int, done.stdout.split())
    assert built == after == 3  # the tanh kernel, the split and the skinny products, all before the first call
