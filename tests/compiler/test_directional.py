"""Rop, Lop, subgraph_grad, grad_clip, grad_scale, consider_constant, against NumPy Jacobians
(finite differences) and the Theano tutorial's figures."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T


def _jacobian(f, x, eps=1e-6):
    """d f(x) / d x by central differences: shape f(x).shape + x.shape."""
    rows = []
    for k in range(x.size):
        up, down = x.copy(), x.copy()
        up.flat[k] += eps
        down.flat[k] -= eps
        rows.append((f(up) - f(down)) / (2 * eps))
    return np.stack(rows, axis=-1).reshape(np.shape(f(x)) + x.shape)


def test_the_tutorial_rop_and_lop_figures():
    W, V, x, v = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x"), T.dvector("v")
    y = T.dot(x, W)
    rop = theano.function([W, V, x], T.Rop(y, W, V))
    assert rop([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]).tolist() == [2.0, 2.0]
    lop = theano.function([v, x], T.Lop(y, W, v))
    assert lop([2, 2], [0, 1]).tolist() == [[0.0, 0.0], [2.0, 2.0]]


@pytest.mark.parametrize("build", [lambda x, A: T.tanh(T.dot(A, x)) * x, lambda x, A: T.nnet.softmax(T.dot(A, x))[0],
                                   lambda x, A: T.exp(x).sum() * T.dot(A, x ** 2)])
def test_rop_and_lop_equal_the_jacobian_by_finite_differences(rng, build):
    x, A, u, v = T.dvector("x"), T.dmatrix("A"), T.dvector("u"), T.dvector("v")
    xs, As = rng.normal(size=3), rng.normal(size=(3, 3))
    y = build(x, A)
    J = _jacobian(lambda p: theano.function([x, A], y)(p, As), xs)
    vs, us = rng.normal(size=3), rng.normal(size=J.shape[0])
    np.testing.assert_allclose(theano.function([x, A, v], T.Rop(y, x, v))(xs, As, vs), J @ vs, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(theano.function([x, A, u], T.Lop(y, x, u))(xs, As, us), us @ J, rtol=1e-6, atol=1e-8)


def test_hessian_times_a_vector_by_rop_of_the_gradient(rng):
    x, v = T.dvector("x"), T.dvector("v")
    cost = (T.sin(x) * x.sum() ** 2).sum()
    hv = theano.function([x, v], T.Rop(theano.grad(cost, x), x, v))
    xs, vs = rng.normal(size=4), rng.normal(size=4)
    H = _jacobian(lambda p: theano.function([x], theano.grad(cost, x))(p), xs)
    np.testing.assert_allclose(hv(xs, vs), H @ vs, rtol=1e-6, atol=1e-7)


def test_rop_and_lop_name_mismatched_eval_points():
    x, y = T.dvector("x"), T.dmatrix("y")
    with pytest.raises(ValueError, match=r"eval_points\[0\] is 2-d but wrt\[0\] \(x\) is 1-d"):
        T.Rop(x * 2, x, y)
    with pytest.raises(ValueError, match="2 expressions but 1 eval_points"):
        T.Lop([x, x], x, [x])


def test_subgraph_grad_block_by_block_equals_the_full_gradient(rng):
    x = T.dvector("x")
    w1, w2 = theano.shared(rng.normal(size=(3, 4)), "w1"), theano.shared(rng.normal(size=(4, 2)), "w2")
    a1 = T.tanh(T.dot(x, w1))
    a2 = T.nnet.sigmoid(T.dot(a1, w2))
    cost = (a2 ** 2).sum() + (a1 ** 2).sum() * 0.1
    top, end_grads = theano.gradient.subgraph_grad([w2], [a1], cost=(a2 ** 2).sum())
    bottom, _ = theano.gradient.subgraph_grad([w1], [x], start=dict(zip([a1], end_grads)), cost=(a1 ** 2).sum() * 0.1)
    f = theano.function([x], top + bottom + theano.grad(cost, [w2, w1]))
    got_w2, got_w1, want_w2, want_w1 = f(rng.normal(size=3))
    np.testing.assert_allclose(got_w2, want_w2, rtol=1e-12)
    np.testing.assert_allclose(got_w1, want_w1, rtol=1e-12)


def test_grad_clip_and_grad_scale_change_only_the_backward_pass():
    x = T.dvector("x")
    clipped = theano.gradient.grad_clip(x, -1.0, 1.0)
    scaled = theano.gradient.grad_scale(x, 0.5)
    f = theano.function([x], [clipped * 3, theano.grad((clipped * 3).sum(), x), theano.grad((scaled ** 2).sum(), x)])
    value, g_clip, g_scale = f(np.array([1.0, -2.0]))
    assert value.tolist() == [3.0, -6.0] and g_clip.tolist() == [1.0, 1.0] and g_scale.tolist() == [1.0, -2.0]
    kinds = {type(n.op).__name__ for n in f.maker.fgraph.toposort()}
    assert "GradientOnly" not in kinds  # an identity in the compiled forward graph: removed


def test_consider_constant_stops_the_gradient():
    x = T.dscalar("x")
    y = theano.gradient.consider_constant(x ** 2) * x
    assert theano.function([x], theano.grad(y, x))(3.0) == 9.0  # not 27: x ** 2 is held constant
