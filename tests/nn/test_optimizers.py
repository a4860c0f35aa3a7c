"""Each optimizer's first three steps against a hand-written NumPy version of its formula."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn
from mlc.nn import regularizers

A = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.3]])
B = np.array([1.0, -2.0, 0.5])
W0 = np.array([0.3, -0.2])


def loss_and_grad(w):
    r = A @ w - B
    return (r ** 2).mean(), 2 * A.T @ r / len(B)


def numpy_steps(kind, steps=3, **h):
    w = W0.copy()
    state = {"v": np.zeros(2), "a": np.zeros(2), "d": np.zeros(2), "m": np.zeros(2), "t": 0}
    out = []
    for _ in range(steps):
        _, g = loss_and_grad(w)
        if kind == "sgd":
            w = w - h["lr"] * g
        elif kind == "momentum":
            state["v"] = h["momentum"] * state["v"] - h["lr"] * g
            w = w + state["v"]
        elif kind == "nesterov":
            state["v"] = h["momentum"] * state["v"] - h["lr"] * g
            w = w - h["lr"] * g + h["momentum"] * state["v"]
        elif kind == "adagrad":
            state["a"] += g ** 2
            w = w - h["lr"] * g / np.sqrt(state["a"] + 1e-6)
        elif kind == "rmsprop":
            state["a"] = 0.9 * state["a"] + 0.1 * g ** 2
            w = w - h["lr"] * g / np.sqrt(state["a"] + 1e-6)
        elif kind == "adadelta":
            state["a"] = 0.95 * state["a"] + 0.05 * g ** 2
            step = g * np.sqrt(state["d"] + 1e-6) / np.sqrt(state["a"] + 1e-6)
            w = w - h["lr"] * step
            state["d"] = 0.95 * state["d"] + 0.05 * step ** 2
        elif kind == "adam":
            state["t"] += 1
            t = state["t"]
            state["m"] = 0.9 * state["m"] + 0.1 * g
            state["v"] = 0.999 * state["v"] + 0.001 * g ** 2
            w = w - h["lr"] * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * state["m"] / (np.sqrt(state["v"]) + 1e-8)
        out.append(w.copy())
    return out


CASES = [("sgd", lambda: nn.SGD(lr=0.1), {"lr": 0.1}),
         ("momentum", lambda: nn.SGD(lr=0.1, momentum=0.9), {"lr": 0.1, "momentum": 0.9}),
         ("nesterov", lambda: nn.SGD(lr=0.1, momentum=0.9, nesterov=True), {"lr": 0.1, "momentum": 0.9}),
         ("adagrad", lambda: nn.Adagrad(lr=0.5), {"lr": 0.5}),
         ("rmsprop", lambda: nn.RMSprop(lr=0.01), {"lr": 0.01}),
         ("adadelta", lambda: nn.Adadelta(), {"lr": 1.0}),
         ("adam", lambda: nn.Adam(lr=0.01), {"lr": 0.01})]


@pytest.mark.parametrize("kind,make,hyper", CASES, ids=[c[0] for c in CASES])
def test_first_three_steps_match_numpy(kind, make, hyper):
    w = theano.shared(W0.copy(), name="w")
    a, b = T.dmatrix("a"), T.dvector("b")
    loss = ((T.dot(a, w) - b) ** 2).mean()
    opt = make()
    step = theano.function([a, b], loss, updates=opt.get_updates(loss, [w]))
    for expected in numpy_steps(kind, **hyper):
        step(A, B)
        np.testing.assert_allclose(w.get_value(), expected, rtol=1e-12, atol=1e-14)


def test_learning_rate_changes_without_recompiling():
    w = theano.shared(np.array([1.0]), name="w")
    opt = nn.SGD(lr=0.5)
    step = theano.function([], [], updates=opt.get_updates((w ** 2).sum(), [w]))
    step()
    assert w.get_value()[0] == 0.0
    w.set_value(np.array([1.0]))
    opt.learning_rate = 0.25
    step()
    assert w.get_value()[0] == 0.5
    assert opt.state_variables()[0] is opt.lr


def test_clip_norm():
    g = [T.constant(np.array([3.0, 0.0])), T.constant(np.array([4.0]))]
    clipped = theano.function([], nn.clip_norm(g, 1.0))()
    assert np.isclose(np.sqrt(sum((c ** 2).sum() for c in clipped)), 1.0, atol=1e-6)
    w = theano.shared(np.array([10.0]), name="w")
    opt = nn.SGD(lr=1.0, clipnorm=0.5)
    theano.function([], [], updates=opt.get_updates((w ** 2).sum(), [w]))()
    assert np.isclose(w.get_value()[0], 9.5)


def test_float32_params_stay_float32():
    w = theano.shared(np.ones(3, dtype="float32"), name="w")
    for opt in [nn.SGD(0.1, momentum=0.9), nn.Adam(), nn.RMSprop(), nn.Adadelta(), nn.Adagrad()]:
        theano.function([], [], updates=opt.get_updates((w ** 2).sum() + regularizers.l2([w], 1e-4), [w]))()
        assert w.get_value().dtype == np.float32


def test_unknown_arguments():
    with pytest.raises(TypeError):
        nn.SGD(lr=0.1, momentun=0.9)
    with pytest.raises(ValueError, match="valid:"):
        nn.optimizers.get("lbfgs")
