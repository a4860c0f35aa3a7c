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


@pytest.mark.skipif(blas.CORES < 2 or blas._libgomp() is None, reason="one core, or no libgomp: nothing to hold")
@pytest.mark.parametrize("shape", [(256, 784, 500), (20, 784, 500)])  # split; skinny_m where it pays
def test_on_a_busy_machine_products_run_on_one_thread_to_the_same_bits(rng, shape, monkeypatch):
    import time
    M, K, N = shape
    A, B = operands(rng, "float32", M, K, N, 0, 0)
    threads = blas._libgomp().omp_get_max_threads()

    def product_when(rate: float) -> tuple[bool, np.ndarray]:
        """The product, with the machine busy from ``rate`` preemptions a second."""
        monkeypatch.setattr(blas, "BUSY_RATE", rate)
        blas._configure_machine.cache_clear()
        blas._configure_machine()
        blas._products.busy()
        time.sleep(0.06)  # past the window: the next look counts
        busy, C = blas._products.busy(), np.empty((M, N), "float32")
        blas.gemm(1.0, A, B, 0.0, C)
        return busy, C
    try:
        busy, held = product_when(-1.0)  # every window counts as busy
        quiet, shared = product_when(1e12)  # none does
    finally:
        monkeypatch.undo()
        blas._configure_machine.cache_clear()
        blas._configure_machine()
    assert busy and not quiet
    assert np.array_equal(held, shared)
    assert blas._libgomp().omp_get_max_threads() == threads  # held to one for the product only


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
assert blas._split_library() is not None
if blas._skinny_pays():
    assert blas._skinny_library("float32") is not None
print(built, cache.builds, 2 + blas._skinny_pays())
"""


@needs_split
def test_the_products_library_is_built_with_the_function_not_at_its_first_product(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", FIRST_PRODUCT_SCRIPT, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    built, after, libraries = map(int, done.stdout.split())
    # the tanh kernel, the split products and (where they pay) the skinny ones, all before the first call
    assert built == after == libraries


# ---------------------------------------------------------------------- the products' fast path
import sys  # noqa: E402

import mlc.compiler as theano  # noqa: E402
import mlc.compiler.tensor as T  # noqa: E402

PY = theano.Mode(linker="py")


def _product_calls(f):
    return [type(c).__name__ for c in f.maker.linked.instance().vm.calls if "Product" in type(c).__name__]


def _python_path_calls(monkeypatch):
    """Counts the calls that reach the Dot and Gemm thunks' Python paths."""
    calls = []
    for thunk in (blas.DotThunk, blas.GemmThunk):
        original = thunk.__call__
        monkeypatch.setattr(thunk, "__call__", lambda self, original=original: calls.append(1) or original(self))
    return calls


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_vm_calls_the_products_fast_path_for_dot_and_gemm(dtype, rng, monkeypatch):
    assert blas._products is not None  # built by the install (a silent fallback would hide a broken build)
    x, w, u = (T.matrix(name, dtype=dtype) for name in "xwu")
    b = T.vector("b", dtype=dtype)
    f = theano.function([x, w, u, b], [T.dot(x, w), T.dot(x, u) + b])
    assert sorted(str(n.op) for n in f.maker.fgraph.toposort() if "Shuffle" not in str(n.op)) == ["Dot", "Gemm"]
    assert _product_calls(f) == ["ProductCall", "ProductCall"]
    python_path = _python_path_calls(monkeypatch)
    a, c, d, v = (rng.normal(size=s).astype(dtype) for s in ((5, 3), (3, 4), (3, 4), (4,)))
    got = f(a, c, d, v)
    np.testing.assert_allclose(got[0], a @ c, rtol=1e-5)
    np.testing.assert_allclose(got[1], a @ d + v, rtol=1e-5)
    assert python_path == []


LAYOUTS = {  # name: (x, w) of a product; the Python path takes those the BLAS cannot read as they are
    "row-major": lambda rng: (rng.normal(size=(6, 5)), rng.normal(size=(5, 4))),
    "transposed": lambda rng: (rng.normal(size=(5, 6)).T, rng.normal(size=(4, 5)).T),
    "every other row": lambda rng: (rng.normal(size=(12, 5))[::2], rng.normal(size=(10, 4))[::2]),
    "every other column": lambda rng: (rng.normal(size=(6, 10))[:, ::2], rng.normal(size=(5, 8))[:, ::2]),
    "one row": lambda rng: (rng.normal(size=(1, 5)), rng.normal(size=(5, 1))),
    "empty": lambda rng: (np.zeros((0, 5)), rng.normal(size=(5, 4))),
    "nothing to sum": lambda rng: (np.zeros((6, 0)), np.zeros((0, 4))),
    "large": lambda rng: (rng.normal(size=(300, 200)), rng.normal(size=(200, 100))),
    "skinny": lambda rng: (rng.normal(size=(2048, 600)), rng.normal(size=(600, 8))),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_gives_the_python_paths_result(layout, rng):
    a, c = LAYOUTS[layout](rng)
    x, w = T.dmatrix("x"), T.dmatrix("w")
    shape = (a.shape[0], c.shape[1])
    cases = [("Dot", [x, w], T.dot(x, w), (a, c), a @ c)]  # and Gemms with z full or one row
    for z, zv in ((T.dmatrix("z"), rng.normal(size=shape)), (T.row("z", dtype="float64"), rng.normal(size=(1, shape[1])))):
        cases.append(("Gemm", [x, w, z], z - 0.5 * T.dot(x, w), (a, c, zv), zv - 0.5 * (a @ c)))
    for op, inputs, out, values, want in cases:
        fast, slow = theano.function(inputs, out), theano.function(inputs, out, mode=PY)
        assert [type(n.op).__name__ for n in fast.maker.fgraph.toposort()] == [op]
        for _ in range(2):  # the kept output buffer is reused from call to call
            got = fast(*values)
            assert got.shape == shape
            np.testing.assert_allclose(got, slow(*values), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_failed_product_raises_the_python_paths_error_and_leaves_shared_weights_alone(rng):
    w = theano.shared(rng.normal(size=(5, 4)), name="w")
    x, g = T.dmatrix("x"), T.dmatrix("g")
    step = theano.function([x, g], [], updates=[(w, w - 0.1 * T.dot(x.T, g))])
    assert "Gemm{inplace}" in str(step.maker.fgraph.toposort())
    before = w.get_value()
    with pytest.raises(ValueError, match="not aligned"):
        step(rng.normal(size=(3, 5)), rng.normal(size=(2, 4)))
    np.testing.assert_array_equal(w.get_value(), before)
    z = T.dmatrix("z")
    gemm = theano.function([x, g, z], z + T.dot(x.T, g))
    with pytest.raises(ValueError, match=r"z of shape \(2, 4\) does not fit"):
        gemm(rng.normal(size=(3, 5)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4)))
    a, d = rng.normal(size=(3, 5)), rng.normal(size=(3, 4))
    step(a, d)
    np.testing.assert_allclose(w.get_value(), before - 0.1 * a.T @ d, rtol=1e-12)


def test_product_results_are_the_callers_and_inputs_are_not_held(rng):
    x, w = T.fmatrix("x"), T.fmatrix("w")
    f = theano.function([x, w], T.dot(x, w))
    a, c = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3, 2)).astype("float32")
    before = sys.getrefcount(a), sys.getrefcount(c)
    first, second = f(a, c), f(a, c)
    assert first is not second and np.array_equal(first, second)  # an output is never overwritten later
    assert (sys.getrefcount(a), sys.getrefcount(c)) == before


def test_products_of_other_dtypes_take_the_python_path(rng):
    x, w = T.lmatrix("x"), T.lmatrix("w")
    a, c = rng.integers(-5, 5, size=(4, 3)), rng.integers(-5, 5, size=(3, 2))
    np.testing.assert_array_equal(theano.function([x, w], T.dot(x, w))(a, c), a @ c)


def test_products_from_several_threads_each_get_their_own_results(rng):
    import threading
    x, w = T.dmatrix("x"), T.dmatrix("w")
    f = theano.function([x, w], T.tanh(T.dot(x, w)))
    values = [(rng.normal(size=(64, 64)), rng.normal(size=(64, 64))) for _ in range(4)]
    results = [None] * len(values)

    def work(k):
        for _ in range(20):
            results[k] = f(*values[k])
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(values))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, c), r in zip(values, results):
        np.testing.assert_allclose(r, np.tanh(a @ c), rtol=1e-12)
