"""T.extra_ops, part two (counting, searching, diagonals, index conversions, nonzero, take,
compress, split, topk, choose), generated over one list: values against NumPy, gradients by
finite differences where the function has one, shape inference equal to the real shape."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor import extra_ops as E
from tests.compiler.helpers import check_case

A = np.array([[0.5, -1.2, 0.0, 2.2], [1.7, 0.0, -0.3, 0.9], [0.1, 3.3, -2.1, 0.0]])
LABELS = np.array([3, 0, 1, 1, 5, 3, 3])
MASK = np.array([1, 0, 1])

# name, mlc expression of the matrix x, NumPy reference of the array a, differentiable
CASES = [
    ("fill_diagonal", lambda x: E.fill_diagonal(x, 7.5), lambda a: _filled(a, 7.5), True),
    ("fill_diagonal_offset +1", lambda x: E.fill_diagonal_offset(x, -1.0, 1),
     lambda a: _offset_filled(a, -1.0, 1), True),
    ("fill_diagonal_offset -2", lambda x: E.fill_diagonal_offset(x, 4.0, -2),
     lambda a: _offset_filled(a, 4.0, -2), True),
    ("diagonal", lambda x: E.diagonal(x), lambda a: np.diagonal(a), True),
    ("diagonal offset 1", lambda x: E.diagonal(x, 1), lambda a: np.diagonal(a, 1), True),
    ("diagonal of the transpose", lambda x: E.diagonal(x, -1, 1, 0), lambda a: np.diagonal(a, -1, 1, 0), True),
    ("take flat", lambda x: T.take(x, T.constant(np.array([5, 0, -1]))), lambda a: np.take(a, [5, 0, -1]), True),
    ("take axis 1, matrix of indices", lambda x: T.take(x, T.constant(np.array([[0, 2], [3, 3]])), axis=1),
     lambda a: np.take(a, [[0, 2], [3, 3]], axis=1), True),
    ("take wrap", lambda x: T.take(x, T.constant(np.array([4, -6])), axis=1, mode="wrap"),
     lambda a: np.take(a, [4, -6], axis=1, mode="wrap"), True),
    ("take clip", lambda x: T.take(x, T.constant(np.array([9, -3])), axis=0, mode="clip"),
     lambda a: np.take(a, [9, -3], axis=0, mode="clip"), True),
    ("compress axis 0", lambda x: T.compress(T.constant(MASK), x, axis=0), lambda a: np.compress(MASK, a, axis=0),
     True),
    ("compress flat", lambda x: T.compress(T.gt(x, 0).flatten(), x), lambda a: np.compress((a > 0).ravel(), a),
     True),
    ("nonzero_values", lambda x: T.nonzero_values(x), lambda a: a[np.nonzero(a)], True),
    ("flatnonzero", lambda x: T.flatnonzero(x), lambda a: np.flatnonzero(a), False),
    ("nonzero as matrix", lambda x: T.nonzero(x, return_matrix=True), lambda a: np.array(np.nonzero(a)), False),
    ("split axis 1, part 2", lambda x: T.split(x, T.constant(np.array([1, 3])), 2, axis=1)[1],
     lambda a: np.split(a, [1], axis=1)[1], True),
    ("topk 2", lambda x: T.topk(x, 2), lambda a: -np.sort(-a)[:, :2], True),
    ("topk -3 axis 0", lambda x: T.topk(x, -3, axis=0), lambda a: np.sort(a, 0)[:3], True),
    ("argtopk 1", lambda x: T.argtopk(x, 1), lambda a: np.argsort(-a, kind="stable")[:, :1], False),
    ("inverse_permutation", lambda x: T.inverse_permutation(T.argsort(x)), lambda a: np.argsort(np.argsort(a)),
     False),
    ("searchsorted", lambda x: E.searchsorted(T.constant(np.array([-1.0, 0.0, 0.5, 2.0])), x),
     lambda a: np.searchsorted([-1.0, 0.0, 0.5, 2.0], a), False),
    ("searchsorted right", lambda x: E.searchsorted(T.constant(np.array([-1.0, 0.0, 0.5, 2.0])), x, "right"),
     lambda a: np.searchsorted([-1.0, 0.0, 0.5, 2.0], a, "right"), False),
    ("choose", lambda x: T.choose(T.constant(np.array([[0, 1, 2, 0]] * 3)), [x, -x, x * 2]),
     lambda a: np.choose([[0, 1, 2, 0]] * 3, [a, -a, a * 2]), False),
]


def _filled(a, val):
    a = a.copy()
    np.fill_diagonal(a, val)
    return a


def _offset_filled(a, val, offset):
    a = a.copy()
    rows = np.arange(a.shape[0])
    cols = rows + offset
    keep = (cols >= 0) & (cols < a.shape[1])
    a[rows[keep], cols[keep]] = val
    return a


@pytest.mark.parametrize("name,build,ref,differentiable", CASES, ids=[c[0] for c in CASES])
def test_value_gradient_and_shape(rng, name, build, ref, differentiable):
    check_case(build, A, ref, differentiable, rng, grad_at=A + 0.01 * rng.normal(size=A.shape))  # no ties at 0


def test_bincount_counts_weights_and_their_gradient(rng):
    x, w = T.lvector("x"), T.dvector("w")
    weights = rng.normal(size=len(LABELS))
    counts, summed = theano.function([x, w], [E.bincount(x), E.bincount(x, w, minlength=8)])(LABELS, weights)
    assert counts.tolist() == np.bincount(LABELS).tolist()
    np.testing.assert_allclose(summed, np.bincount(LABELS, weights, 8))
    theano.gradient.verify_grad(lambda v: E.bincount(T.constant(LABELS), v, minlength=8) ** 2, [weights], rng=rng)
    with pytest.raises(ValueError, match="non-negative"):
        theano.function([x], E.bincount(x))(np.array([1, -2]))


def test_unique_with_its_index_outputs():
    x = T.lvector("x")
    got = theano.function([x], E.unique(x, True, True, True))(LABELS)
    for g, w in zip(got, np.unique(LABELS, True, True, True)):
        assert g.tolist() == w.tolist()
    v = T.dvector("v")
    with pytest.raises(NotImplementedError, match="unique has no gradient"):
        theano.grad(T.sum(E.unique(v)), v)


def test_ravel_and_unravel_index_round_trip():
    rows, cols = T.lvector("rows"), T.lvector("cols")
    flat = E.ravel_multi_index([rows, cols], T.constant(np.array([3, 4])))
    back = E.unravel_index(flat, (3, 4))
    r, c = np.array([0, 2, 1]), np.array([3, 0, 2])
    got = theano.function([rows, cols], [flat, *back])(r, c)
    assert got[0].tolist() == np.ravel_multi_index((r, c), (3, 4)).tolist()
    assert got[1].tolist() == r.tolist() and got[2].tolist() == c.tolist()
    with pytest.raises(ValueError):
        theano.function([rows, cols], flat)(np.array([3]), np.array([0]))


def test_t_shared_is_theano_shared():
    v = T.shared(np.zeros(2), name="v")
    assert v.get_value().tolist() == [0.0, 0.0] and T.shared is theano.shared


def test_real_imag_angle_of_real_tensors_and_a_clear_no_for_complex():
    x = T.dvector("x")
    v = np.array([-1.5, 2.0, 0.0])
    got = theano.function([x], [T.real(x), T.imag(x), T.angle(x)])(v)
    for g, w in zip(got, (np.real(v), np.imag(v), np.angle(v))):
        np.testing.assert_allclose(g, w)
    with pytest.raises(NotImplementedError, match="complex numbers"):
        T.angle(T.tensor("complex128", (False,)))


def test_special_functions_against_scipy_where_installed(rng):
    special = pytest.importorskip("scipy.special")
    x, k = T.dvector("x"), T.dvector("k")
    v, dof = rng.uniform(0.2, 3, 5), rng.uniform(1, 6, 5)
    outs = theano.function([x, k], [T.gammaln(x), T.gamma(x), T.psi(x), T.tri_gamma(x), T.erfinv(x / 4),
                                    T.erfcinv(x / 2), T.chi2sf(x, k)])(v, dof)
    wants = [special.gammaln(v), special.gamma(v), special.psi(v), special.polygamma(1, v), special.erfinv(v / 4),
             special.erfcinv(v / 2), special.chdtrc(dof, v)]
    for got, want in zip(outs, wants):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("axes", [1, [[1, 2], [2, 1]], [[2], [3]]])
def test_batched_tensordot_against_numpy_per_batch(rng, axes):
    x, y = T.tensor3("x"), T.tensor4("y")
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 3, 4))
    out = T.batched_tensordot(x, y, axes)
    np_axes = axes if isinstance(axes, int) else [[d - 1 for d in axes[0]], [d - 1 for d in axes[1]]]
    want = np.stack([np.tensordot(a[i], b[i], np_axes) for i in range(2)])
    got, shape = theano.function([x, y], [out, out.shape])(a, b)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert tuple(shape) == want.shape
    theano.gradient.verify_grad(lambda p, q: T.batched_tensordot(p, q, axes), [a, b], rng=rng)
