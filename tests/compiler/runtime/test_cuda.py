"""``device=cuda``: what can be checked without a GPU runs everywhere (launch arithmetic,
PTX through the build cache, the warning when there is no GPU); the rest is marked ``gpu``
and runs where pycuda finds a device (``python -m pytest -m gpu``)."""
import shutil
import warnings

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.codegen import cache, render_nodes, renderer_for
from mlc.compiler.runtime import backend as backend_module
from mlc.compiler.runtime.launch import cuda_grid, elementwise_launch, reduction_launch


@pytest.mark.parametrize("sizes", [elementwise_launch(10 ** 6), elementwise_launch(3), reduction_launch(7, 300),
                                   reduction_launch(1, 5, 1024)])
def test_cuda_grid_from_launch_sizes(sizes):
    (total,), (local,) = sizes
    grid, block = cuda_grid(*sizes)
    assert grid[0] * block[0] == total and block == (local, 1, 1) and grid[1:] == (1, 1)


def test_cuda_grid_refuses_a_partial_group():
    with pytest.raises(ValueError, match="not a multiple"):
        cuda_grid((300,), (256,))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found")
def test_kernels_compile_to_ptx_once_through_the_build_cache(tmp_path):
    from mlc.compiler.runtime.cuda import toolchain
    x = T.fmatrix()
    f = theano.function([x], [T.exp(x).sum(axis=1), x * 2])
    program, kernels = render_nodes(f.maker.fgraph.toposort(), renderer_for("cuda"))
    with theano.config.change(cache_dir=str(tmp_path)):
        before = cache.builds
        first = toolchain.ptx(program, "sm_75")
        again = toolchain.ptx(program, "sm_75")
        other = toolchain.ptx(program, "sm_90")  # the architecture is part of the key
    assert first == again != other and cache.builds == before + 2
    text = first.read_text()
    assert all(f".entry {e.name}(" in text for e in program.entries) and ".target sm_75" in text


def test_without_a_gpu_cuda_warns_once_naming_why_and_runs_on_the_cpu(monkeypatch):
    try:
        from mlc.compiler.runtime.cuda import find_device
        find_device("cuda")
        pytest.skip("a CUDA device is present")
    except Exception:  # noqa: BLE001
        pass
    monkeypatch.setattr(backend_module, "_warned", set())
    x = T.dvector()
    with theano.config.change(device="cuda"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = theano.function([x], x * 2)
    messages = [str(w.message) for w in caught if "config.device='cuda' cannot be used" in str(w.message)]
    assert len(messages) == 1 and ("pycuda" in messages[0] or "CUDA" in messages[0])
    assert f(np.ones(2)).tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- on a GPU
def _has_gpu():
    try:
        from mlc.compiler.runtime.cuda import find_device
        find_device("cuda")
        return shutil.which("nvcc") is not None
    except Exception:  # noqa: BLE001
        return False


gpu = pytest.mark.skipif(not _has_gpu(), reason="no CUDA device (needs pycuda, a driver, nvcc)")


@pytest.fixture
def cuda_device():
    with theano.config.change(device="cuda", force_device=True):
        yield


@pytest.mark.gpu
@gpu
def test_memory_and_elementwise_and_reductions_on_the_gpu(cuda_device, rng):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = theano.function([x, y], [T.exp(-x * x) * T.sin(y) + T.tanh(x * y), (x * y).sum(axis=1), x.max(axis=0)])
    a, b = rng.normal(size=(37, 300)).astype("float32"), rng.normal(size=(37, 300)).astype("float32")
    want = [np.exp(-a * a) * np.sin(b) + np.tanh(a * b), (a * b).sum(1), a.max(0)]
    for got, ref in zip(f(a, b), want):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@gpu
def test_dense_products_and_the_mlp_step_on_the_gpu_equal_the_cpu(rng):
    from tests.compiler.runtime.test_opencl import _softmax_regression
    step, costs, W, _ = _softmax_regression("cuda")
    _, cpu_costs, W_cpu, _ = _softmax_regression("cpu")
    np.testing.assert_allclose(costs, cpu_costs, rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-10, atol=1e-14)
    assert [str(n.op) for n in step.maker.fgraph.toposort()].count("ToHost") == 1
    from mlc.compiler.runtime.backend import get_backend
    assert get_backend("cuda").blas() is not None, "the products above ran without cuBLAS"


# ---------------------------------------------------------------- cuBLAS, without a GPU
def _column_major_gemm(args, alpha, a_flat, b_flat, beta, c_flat):
    """Reference BLAS: reads flat buffers as column-major matrices, as cuBLAS does."""
    def matrix(flat, rows, cols, ld):
        return np.lib.stride_tricks.as_strided(flat, (rows, cols), (flat.itemsize, ld * flat.itemsize))
    ar, ac = (args.m, args.k) if args.transa == 0 else (args.k, args.m)
    br, bc = (args.k, args.n) if args.transb == 0 else (args.n, args.k)
    a, b = matrix(a_flat, ar, ac, args.lda), matrix(b_flat, br, bc, args.ldb)
    c = matrix(c_flat, args.m, args.n, args.ldc)
    c[...] = alpha * (a if args.transa == 0 else a.T) @ (b if args.transb == 0 else b.T) + beta * c


def _layout(rng, shape, kind):
    """A row-major view of ``shape`` as mlc's device arrays come: contiguous, transposed, or
    a row-major matrix with padded rows; returned with its flat buffer (the view starts at 0)."""
    r, c = shape
    if kind == "transposed":
        flat = rng.normal(size=r * c)
        return np.lib.stride_tricks.as_strided(flat, shape, (8, 8 * r)), flat
    pad = 3 if kind == "padded" else 0
    flat = rng.normal(size=r * (c + pad))
    return np.lib.stride_tricks.as_strided(flat, shape, (8 * (c + pad), 8)), flat


@pytest.mark.parametrize("M,N,K", [(5, 7, 3), (1, 4, 6), (6, 1, 2), (3, 5, 1), (1, 1, 1)])
@pytest.mark.parametrize("x_kind", ["contiguous", "transposed", "padded"])
@pytest.mark.parametrize("y_kind", ["contiguous", "transposed", "padded"])
def test_cublas_arguments_compute_the_row_major_product(rng, M, N, K, x_kind, y_kind):
    from mlc.compiler.runtime.cuda.cublas import gemm_arguments
    x, x_flat = _layout(rng, (M, K), x_kind)
    y, y_flat = _layout(rng, (K, N), y_kind)
    out, out_flat = _layout(rng, (M, N), "padded" if x_kind == "padded" else "contiguous")
    z = out.copy()
    elements = lambda a: tuple(s // 8 for s in a.strides)  # noqa: E731
    args = gemm_arguments(M, N, K, elements(x), elements(y), elements(out))
    _column_major_gemm(args, 0.5, y_flat, x_flat, 2.0, out_flat)
    np.testing.assert_allclose(out, 0.5 * x @ y + 2.0 * z, rtol=1e-12)


def test_cublas_arguments_refuse_layouts_blas_cannot_read():
    from mlc.compiler.runtime.cuda.cublas import gemm_arguments
    assert gemm_arguments(3, 4, 5, (0, 1), (4, 1), (4, 1)) is None  # a broadcast row
    assert gemm_arguments(3, 4, 5, (5, 1), (4, 1), (1, 3)) is None  # a transposed output
    assert gemm_arguments(3, 4, 2 ** 31, (2 ** 31, 1), (4, 1), (4, 1)) is None  # past BLAS's int


def test_cublas_without_a_gpu_fails_with_a_clear_error():
    from mlc.compiler.runtime.cuda import cublas
    try:
        cublas.load()
    except cublas.CublasError as err:  # no library: the message says where it looked and what to install
        assert "libcublas" in str(err) and "pip install nvidia-cublas" in str(err)
        return
    if _has_gpu():
        pytest.skip("a CUDA device is present: the gpu tests use cuBLAS")
    with pytest.raises(cublas.CublasError, match=r"cublasCreate failed: CUBLAS_STATUS_\w+"):
        cublas.Handle()


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cublas_products_of_transposed_views_and_gemm_updates_on_the_gpu(cuda_device, rng, dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    W = theano.shared(rng.normal(size=(6, 4)).astype(dtype), "W")
    W0 = W.get_value()
    f = theano.function([x, y], [T.dot(x.T, y), T.dot(y.T, x)], updates={W: W - 0.1 * T.dot(x.T, y)})
    a, b = rng.normal(size=(9, 6)).astype(dtype), rng.normal(size=(9, 4)).astype(dtype)
    first, second = f(a, b)
    tol = 1e-4 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(first, a.T @ b, rtol=tol, atol=tol)
    np.testing.assert_allclose(second, b.T @ a, rtol=tol, atol=tol)
    np.testing.assert_allclose(W.get_value(), W0 - 0.1 * (a.T @ b), rtol=tol, atol=tol)
