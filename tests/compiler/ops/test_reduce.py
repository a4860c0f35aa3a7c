import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.helpers import check

AXES = [None, 0, 1, (0, 2), -1, ()]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std"])
def test_reductions_match_numpy(name, axis, keepdims, rng):
    x = rng.uniform(0.5, 2, (3, 4, 2))
    if name == "std" and axis == ():
        pytest.skip("std over no axis is sqrt(0): its gradient is infinite")
    check(lambda a: getattr(T, name)(a, axis=axis, keepdims=keepdims),
          lambda a: getattr(np, name)(a, axis=axis, keepdims=keepdims), [x], rng=rng)


def test_prod_gradient_with_zeros(rng):
    x = rng.uniform(0.5, 2, (4, 3))
    x[0, 1] = 0.0            # one zero in row 0
    x[2, 0] = x[2, 2] = 0.0  # two zeros in row 2
    check(lambda a: T.prod(a, axis=1), lambda a: np.prod(a, axis=1), [x], rng=rng)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_all_any_argmax_argmin(axis, rng):
    x = rng.integers(0, 3, (4, 5)).astype("float64")
    m = T.dmatrix()
    f = theano.function([m], [T.all(m, axis), T.any(m, axis), T.argmax(m, axis), T.argmin(m, axis)])
    for got, ref in zip(f(x), [np.all(x, axis), np.any(x, axis), np.argmax(x, axis), np.argmin(x, axis)]):
        np.testing.assert_array_equal(got, ref)


def test_integer_sum_widens_and_mean_is_float():
    x = T.bvector()
    f = theano.function([x], [x.sum(), x.mean()])
    s, m = f(np.array([100, 100, 100], dtype="int8"))
    assert s.dtype == np.int64 and s == 300
    assert m.dtype == np.float64 and m == 100


def test_methods_on_variables(rng):
    x = T.dmatrix()
    v = rng.normal(size=(3, 4))
    f = theano.function([x], [x.sum(axis=0), x.max(), x.argmax(axis=1), x.mean(keepdims=True),
                              x.norm(2), x.norm(1, axis=0)])
    out = f(v)
    np.testing.assert_allclose(out[0], v.sum(0))
    np.testing.assert_allclose(out[1], v.max())
    np.testing.assert_array_equal(out[2], v.argmax(1))
    np.testing.assert_allclose(out[3], v.mean(keepdims=True))
    np.testing.assert_allclose(out[4], np.linalg.norm(v.ravel()))
    np.testing.assert_allclose(out[5], np.abs(v).sum(0))


def test_max_of_empty_axis_is_a_clear_error():
    x = T.dmatrix()
    f = theano.function([x], x.max(axis=0))
    with pytest.raises(ValueError, match="empty"):
        f(np.zeros((0, 3)))


def test_bad_axis_is_an_error():
    with pytest.raises(ValueError, match="out of range"):
        T.sum(T.dmatrix(), axis=2)
