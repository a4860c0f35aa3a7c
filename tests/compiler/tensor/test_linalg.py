"""T.nlinalg and T.slinalg, generated over one list: values against NumPy/SciPy, gradients
by finite differences where Theano has them, shape inference equal to the real shape."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor import nlinalg as N
from mlc.compiler.tensor import slinalg as S
from tests.compiler.helpers import check_case

RNG = np.random.default_rng(7)
_M = RNG.normal(size=(4, 4))
SPD = _M @ _M.T + 4 * np.eye(4)  # symmetric positive definite, well conditioned
B = RNG.normal(size=4)
WEIGHTS = np.arange(16.0).reshape(4, 4) / 10


def _scipy(name):
    return getattr(pytest.importorskip("scipy.linalg"), name)


# name, mlc expression of the matrix x, reference of the array a, differentiable
CASES = [
    ("matrix_inverse", lambda x: N.matrix_inverse(x), np.linalg.inv, True),
    ("det", lambda x: N.det(x), np.linalg.det, True),
    ("pinv", lambda x: N.pinv(x[:, :3]), lambda a: np.linalg.pinv(a[:, :3]), False),
    ("eigh values", lambda x: N.eigh(x)[0], lambda a: np.linalg.eigh(a)[0], True),
    ("eigh vectors squared", lambda x: N.eigh(x)[1] ** 2, lambda a: np.linalg.eigh(a)[1] ** 2, True),
    ("eigh upper", lambda x: N.eigh(x, "U")[0], lambda a: np.linalg.eigh(a, "U")[0], True),
    ("eig values", lambda x: N.eig(x)[0], lambda a: np.linalg.eig(a)[0].real, False),
    ("svd values", lambda x: N.svd(x, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False), False),
    ("qr r", lambda x: N.qr(x, "r"), lambda a: np.linalg.qr(a, "r"), False),
    ("qr q", lambda x: N.qr(x)[0], lambda a: np.linalg.qr(a)[0], False),
    ("trace", lambda x: N.trace(x), np.trace, True),
    ("diag of a matrix", lambda x: N.diag(x), np.diag, True),
    ("diag of a vector", lambda x: N.diag(x[0]), lambda a: np.diag(a[0]), True),
    ("matrix_dot", lambda x: N.matrix_dot(x, x.T, x), lambda a: a @ a.T @ a, True),
    ("norm fro", lambda x: N.norm(x), np.linalg.norm, True),
    ("norm 1", lambda x: N.norm(x, 1), lambda a: np.linalg.norm(a, 1), True),
    ("norm inf of a vector", lambda x: N.norm(x[1], np.inf), lambda a: np.linalg.norm(a[1], np.inf), True),
    ("norm 3 of a vector", lambda x: N.norm(x[1], 3), lambda a: np.linalg.norm(a[1], 3), True),
    ("cholesky", lambda x: S.cholesky(x), np.linalg.cholesky, True),
    ("solve vector", lambda x: S.solve(x, B), lambda a: np.linalg.solve(a, B), True),
    ("solve matrix", lambda x: S.solve(x, x[:, :2] * 2), lambda a: np.linalg.solve(a, a[:, :2] * 2), True),
    ("solve_triangular lower", lambda x: S.solve_triangular(x, B, lower=True),
     lambda a: _scipy("solve_triangular")(a, B, lower=True), True),
    ("solve_upper_triangular", lambda x: S.solve_upper_triangular(x, B),
     lambda a: _scipy("solve_triangular")(a, B, lower=False), True),
    ("expm", lambda x: S.expm(x / 10), lambda a: _scipy("expm")(a / 10), True),
    ("expm of a non-symmetric matrix", lambda x: S.expm(T.tril(x) / 10 - T.triu(x, 1) / 5),
     lambda a: _scipy("expm")(np.tril(a) / 10 - np.triu(a, 1) / 5), True),
    ("kron", lambda x: S.kron(x[:2, :3], x[1:, 2:]), lambda a: np.kron(a[:2, :3], a[1:, 2:]), True),
]


@pytest.mark.parametrize("name,build,ref,differentiable", CASES, ids=[c[0] for c in CASES])
def test_value_gradient_and_shape(rng, name, build, ref, differentiable):
    check_case(build, SPD, ref, differentiable, rng, rtol=1e-10, weights=WEIGHTS)


def test_functions_without_a_gradient_say_so():
    x = T.dmatrix("x")
    for build, name in ((lambda m: N.pinv(m), "pinv"), (lambda m: N.eig(m)[0], "eig"),
                        (lambda m: N.svd(m, compute_uv=False), "svd")):
        with pytest.raises(NotImplementedError, match=name):
            theano.grad(T.sum(build(x)), x)


def test_complex_eigenvalues_are_refused_by_name():
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="complex"):
        theano.function([x], N.eig(x)[0])(rotation)
