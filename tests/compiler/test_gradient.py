import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.gradient import DisconnectedInputError, GradientError


def test_grad_of_polynomial_and_list():
    x, y = T.dscalar("x"), T.dscalar("y")
    cost = x ** 3 + x * y
    gx, gy = T.grad(cost, [x, y])
    f = theano.function([x, y], [gx, gy])
    assert f(2.0, 5.0) == [3 * 4 + 5, 2.0]


def test_non_scalar_cost_is_an_error():
    with pytest.raises(TypeError, match="scalar"):
        T.grad(T.dvector("v") * 2, T.dvector())


def test_disconnected_inputs():
    x, y = T.dscalar("x"), T.dscalar("y")
    with pytest.raises(DisconnectedInputError, match=r"'y' \(position 1\)"):
        T.grad(x * 2, [x, y])
    with pytest.warns(UserWarning):
        T.grad(x * 2, [x, y], disconnected_inputs="warn")
    gy = T.grad(x * 2, y, disconnected_inputs="ignore")
    assert theano.function([y], gy)(3.0) == 0.0


def test_consider_constant_and_disconnected_grad():
    x = T.dscalar("x")
    y = x * x
    assert theano.function([x], T.grad(y * x, x, consider_constant=[y]))(3.0) == 9.0
    assert theano.function([x], T.grad(theano.disconnected_grad(y) * x, x))(3.0) == 9.0


def test_known_grads():
    x = T.dvector("x")
    y = x * 3
    g = T.grad(None, x, known_grads={y: T.ones_like(y)})
    assert theano.function([x], g)(np.zeros(2)).tolist() == [3.0, 3.0]


def test_grad_keeps_dtype_float32():
    x = T.fvector()
    g = T.grad((x ** 2).sum(), x)
    assert g.dtype == "float32"


def test_grad_through_integer_ops_is_zero_or_absent():
    x = T.dvector("x")
    i = T.lvector("i")
    cost = (x[i] * 2).sum()
    g = T.grad(cost, x)
    np.testing.assert_array_equal(theano.function([x, i], g)(np.zeros(3), np.array([0, 0, 2])), [4, 0, 2])
    gi = T.grad(cost, i)
    assert gi.dtype == theano.config.floatX


def test_jacobian_and_hessian(rng):
    x = T.dvector("x")
    A = rng.normal(size=(3, 3))
    y = T.dot(T.constant(A), x) ** 2
    J = theano.function([x], T.jacobian(y, x))
    v = rng.normal(size=3)
    np.testing.assert_allclose(J(v), 2 * (A @ v)[:, None] * A)
    H = theano.function([x], theano.gradient.hessian((x ** 3).sum(), x))
    np.testing.assert_allclose(H(v), np.diag(6 * v))


def test_verify_grad_catches_wrong_gradient():
    from mlc.compiler.graph import Apply, Op

    class BadSquare(Op):
        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, out):
            out[0][0] = inputs[0] ** 2

        def grad(self, inputs, g):
            return [g[0] * inputs[0]]  # should be 2x

    with pytest.raises(GradientError, match="input 0"):
        T.verify_grad(BadSquare(), [np.array([1.0, 2.0])], rng=np.random.default_rng(0))


def test_against_pytensor_gradient(rng):
    pt = pytest.importorskip("pytensor")
    import pytensor.tensor as ptt
    v, w = rng.normal(size=(4, 3)), rng.normal(size=3)
    a, b = ptt.dmatrix(), ptt.dvector()
    ca = ptt.log(ptt.sigmoid(ptt.dot(a, b)) + 1).mean()
    ref = pt.function([a, b], pt.grad(ca, [a, b]))(v, w)
    x, y = T.dmatrix(), T.dvector()
    c = T.log(T.nnet.sigmoid(T.dot(x, y)) + 1).mean()
    got = theano.function([x, y], T.grad(c, [x, y]))(v, w)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12)


def test_gradient_through_dropping_a_broadcastable_axis_to_a_scalar():
    x = T.dvector("x")
    y = T.shape_padleft(x.sum()).dimshuffle()  # (1,) → 0-d
    g = theano.function([x], theano.grad(y * 3, x))(np.ones(2))
    assert g.tolist() == [3.0, 3.0]
