import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.rewrite.helpers import op_names


def test_intermediate_buffers_reused_but_inputs_untouched(rng):
    x = T.dvector("x")
    f = theano.function([x], T.exp(T.dot(x, x) * x) + x)
    v = rng.normal(size=4)
    saved = v.copy()
    out = f(v)
    np.testing.assert_array_equal(v, saved)
    np.testing.assert_allclose(out, np.exp((saved @ saved) * saved) + saved)


def test_shared_update_in_place_and_value_still_read_is_not_clobbered(rng):
    w = theano.shared(np.ones(3), name="w")
    x = T.dvector("x")
    # the forward output reads w; the update overwrites w: the read must come first
    f = theano.function([x], [w * x, w.sum()], updates=[(w, w * 2 + x)])
    assert any("inplace" in n for n in op_names(f))
    storage = w.get_value(borrow=True)
    out, s = f(np.arange(3.0))
    np.testing.assert_array_equal(out, [0, 1, 2])
    assert s == 3
    np.testing.assert_array_equal(w.get_value(), [2, 3, 4])
    assert w.get_value(borrow=True) is storage


def test_returned_shared_value_is_not_destroyed():
    w = theano.shared(np.ones(2), name="w")
    f = theano.function([], w, updates=[(w, w + 1)])
    assert f().tolist() == [1, 1] and f().tolist() == [2, 2]


def test_failed_call_with_inplace_updates_changes_nothing():
    w = theano.shared(np.ones(3), name="w")
    x = T.dvector("x")
    f = theano.function([x], T.dot(x, w), updates=[(w, w - 0.5 * x)])
    with pytest.raises(ValueError):
        f(np.ones(4))
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
