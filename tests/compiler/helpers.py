"""Shared test helpers: compile, compare with a NumPy reference, check gradients."""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T


def sym_like(values, bcast_ones=False):
    return [T.tensor(v.dtype, [bcast_ones and s == 1 for s in v.shape], name=f"in{i}")
            for i, v in enumerate(values)]


def check(fn, ref, values, grad=True, rtol=1e-10, rng=None, **kw):
    """``fn`` (symbolic) on ``values`` equals ``ref`` (NumPy), and its gradient passes verify_grad."""
    syms = sym_like(values)
    out = fn(*syms)
    got = theano.function(syms, out, **kw)(*[v.copy() for v in values])
    expected = ref(*[v.copy() for v in values])
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
    assert np.asarray(got).shape == np.asarray(expected).shape
    if grad:
        T.verify_grad(fn, values, rng=rng or np.random.default_rng(0))
    return got


def check_case(build, a, ref, differentiable, rng, rtol=1e-12, atol=1e-12, weights=None, grad_at=None):
    """One row of an op table: ``build`` (symbolic, of a matrix) on ``a`` equals ``ref(a)``,
    its inferred shape equals the real one, and where ``differentiable`` its gradient passes
    verify_grad (of ``sum(build(x) * weights)`` when ``weights`` is given, resized to the
    output, so that every output element weighs differently), at ``grad_at`` if given (a point
    away from ``a``'s kinks)."""
    x = T.matrix("x", dtype=a.dtype)
    out = build(x)
    got, shape = theano.function([x], [out, out.shape])(a)
    want = ref(a)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    assert tuple(shape) == np.shape(want)
    if not differentiable:
        return
    point = a if grad_at is None else grad_at
    if weights is None:
        T.verify_grad(build, [point], rng=rng)
    else:
        w = np.resize(weights, np.shape(want)) if np.ndim(want) else 1.0
        T.verify_grad(lambda m: T.sum(build(m) * w), [point], rng=rng)
