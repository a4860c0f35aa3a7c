"""The C kernels of softmax, log-softmax and the softmax crossentropy on labels
(``runtime/cpu/xent.py``) against the ops' NumPy ``perform`` (the 'py' linker), forward and
gradient, within each dtype's tolerance."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.mode import Mode
from mlc.compiler.ops.nnet import (LogSoftmax, LogSoftmaxGrad, Softmax, SoftmaxCrossentropy1Hot,
                                   SoftmaxCrossentropy1HotGrad, SoftmaxGrad)

TOLERANCE = {"float32": 2e-6, "float64": 1e-14}


def both(inputs, outputs):
    return [theano.function(inputs, outputs, mode=Mode(linker)) for linker in ("c", "py")]


def kernel_thunks(f):
    from mlc.compiler.runtime.cpu.xent import SoftmaxThunk, XentThunk
    return [step[3] for step in f.maker.linked.instance().vm.steps if isinstance(step[3], (XentThunk, SoftmaxThunk))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_vm_calls_the_row_kernels_fast_path_and_it_hands_over_what_it_does_not_take(rng, dtype, monkeypatch):
    from mlc.compiler.runtime.cpu import fastcall, xent
    assert fastcall._rows is not None  # built by the install (a silent fallback would hide a broken build)
    python_path = []
    for thunk in (xent.XentThunk, xent.SoftmaxThunk):
        original = thunk.__call__
        monkeypatch.setattr(thunk, "__call__", lambda self, original=original: python_path.append(1) or original(self))
    z, y, g = T.matrix("z", dtype=dtype), T.lvector("y"), T.matrix("g", dtype=dtype)
    xe = SoftmaxCrossentropy1Hot()(z, y)
    sm = Softmax(-1)(z)
    outs = [*xe, SoftmaxCrossentropy1HotGrad()(xe[0], xe[1], y), sm, SoftmaxGrad(-1)(g, sm), LogSoftmax(-1)(z)]
    fast, reference = both([z, y, g], outs)
    calls = fast.maker.linked.instance().vm.calls
    assert sum(type(c).__name__ == "RowsCall" for c in calls) == 5
    zv, yv, gv = rng.normal(size=(9, 4)).astype(dtype), rng.integers(0, 4, 9), rng.normal(size=(9, 4)).astype(dtype)
    # Strided scores go to the Python path in the three nodes that read them (int32 labels: the test above).
    for values, through_python in (((zv, yv, gv), 0), ((np.asfortranarray(zv), yv, gv), 3)):
        python_path.clear()
        for got, want in zip(fast(*values), reference(*values)):
            np.testing.assert_allclose(got, want, rtol=TOLERANCE[dtype] * 5, atol=TOLERANCE[dtype] * 5)
        assert len(python_path) == through_python


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n, k", [(1, 1), (3, 2), (7, 33), (256, 1000), (300, 5), (1000, 3), (3, 2500)])
def test_forward_and_gradient_equal_perform(rng, dtype, n, k):
    z, y, g = T.matrix("z", dtype=dtype), T.lvector("y"), T.vector("g", dtype=dtype)
    nll, sm = SoftmaxCrossentropy1Hot()(z, y)
    grad = SoftmaxCrossentropy1HotGrad()(g, sm, y)
    fast, reference = both([z, y, g], [nll, sm, grad])
    assert len(kernel_thunks(fast)) == 2 and not kernel_thunks(reference)
    zv = (rng.normal(size=(n, k)) * 5).astype(dtype)
    args = (zv, rng.integers(0, k, n), rng.normal(size=n).astype(dtype))
    for got, want in zip(fast(*args), reference(*args)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_extreme_scores_nan_rows_strided_inputs_and_narrow_labels(rng):
    z, y = T.dmatrix("z"), T.ivector("y")
    fast, reference = both([z, y], list(SoftmaxCrossentropy1Hot()(z.T, y)))
    zv = rng.normal(size=(5, 4)) * 300  # exp over/underflows without the max shift
    zv[1, 2] = np.nan
    zv[3] = -np.inf
    yv = np.array([0, 1, 2, 3], dtype="int32")
    for got, want in zip(fast(zv, yv), reference(zv, yv)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("labels", [[0, 5], [-1, 0]])
def test_labels_out_of_range_raise_perform_s_error(labels):
    z, y = T.dmatrix("z"), T.lvector("y")
    fast = theano.function([z, y], SoftmaxCrossentropy1Hot()(z, y)[0])
    with pytest.raises(IndexError, match=r"labels must be in \[0, 5\)"):
        fast(np.zeros((2, 5)), np.array(labels))


def test_empty_batches_and_mismatched_lengths_follow_perform():
    z, y = T.fmatrix("z"), T.lvector("y")
    fast = theano.function([z, y], SoftmaxCrossentropy1Hot()(z, y)[0])
    assert fast(np.zeros((0, 3), "float32"), np.zeros(0, "int64")).shape == (0,)
    with pytest.raises(ValueError, match="3 rows of scores but 2 labels"):
        fast(np.zeros((3, 3), "float32"), np.zeros(2, "int64"))
    g, sm = T.fvector("g"), T.fmatrix("sm")
    grad = theano.function([g, sm, y], SoftmaxCrossentropy1HotGrad()(g, sm, y))
    with pytest.raises(ValueError, match="could not be broadcast"):  # one gradient per row, or perform's error
        grad(np.ones(2, "float32"), np.ones((3, 4), "float32"), np.zeros(3, "int64"))


def test_the_loss_graph_trains_through_the_kernels_like_numpy(rng):
    z, y = T.fmatrix("z"), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
    f = theano.function([z, y], [cost, T.grad(cost, z)])
    assert len(kernel_thunks(f)) == 2
    zv, yv = (rng.normal(size=(64, 10)) * 3).astype("float32"), rng.integers(0, 10, 64)
    p = np.exp(zv - zv.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want_cost = -np.log(p[np.arange(64), yv]).mean()
    p[np.arange(64), yv] -= 1
    got_cost, got_grad = f(zv, yv)
    np.testing.assert_allclose(got_cost, want_cost, rtol=1e-6)
    np.testing.assert_allclose(got_grad, p / 64, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (2, 3, 1000), (300, 700), (1000, 3), (3, 2500)])
def test_softmax_log_softmax_and_their_gradients_equal_perform(rng, dtype, shape):
    x, g = T.tensor(dtype, (False,) * len(shape), "x"), T.tensor(dtype, (False,) * len(shape), "g")
    sm, lsm = Softmax(-1)(x), LogSoftmax(-1)(x)
    fast, reference = both([x, g], [sm, lsm, SoftmaxGrad(-1)(g, sm), LogSoftmaxGrad(-1)(g, lsm)])
    assert len(kernel_thunks(fast)) == 4 and not kernel_thunks(reference)
    xv, gv = (rng.normal(size=shape) * 6).astype(dtype), rng.normal(size=shape).astype(dtype)
    xv.flat[0] = np.nan  # a NaN spoils its own row only, as in NumPy
    for got, want in zip(fast(xv, gv), reference(xv, gv)):
        np.testing.assert_allclose(got, want, rtol=TOLERANCE[dtype] * 5, atol=TOLERANCE[dtype] * 5, equal_nan=True)


def test_softmax_over_another_axis_keeps_perform_and_gradients_check(rng):
    x = T.dmatrix("x")
    f = theano.function([x], Softmax(0)(x))
    assert not kernel_thunks(f)
    np.testing.assert_allclose(f(np.eye(3)).sum(axis=0), 1.0)
    theano.gradient.verify_grad(lambda a: (T.nnet.softmax(a) * np.arange(4.0)).sum(), [rng.normal(size=(3, 4))],
                                rng=rng)
    theano.gradient.verify_grad(lambda a: (T.nnet.logsoftmax(a) * np.arange(4.0)).sum(), [rng.normal(size=(3, 4))],
                                rng=rng)
