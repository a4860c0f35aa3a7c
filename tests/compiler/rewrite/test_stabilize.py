import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.nn import losses
from tests.compiler.rewrite.helpers import compare, op_names


def test_log_sigmoid_at_extremes():
    x = T.dscalar("x")
    f = theano.function([x], [T.log(T.nnet.sigmoid(x)), T.grad(T.log(T.nnet.sigmoid(x)), x),
                              T.log(1 - T.nnet.sigmoid(x)), T.grad(T.log(1 - T.nnet.sigmoid(x)), x)])
    lo, glo, _, _ = f(-1000.0)
    assert lo == -1000.0 and np.isfinite(glo) and glo == 1.0
    _, _, hi, ghi = f(1000.0)
    assert hi == -1000.0 and np.isfinite(ghi) and ghi == -1.0
    assert not any("log" in n for n in op_names(f))


def test_log_sigmoid_matches_unstable_form_where_that_is_finite(rng):
    x = T.dvector("x")
    compare([x], [T.log(T.nnet.sigmoid(x)), T.log(1 - T.nnet.sigmoid(x))], [rng.normal(size=6) * 5], wrt=[x], rtol=1e-7)  # the stable form is the more accurate


def test_log_softmax_and_crossentropy_1hot(rng):
    z, y = T.dmatrix("z"), T.lvector("y")
    for cost in [-T.log(T.nnet.softmax(z))[T.arange(y.shape[0]), y],
                 T.nnet.categorical_crossentropy(T.nnet.softmax(z), y)]:
        f = compare([z, y], [cost.mean()], [rng.normal(size=(5, 4)), rng.integers(0, 4, 5)], wrt=[z])
        names = op_names(f)
        assert "SoftmaxCrossentropy1Hot" in names and "SoftmaxCrossentropy1HotGrad" in names
        assert not any(n.startswith(("Softmax{", "LogSoftmax", "AdvancedIncSubtensor")) for n in names), names
    ls = compare([z], [T.log(T.nnet.softmax(z))], [rng.normal(size=(3, 4))], wrt=[z])
    assert any("LogSoftmax" in n for n in op_names(ls))


def test_crossentropy_finite_on_huge_logits():
    z, y = T.dmatrix("z"), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
    f = theano.function([z, y], [cost, T.grad(cost, z)])
    c, g = f(np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 1e4]]), np.array([1, 2]))
    assert c == 1e4 and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [[0.5, -0.5, 0], [0, 0, 0]])
    onehot = T.dmatrix("t")
    c2 = losses.categorical_crossentropy(T.nnet.softmax(z), onehot)
    f2 = theano.function([z, onehot], [c2, T.grad(c2, z)])
    assert all(np.all(np.isfinite(v)) for v in f2(np.array([[1e4, -1e4, 0.0]]), np.array([[0.0, 1.0, 0.0]])))


def test_binary_crossentropy_of_sigmoid_logistic_regression(rng):
    X, y = T.dmatrix("X"), T.dvector("y")
    w = theano.shared(rng.normal(size=2) * 1000, name="w")
    p = T.nnet.sigmoid(T.dot(X, w))
    xent = (-y * T.log(p) - (1 - y) * T.log(1 - p)).mean()
    f = theano.function([X, y], [xent, T.grad(xent, w)])
    c, g = f(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, 1.0]))
    assert np.isfinite(c) and np.all(np.isfinite(g))
