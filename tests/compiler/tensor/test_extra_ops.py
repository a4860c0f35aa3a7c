"""T.extra_ops and the sorting/reshaping helpers, generated over one list: values against
NumPy, gradients by finite differences, shape inference equal to the real shape."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor import extra_ops
from tests.compiler.helpers import check_case

# name, mlc expression of a matrix, NumPy reference, differentiable
CASES = [
    ("cumsum axis 0", lambda x: extra_ops.cumsum(x, 0), lambda a: np.cumsum(a, 0), True),
    ("cumsum flat", lambda x: extra_ops.cumsum(x), lambda a: np.cumsum(a), True),
    ("cumprod axis 1", lambda x: extra_ops.cumprod(x, 1), lambda a: np.cumprod(a, 1), True),
    ("cumprod flat", lambda x: extra_ops.cumprod(x), lambda a: np.cumprod(a), True),
    ("diff n=2 axis 1", lambda x: extra_ops.diff(x, 2, 1), lambda a: np.diff(a, 2, 1), True),
    ("repeat axis 1", lambda x: extra_ops.repeat(x, 3, 1), lambda a: np.repeat(a, 3, 1), True),
    ("repeat flat", lambda x: extra_ops.repeat(x, 2), lambda a: np.repeat(a, 2), True),
    ("sort axis 0", lambda x: T.sort(x, 0), lambda a: np.sort(a, 0), True),
    ("sort last", lambda x: T.sort(x), lambda a: np.sort(a), True),
    ("sort flat", lambda x: T.sort(x, None), lambda a: np.sort(a, None), True),
    ("argsort", lambda x: T.argsort(x), lambda a: np.argsort(a, kind="stable"), False),
    ("roll axis 1", lambda x: T.roll(x, 1, 1), lambda a: np.roll(a, 1, 1), True),
    ("tril", lambda x: T.tril(x), np.tril, True),
    ("tril k=-1", lambda x: T.tril(x, -1), lambda a: np.tril(a, -1), True),
    ("triu k=2", lambda x: T.triu(x, 2), lambda a: np.triu(a, 2), True),
    ("triu of a stack", lambda x: T.triu(T.stack([x, 2 * x])), lambda a: np.triu(np.stack([a, 2 * a])), True),
    ("swapaxes", lambda x: T.swapaxes(x, 0, 1), lambda a: np.swapaxes(a, 0, 1), True),
    ("horizontal_stack", lambda x: T.horizontal_stack(x, x[:, :1]), lambda a: np.hstack([a, a[:, :1]]), True),
    ("vertical_stack", lambda x: T.vertical_stack(x, x, x[:1]), lambda a: np.vstack([a, a, a[:1]]), True),
    ("deg2rad", lambda x: T.deg2rad(x), np.deg2rad, True),
    ("rad2deg", lambda x: T.rad2deg(x), np.rad2deg, True),
    ("power", lambda x: T.power(abs(x), x), lambda a: np.power(abs(a), a), True),
    ("conj", lambda x: T.conj(x), np.conj, True),
    ("roll flat", lambda x: T.roll(x, -2), lambda a: np.roll(a, -2), True),
    ("tile", lambda x: T.tile(x, (2, 3)), lambda a: np.tile(a, (2, 3)), True),
    ("tile up a dim", lambda x: T.tile(x, (2, 1, 1)), lambda a: np.tile(a, (2, 1, 1)), True),
    ("ptp", lambda x: T.ptp(x, 0), lambda a: np.ptp(a, 0), True),
    ("largest", lambda x: T.largest(x, x * 2, -x), lambda a: np.maximum(np.maximum(a, 2 * a), -a), True),
    ("smallest", lambda x: T.smallest(x, x * 2), lambda a: np.minimum(a, 2 * a), True),
]


@pytest.mark.parametrize("name,build,ref,differentiable", CASES, ids=[c[0] for c in CASES])
def test_value_gradient_and_shape(rng, name, build, ref, differentiable):
    a = rng.normal(size=(3, 4)) + np.linspace(0, 1, 12).reshape(3, 4)  # distinct values: sorting is well defined
    check_case(build, a, ref, differentiable, rng)


def test_to_one_hot_and_squeeze():
    y = T.lvector("y")
    assert theano.function([y], extra_ops.to_one_hot(y, 3))(np.array([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]
    r = T.drow("r")
    assert theano.function([r], extra_ops.squeeze(r))(np.ones((1, 3))).shape == (3,)


def test_special_functions_against_numpy(rng):
    x, y = T.dvector("x"), T.dvector("y")
    a = np.array([1.0, np.inf, -2.5, np.nan, 0.5, 3.0])
    b = np.array([1.0 + 1e-9, np.inf, -2.4, np.nan, 0.5000001, -np.inf])
    f = theano.function([x, y], [T.isclose(x, y), T.isclose(x, y, equal_nan=True), T.allclose(x, x), T.arctan2(x, y)])
    close, close_nan, all_close, angle = f(a, b)
    rounded = theano.function([x], T.iround(x))(np.array([0.5, 1.5, -2.5, 2.4, -0.6, 7.0]))
    assert close.tolist() == np.isclose(a, b).tolist() and close_nan.tolist() == np.isclose(a, b, equal_nan=True).tolist()
    assert not bool(all_close)  # a holds a NaN
    assert rounded.tolist() == [1, 2, -3, 2, -1, 7] and rounded.dtype == np.int64
    np.testing.assert_allclose(angle, np.arctan2(a, b))
    m = T.dmatrix("m")
    v = rng.normal(size=(3, 4)) * 300  # exp would overflow without taking the maximum out
    want = np.log(np.exp(v - v.max(1, keepdims=True)).sum(1)) + v.max(1)
    np.testing.assert_allclose(theano.function([m], T.logsumexp(m, axis=1))(v), want)
    assert theano.function([m], T.logsumexp(m, axis=1, keepdims=True))(v).shape == (3, 1)
    theano.gradient.verify_grad(lambda t: T.logsumexp(t, axis=0), [rng.normal(size=(3, 4))], rng=rng)
    theano.gradient.verify_grad(lambda p, q: T.arctan2(p, q), [rng.normal(size=4), rng.normal(size=4)], rng=rng)


def test_tri_and_triangles_keep_infinities_outside_at_zero():
    for n, m, k in ((3, None, 0), (2, 5, 1), (4, 3, -2)):
        got = T.tri(n, m, k, dtype="int8").eval()
        assert got.dtype == np.int8 and got.tolist() == np.tri(n, m, k, dtype="int8").tolist()
    x = T.dmatrix("x")
    a = np.array([[1.0, np.inf], [np.nan, 2.0]])
    low, up = theano.function([x], [T.tril(x), T.triu(x)])(a)
    np.testing.assert_array_equal(low, np.tril(a))  # the inf above is 0, the NaN kept
    np.testing.assert_array_equal(up, np.triu(a))
    with pytest.raises(TypeError, match="tril takes a matrix"):
        T.tril(T.dvector())
    with pytest.raises(TypeError, match="argument 1 must be a matrix"):
        T.horizontal_stack(x, T.dvector())


def test_ceil_intdiv_against_numpy():
    a, b = T.lvector("a"), T.lvector("b")
    na, nb = np.array([7, -7, 6, 0, 9, -9]), np.array([2, 2, 3, 5, -4, -4])
    got = theano.function([a, b], T.ceil_intdiv(a, b))(na, nb)
    assert got.tolist() == (-(-na // nb)).tolist() and got.dtype == np.int64


def test_complex_constructors_say_mlc_has_no_complex_numbers():
    x = T.dvector("x")
    for make in (lambda: T.complex(x, x), lambda: T.complex_from_polar(x, x)):
        with pytest.raises(NotImplementedError, match="does not support complex numbers"):
            make()
