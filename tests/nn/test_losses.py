import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.nn import losses


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _run(expr, *inputs_values):
    syms = [v for v, _ in inputs_values]
    return theano.function(syms, expr)(*[v for _, v in inputs_values])


def test_values_against_numpy(rng):
    z = T.dmatrix("z")
    y = T.lvector("y")
    Z, Y = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    P = _softmax(Z)
    nll = -np.log(P[np.arange(6), Y])
    assert np.isclose(_run(losses.categorical_crossentropy(T.nnet.softmax(z), y), (z, Z), (y, Y)), nll.mean())
    assert np.isclose(_run(losses.negative_log_likelihood(z, y, from_logits=True, reduction="sum"), (z, Z), (y, Y)),
                      nll.sum())
    onehot = T.dmatrix("t")
    np.testing.assert_allclose(_run(losses.categorical_crossentropy(T.nnet.softmax(z), onehot, reduction="none"),
                                    (z, Z), (onehot, np.eye(4)[Y])), nll)
    t = T.dvector("t")
    v = T.dvector("v")
    V, Tt = rng.normal(size=5), (rng.random(5) > 0.5).astype(float)
    s = 1 / (1 + np.exp(-V))
    bce = -(Tt * np.log(s) + (1 - Tt) * np.log(1 - s))
    assert np.isclose(_run(losses.binary_crossentropy(T.nnet.sigmoid(v), t), (v, V), (t, Tt)), bce.mean())
    assert np.isclose(_run(losses.binary_crossentropy(v, t, from_logits=True), (v, V), (t, Tt)), bce.mean())
    q = T.dvector("q")
    assert np.isclose(_run(losses.binary_crossentropy(q, t), (q, s), (t, Tt)), bce.mean())
    assert np.isclose(_run(losses.squared_error(v, t), (v, V), (t, Tt)), ((V - Tt) ** 2).mean())
    pm = 2 * Tt - 1
    assert np.isclose(_run(losses.hinge(v, t), (v, V), (t, pm)), np.maximum(0, 1 - pm * V).mean())
    d = np.abs(V - Tt)
    assert np.isclose(_run(losses.huber(v, t, delta=0.5), (v, V), (t, Tt)),
                      np.where(d <= 0.5, 0.5 * d ** 2, 0.5 * (d - 0.25)).mean())
    correct = Z[np.arange(6), Y]
    others = np.where(np.eye(4)[Y] > 0, -np.inf, Z).max(1)
    assert np.isclose(_run(losses.multiclass_hinge(z, y), (z, Z), (y, Y)), np.maximum(0, others - correct + 1).mean())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_finite_on_huge_logits(dtype):
    z, y, v, t = T.matrix("z", dtype), T.lvector("y"), T.vector("v", dtype), T.vector("t", dtype)
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=dtype)
    V = np.array([1e4, -1e4, 3.0], dtype=dtype)
    for cost, wrt, feed in [
        (losses.categorical_crossentropy(T.nnet.softmax(z), y), z, [(z, Z), (y, np.array([1, 0]))]),
        (losses.categorical_crossentropy(z, y, from_logits=True), z, [(z, Z), (y, np.array([1, 0]))]),
        (losses.binary_crossentropy(T.nnet.sigmoid(v), t), v, [(v, V), (t, np.array([0, 1, 1], dtype))]),
    ]:
        out = theano.function([s for s, _ in feed], [cost, T.grad(cost, wrt)])(*[x for _, x in feed])
        assert all(np.all(np.isfinite(o)) for o in out)
        assert out[0] > 1e3  # the wrong-class examples cost ~1e4, exactly


def test_bad_reduction_and_targets():
    with pytest.raises(ValueError, match="reduction"):
        losses.squared_error(T.dvector(), T.dvector(), reduction="avg")
    with pytest.raises(TypeError, match="ndim"):
        losses.categorical_crossentropy(T.dmatrix(), T.dtensor3())
    with pytest.raises(ValueError, match="valid:"):
        losses.get("kl")
