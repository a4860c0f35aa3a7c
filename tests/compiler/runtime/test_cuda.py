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
