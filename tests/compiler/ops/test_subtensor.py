import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.helpers import check

BASIC = [lambda a: a[1], lambda a: a[1:3], lambda a: a[:, 1], lambda a: a[::-1, 1:], lambda a: a[-1, ::2],
         lambda a: a[None, 1], lambda a: a[..., 0], lambda a: a[1, 2]]


@pytest.mark.parametrize("index", BASIC)
def test_basic_indexing(index, rng):
    check(index, index, [rng.normal(size=(4, 5))], rng=rng)


def test_symbolic_slice_bounds(rng):
    x, i, j = T.dmatrix(), T.lscalar(), T.lscalar()
    v = rng.normal(size=(6, 3))
    f = theano.function([x, i, j], [x[i:j], x[i], x[i * 2:j:2]])
    out = f(v, 1, 5)
    np.testing.assert_array_equal(out[0], v[1:5])
    np.testing.assert_array_equal(out[1], v[1])
    np.testing.assert_array_equal(out[2], v[2:5:2])


def test_advanced_indexing_arange_labels(rng):
    p = rng.random((5, 3))
    y = rng.integers(0, 3, 5)
    ps, ys = T.dmatrix(), T.lvector()
    f = theano.function([ps, ys], ps[T.arange(ys.shape[0]), ys])
    np.testing.assert_array_equal(f(p, y), p[np.arange(5), y])
    T.verify_grad(lambda a: a[np.arange(5), y], [p], rng=rng)


@pytest.mark.parametrize("index", [lambda a: a[[0, 2, 2]], lambda a: a[:, [1, 0]], lambda a: a[[0, 1], 1:],
                                   lambda a: a[np.array([[0, 1], [2, 3]])]])
def test_integer_array_indexing(index, rng):
    check(index, index, [rng.normal(size=(4, 5))], rng=rng)


def test_boolean_mask(rng):
    v = rng.normal(size=(4, 5))
    x = T.dmatrix()
    f = theano.function([x], x[x > 0])
    np.testing.assert_array_equal(f(v), v[v > 0])


def test_set_and_inc_subtensor(rng):
    v, w = rng.normal(size=(4, 5)), rng.normal(size=(2, 5))
    check(lambda a, b: T.set_subtensor(a[1:3], b), lambda a, b: _set(a, slice(1, 3), b), [v, w], rng=rng)
    check(lambda a, b: T.inc_subtensor(a[1:3], b), lambda a, b: _inc(a, slice(1, 3), b), [v, w], rng=rng)
    idx = np.array([0, 2, 0])
    u = rng.normal(size=(3, 5))
    check(lambda a, b: T.inc_subtensor(a[idx], b), lambda a, b: _add_at(a, idx, b), [v, u], rng=rng)
    check(lambda a, b: T.set_subtensor(a[[0, 3]], b), lambda a, b: _set(a, [0, 3], b), [v, w], rng=rng)


def test_set_subtensor_with_broadcast_value():
    x = T.dmatrix()
    f = theano.function([x], T.set_subtensor(x[:, 0], 7.0))
    out = f(np.zeros((3, 2)))
    np.testing.assert_array_equal(out, [[7, 0], [7, 0], [7, 0]])


def test_subtensor_does_not_modify_input():
    x = T.dvector()
    f = theano.function([x], T.inc_subtensor(x[1:], 1.0))
    v = np.zeros(3)
    f(v)
    assert not v.any()


def test_errors():
    with pytest.raises(IndexError, match="too many indices"):
        T.dvector()[1, 2]
    with pytest.raises(TypeError, match="indexed tensor"):
        T.set_subtensor(T.dvector(), 1.0)
    x = T.dvector("x")
    f = theano.function([x], x[[5]])
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros(3))


def _set(a, idx, b):
    a = a.copy()
    a[idx] = b
    return a


def _inc(a, idx, b):
    a = a.copy()
    a[idx] += b
    return a


def _add_at(a, idx, b):
    a = a.copy()
    np.add.at(a, idx, b)
    return a
