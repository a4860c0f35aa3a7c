"""Pooling thunks on the CPU (``runtime/cpu/pool.py``) against the ops' NumPy ``perform``,
with ties in the windows: both send a max window's gradient to its first maximum."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.runtime.cpu.pool import PoolThunk
from mlc.compiler.tensor.signal.pool import pool_2d

CASES = [((2, 2), None, (0, 0), True), ((3, 3), (2, 2), (1, 1), True), ((3, 2), (2, 1), (0, 0), False),
         ((3, 3), (1, 1), (0, 0), True)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ws, stride, pad, ignore_border", CASES)
@pytest.mark.parametrize("mode", ["max", "average_exc_pad"])
def test_pooling_and_its_gradient_equal_perform(rng, dtype, ws, stride, pad, ignore_border, mode):
    x, g = T.tensor(dtype, (False,) * 4, name="x"), T.tensor(dtype, (False,) * 4, name="g")
    out = pool_2d(x, ws, ignore_border, stride, pad, mode)
    outputs = [out, theano.grad((out * g).sum(), x)]
    values = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(dtype)  # many ties
    grads = rng.normal(size=theano.function([x], out.shape)(values)).astype(dtype)
    fast = theano.function([x, g], outputs)
    assert sum(isinstance(s[3], PoolThunk) for s in fast.maker.vm.steps) == 2
    for got, want in zip(fast(values, grads), theano.function([x, g], outputs, mode="FAST_COMPILE")(values, grads)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
