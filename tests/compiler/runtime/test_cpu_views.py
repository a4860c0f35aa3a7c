"""The CPU calls of DimShuffle and constant-index Subtensor: the VM runs them, they give
perform's values on every form (and hand the others to perform), and errors are perform's."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.runtime.cpu.views import ViewCall

PY = theano.Mode(linker="py")


def _views(f):
    return [step[3] for step in f.maker.linked.instance().vm.steps if isinstance(step[3], ViewCall)]


def _same_as_perform(inputs, outputs, values):
    fast, slow = theano.function(inputs, outputs), theano.function(inputs, outputs, mode=PY)
    for _ in range(2):
        for got, want in zip(fast(*values), slow(*values)):
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    return fast


def test_dimshuffles_give_performs_values(rng):
    x, s, r = T.dtensor3("x"), T.dscalar("s"), T.TensorType("float64", (False, True, False))("r")
    outputs = [x.dimshuffle(2, 0, 1) + 0, x.dimshuffle(0, "x", 1, 2) * 2, x.dimshuffle("x", 2, 1, 0) - 1,
               s.dimshuffle("x", "x") + x[0], r.dimshuffle(0, 2) * 3]  # the last drops a dim: perform's
    f = _same_as_perform([x, s, r], outputs, [rng.normal(size=(2, 3, 4)), np.float64(1.5), rng.normal(size=(2, 1, 4))])
    assert len(_views(f)) >= 3


def test_constant_subtensors_give_performs_values(rng):
    x, i = T.dmatrix("x"), T.lscalar("i")
    outputs = [x[:, 1:3] * 2, x[::-1, ::2] + 0, x[1] * 1, x[1, 2] + 0, x.shape[0] * 3, x[:, None, -1] + 0,
               x[i] * 1]  # the last has a symbolic part: perform's
    f = _same_as_perform([x, i], outputs, [rng.normal(size=(4, 5)), np.int64(2)])
    assert len(_views(f)) >= 5


def test_an_index_out_of_range_raises_and_names_the_node(rng):
    x = T.dmatrix("x")
    f = theano.function([x], x[3] * 2)
    assert _views(f)
    with pytest.raises(IndexError, match="Subtensor"):
        f(rng.normal(size=(2, 2)))
    np.testing.assert_array_equal(f(np.ones((4, 2))), [2.0, 2.0])


@pytest.mark.parametrize("bounds", [(1, 3), (0, 0), (-3, -1), (4, 100), (7, 2), (-100, 2)])
def test_minibatch_windows_give_performs_values(rng, bounds):
    x, v, i, j = T.dmatrix("x"), T.lvector("v"), T.lscalar("i"), T.lscalar("j")
    outputs = [x[i:j] * 2, v[i * 2:(i + 1) * 2] + 0, x[i:] * 1, v[:j] + 0, x[1:j:2] * 1, x[i:-1:-1] * 1,
               x[::i + 5] * 1, x[i:j, 1:] * 1]  # the last two (symbolic step, two axes): perform's
    values = [rng.normal(size=(6, 3)), np.arange(8), *bounds]
    f = _same_as_perform([x, v, i, j], outputs, values)
    assert len(_views(f)) == 6
