import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.helpers import check


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_softmax_and_log_softmax(rng):
    z = rng.normal(size=(4, 3))
    check(T.nnet.softmax, _softmax, [z], rng=rng)
    check(T.nnet.nnet.softmax, _softmax, [z], rng=rng)
    check(T.nnet.log_softmax, lambda a: np.log(_softmax(a)), [z], rng=rng)
    check(lambda a: T.nnet.softmax(a, axis=0), lambda a: _softmax(a.T).T, [z], rng=rng)


def test_log_softmax_finite_on_huge_logits():
    z = T.dmatrix()
    f = theano.function([z], [T.nnet.log_softmax(z), T.grad(T.nnet.log_softmax(z)[0, 0], z)])
    out, g = f(np.array([[1e4, -1e4, 0.0]]))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(out, [[0, -2e4, -1e4]])


def test_relu_and_activations(rng):
    x = rng.normal(size=(3, 4))
    check(lambda a: T.nnet.relu(a), lambda a: np.maximum(a, 0), [x], rng=rng)
    check(lambda a: T.nnet.relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a), [x], rng=rng)
    check(T.nnet.softplus, lambda a: np.log1p(np.exp(a)), [x], rng=rng)
    check(T.nnet.elu, lambda a: np.where(a > 0, a, np.expm1(a)), [x], rng=rng)


def test_crossentropies(rng):
    p = _softmax(rng.normal(size=(5, 3)))
    y = rng.integers(0, 3, 5)
    onehot = np.eye(3)[y]
    check(lambda a: T.nnet.categorical_crossentropy(a, T.constant(y)), lambda a: -np.log(a[np.arange(5), y]),
          [p], rng=rng)
    check(lambda a: T.nnet.categorical_crossentropy(a, T.constant(onehot)), lambda a: -np.log(a[np.arange(5), y]),
          [p], rng=rng)
    q = rng.uniform(0.1, 0.9, (4,))
    t = (rng.random(4) > 0.5).astype(float)
    check(lambda a: T.nnet.binary_crossentropy(a, T.constant(t)),
          lambda a: -(t * np.log(a) + (1 - t) * np.log(1 - a)), [q], rng=rng)


def test_against_pytensor_softmax(rng):
    pt = pytest.importorskip("pytensor")
    import pytensor.tensor as ptt
    z = rng.normal(size=(4, 6)) * 10
    a = ptt.dmatrix()
    ref = pt.function([a], [ptt.special.softmax(a, axis=-1), ptt.special.log_softmax(a, axis=-1)])(z)
    b = T.dmatrix()
    got = theano.function([b], [T.nnet.softmax(b), T.nnet.log_softmax(b)])(z)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-15)
