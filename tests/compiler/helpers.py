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
