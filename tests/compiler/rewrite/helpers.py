import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T


def op_names(f):
    return [str(n.op) for n in f.maker.fgraph.toposort()]


def compare(inputs, outputs, values, wrt=None, mode="FAST_RUN", rtol=1e-10, **kw):
    """FAST_RUN (or ``mode``) and FAST_COMPILE give the same outputs (and gradients of their
    sum w.r.t. ``wrt``); returns the compiled FAST_RUN function."""
    outputs = list(outputs)
    if wrt is not None:
        cost = T.add(*[T.sum(o) for o in outputs if o.dtype.startswith("float")])
        outputs += T.grad(cost, wrt, disconnected_inputs="ignore")
    fast = theano.function(inputs, outputs, mode=mode, **kw)
    slow = theano.function(inputs, outputs, mode="FAST_COMPILE", **kw)
    got, ref = fast(*[np.copy(v) for v in values]), slow(*[np.copy(v) for v in values])
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol)
        assert np.asarray(g).dtype == np.asarray(r).dtype and np.shape(g) == np.shape(r)
    return fast
