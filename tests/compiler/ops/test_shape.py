import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.helpers import check


def test_reshape_flatten_transpose(rng):
    x = rng.normal(size=(2, 3, 4))
    check(lambda a: a.reshape((6, 4)), lambda a: a.reshape(6, 4), [x], rng=rng)
    check(lambda a: a.reshape((a.shape[0], -1)), lambda a: a.reshape(2, -1), [x], rng=rng)
    check(lambda a: T.flatten(a), lambda a: a.ravel(), [x], rng=rng)
    check(lambda a: T.flatten(a, 2), lambda a: a.reshape(2, -1), [x], rng=rng)
    check(lambda a: a.T, lambda a: a.T, [x], rng=rng)
    check(lambda a: a.transpose(1, 0, 2), lambda a: a.transpose(1, 0, 2), [x], rng=rng)
    check(lambda a: a.dimshuffle(2, "x", 0, 1), lambda a: a.transpose(2, 0, 1)[:, None], [x], rng=rng)


def test_concatenate_stack(rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    check(lambda x, y: T.concatenate([x, y]), lambda x, y: np.concatenate([x, y]), [a, b], rng=rng)
    check(lambda x, y: T.concatenate([x.T, y.T], axis=1), lambda x, y: np.concatenate([x.T, y.T], 1), [a, b], rng=rng)
    c = rng.normal(size=(2, 3))
    check(lambda x, y: T.stack([x, y], axis=1), lambda x, y: np.stack([x, y], 1), [a, c], rng=rng)
    s = T.dscalar()
    assert theano.function([s], T.stack([s, s * 2]))(3.0).tolist() == [3.0, 6.0]


def test_alloc_zeros_ones_like_arange_eye(rng):
    x = T.dmatrix()
    n = T.lscalar()
    v = rng.normal(size=(2, 3))
    f = theano.function([x, n], [T.zeros_like(x), T.ones_like(x), T.zeros((n, 2)), T.ones((2, n), dtype="int32"),
                                 T.alloc(x[0], n, 3), T.arange(n), T.arange(1, n, 2), T.eye(n), T.eye(n, 4, 1),
                                 T.identity_like(x)])
    out = f(v, 3)
    refs = [np.zeros_like(v), np.ones_like(v), np.zeros((3, 2)), np.ones((2, 3), "int32"),
            np.broadcast_to(v[0], (3, 3)), np.arange(3), np.arange(1, 3, 2), np.eye(3), np.eye(3, 4, 1),
            np.eye(2, 3)]
    for got, ref in zip(out, refs):
        np.testing.assert_array_equal(got, ref)
        assert got.dtype == ref.dtype or (ref.dtype == np.float64 and got.dtype == theano.config.floatX)
    check(lambda a: T.alloc(a, 3, 2), lambda a: np.broadcast_to(a, (3, 2)).copy(), [rng.normal(size=(2,))], rng=rng)


def test_shape_of_symbolic_and_padding():
    x = T.dtensor3()
    f = theano.function([x], [x.shape, x.shape[1], T.shape_padleft(x).shape, T.shape_padright(x, 2).shape])
    out = f(np.zeros((2, 3, 4)))
    assert out[0].tolist() == [2, 3, 4] and out[1] == 3
    assert out[2].tolist() == [1, 2, 3, 4] and out[3].tolist() == [2, 3, 4, 1, 1]


def test_bad_reshape_names_shapes():
    x = T.dmatrix("x")
    f = theano.function([x], x.reshape((5, -1)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(5, -1\)"):
        f(np.zeros((2, 3)))


def test_patternbroadcast_checks_at_run_time():
    x = T.dmatrix()
    f = theano.function([x], T.addbroadcast(x, 0) * 2)
    np.testing.assert_array_equal(f(np.ones((1, 3))), 2 * np.ones((1, 3)))
    with pytest.raises(ValueError, match="broadcastable"):
        f(np.ones((2, 3)))


def test_dimshuffle_rejects_dropping_a_real_dim():
    with pytest.raises(ValueError, match="not broadcastable"):
        T.dmatrix().dimshuffle(0)
