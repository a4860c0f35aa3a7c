"""``T.nlinalg`` (Theano's ``theano.tensor.nlinalg``): linear algebra on NumPy's LAPACK.

>>> import mlc.compiler.tensor as T
>>> from mlc.compiler.tensor.nlinalg import matrix_inverse, det
>>> A = T.dmatrix(); cost = det(matrix_inverse(A))
"""
from __future__ import annotations

from typing import Any

from ..ops.linalg import SVD, QR, Det, Eig, Eigh, MatrixInverse, MatrixPinv, _extract_diag, alloc_diag
from . import basic as T
from .variable import TensorVariable, as_tensor_variable

matrix_inverse = MatrixInverse()
pinv = MatrixPinv()
det = Det()


def eig(a: Any) -> tuple:
    """``(w, v)``: eigenvalues and right eigenvectors (real ones only)."""
    return tuple(Eig()(a))


def eigh(a: Any, UPLO: str = "L") -> tuple:
    """``(w, v)`` of a symmetric matrix, ``w`` ascending; differentiable."""
    return tuple(Eigh(UPLO)(a))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """``(U, s, Vt)``, or the singular values alone."""
    out = SVD(full_matrices, compute_uv)(a)
    return tuple(out) if isinstance(out, list) else out


def qr(a: Any, mode: str = "reduced") -> Any:
    """``(Q, R)``, or ``R`` for ``mode='r'``."""
    out = QR(mode)(a)
    return tuple(out) if isinstance(out, list) else out


def extract_diag(x: Any) -> TensorVariable:
    """The main diagonal of the matrix ``x``."""
    return _extract_diag(as_tensor_variable(x))


def diag(x: Any) -> TensorVariable:
    """A vector's square diagonal matrix, or a matrix's diagonal (as ``numpy.diag``)."""
    x = as_tensor_variable(x)
    if x.ndim == 1:
        return alloc_diag(x)
    if x.ndim == 2:
        return extract_diag(x)
    raise TypeError(f"diag takes a vector or a matrix, got a {x.ndim}-d tensor")


def trace(x: Any) -> TensorVariable:
    """The sum of the main diagonal."""
    return T.sum(extract_diag(x))


def matrix_dot(*args: Any) -> TensorVariable:
    """The product of the matrices, left to right."""
    result = as_tensor_variable(args[0])
    for a in args[1:]:
        result = T.dot(result, a)
    return result


def norm(x: Any, ord: Any = None) -> TensorVariable:
    """Vector norms (None, 2, 1, inf, -inf, any p) and matrix norms (None/'fro', 1, -1,
    inf, -inf); the spectral and nuclear norms need ``svd`` and are not provided."""
    x = as_tensor_variable(x)
    inf = float("inf")
    if x.ndim == 1:
        if ord is None or ord == 2:
            return T.sqrt(T.sum(x * x))
        if ord == inf:
            return T.max(abs(x))
        if ord == -inf:
            return T.min(abs(x))
        if ord == 0:
            return T.sum(T.neq(x, 0))
        return T.sum(abs(x) ** ord) ** (1.0 / ord)
    if x.ndim == 2:
        if ord is None or ord == "fro":
            return T.sqrt(T.sum(x * x))
        if ord in (1, -1):
            sums = T.sum(abs(x), axis=0)
            return T.max(sums) if ord == 1 else T.min(sums)
        if ord in (inf, -inf):
            sums = T.sum(abs(x), axis=1)
            return T.max(sums) if ord == inf else T.min(sums)
        raise ValueError(f"norm: matrix norm ord={ord!r} is not provided (use None, 'fro', 1, -1, inf or -inf)")
    raise TypeError(f"norm takes a vector or a matrix, got a {x.ndim}-d tensor")


__all__ = ["matrix_inverse", "pinv", "det", "eig", "eigh", "svd", "qr", "extract_diag", "alloc_diag", "diag",
           "trace", "matrix_dot", "norm"]
