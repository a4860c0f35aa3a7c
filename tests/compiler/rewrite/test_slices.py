import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.rewrite.helpers import compare, op_names


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _has(f, name):
    return any(n.startswith(name) for n in op_names(f))


def test_gradient_of_gates_cut_from_one_tensor_is_one_join(rng):
    # an LSTM's four gates: the gradient of z was zeros, four strided increments and their sum
    z = T.dmatrix("z")
    n = 3
    i, f, o, g = T.nnet.sigmoid(z[:, :n]), T.nnet.sigmoid(z[:, n:2 * n]), T.nnet.sigmoid(z[:, 2 * n:3 * n]), T.tanh(z[:, 3 * n:])
    cost = (o * T.tanh(f * 0.5 + i * g)).sum()
    zv = rng.normal(size=(5, 4 * n))
    fn = compare([z], [cost], [zv], wrt=[z])
    assert _has(fn, "Join") and not _has(fn, "IncSubtensor")
    # against NumPy: the same gradient by hand
    iv, fv, ov, gv = _sigmoid(zv[:, :n]), _sigmoid(zv[:, n:2 * n]), _sigmoid(zv[:, 2 * n:3 * n]), np.tanh(zv[:, 3 * n:])
    c = fv * 0.5 + iv * gv
    dc = ov * (1 - np.tanh(c) ** 2)
    want = np.concatenate([dc * gv * iv * (1 - iv), dc * 0.5 * fv * (1 - fv), np.tanh(c) * ov * (1 - ov),
                           dc * iv * (1 - gv ** 2)], axis=1)
    np.testing.assert_allclose(fn(zv)[1], want, rtol=1e-12)


def test_pieces_in_any_order_on_another_axis_with_other_terms(rng):
    x = T.dtensor3("x")
    parts = [x[4:], x[:2], x[2:4]]
    cost = (parts[0] ** 2).sum() + (3 * parts[1]).sum() + T.exp(parts[2]).sum() + (x * x).sum()
    fn = compare([x], [cost], [rng.normal(size=(6, 2, 3))], wrt=[x])
    assert _has(fn, "Join") and not _has(fn, "IncSubtensor")


@pytest.mark.parametrize("cuts", [[(0, 2), (3, None)],      # a gap
                                  [(0, 4), (2, None)],      # an overlap
                                  [(0, 4), (4, 8)],         # the end is not known to be 8
                                  [(1, 4), (4, None)]])     # the start is not 0
def test_slices_that_do_not_tile_the_axis_stay_increments(cuts, rng):
    x = T.dmatrix("x")
    cost = T.add(*[(x[:, a:b] * (k + 1)).sum() for k, (a, b) in enumerate(cuts)])
    fn = compare([x], [cost], [rng.normal(size=(3, 8))], wrt=[x])
    assert not _has(fn, "Join") and _has(fn, "IncSubtensor")


def test_slices_past_the_end_give_empty_pieces_as_before(rng):
    # for a length-6 axis, [4:8] is 2 long and [8:] empty: the join is 6 long, as the sum was
    x = T.dmatrix("x")
    cost = (x[:, :4] ** 2).sum() + (x[:, 4:8] * 3).sum() + x[:, 8:].sum()
    fn = compare([x], [cost], [rng.normal(size=(2, 6))], wrt=[x])
    assert _has(fn, "Join")
    xv = rng.normal(size=(2, 6))
    np.testing.assert_allclose(fn(xv)[1], np.concatenate([2 * xv[:, :4], np.full((2, 2), 3.0)], axis=1))


def test_excluding_the_rewrite_by_name(rng):
    x = T.dmatrix("x")
    cost = (x[:, :2] ** 2).sum() + x[:, 2:].sum()
    mode = theano.Mode.get("FAST_RUN").excluding("join_of_slice_increments")
    fn = compare([x], [cost], [rng.normal(size=(2, 5))], wrt=[x], mode=mode)
    assert not _has(fn, "Join") and _has(fn, "IncSubtensor")
