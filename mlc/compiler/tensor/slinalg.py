"""``T.slinalg`` (Theano's ``theano.tensor.slinalg``): Cholesky, solves, ``expm`` and
``kron``. SciPy is optional: only triangular solves and ``expm`` need it, imported when they
run.

>>> import mlc.compiler.tensor as T
>>> from mlc.compiler.tensor.slinalg import cholesky, solve
>>> A, b = T.dmatrix(), T.dvector(); x = solve(A, b)
"""
from __future__ import annotations

from typing import Any

from ..ops.linalg import Cholesky, Expm, Solve
from . import basic as T
from .variable import TensorVariable, as_tensor_variable
from ..choices import check_choice

cholesky = Cholesky()
expm = Expm()


def solve(a: Any, b: Any, assume_a: str = "gen", lower: bool = False) -> TensorVariable:
    """``x`` with ``a x = b``; ``assume_a`` 'gen' (any square ``a``; 'sym' and 'pos' are
    solved the same way)."""
    check_choice("solve: assume_a", assume_a, ("gen", "sym", "pos", "her"))
    return Solve("general")(a, b)


def solve_triangular(a: Any, b: Any, lower: bool = False) -> TensorVariable:
    """``x`` with ``a x = b`` for a triangular ``a`` (its other triangle is not read)."""
    return Solve("lower_triangular" if lower else "upper_triangular")(a, b)


def solve_lower_triangular(a: Any, b: Any) -> TensorVariable:
    return solve_triangular(a, b, lower=True)


def solve_upper_triangular(a: Any, b: Any) -> TensorVariable:
    return solve_triangular(a, b, lower=False)


def kron(a: Any, b: Any) -> TensorVariable:
    """The Kronecker product of two matrices (or vectors)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim != b.ndim or a.ndim not in (1, 2):
        raise TypeError(f"kron takes two vectors or two matrices, got {a.ndim}-d and {b.ndim}-d tensors")
    if a.ndim == 1:
        return (a.dimshuffle(0, "x") * b.dimshuffle("x", 0)).flatten()
    blocks = a.dimshuffle(0, "x", 1, "x") * b.dimshuffle("x", 0, "x", 1)
    return T.reshape(blocks, (a.shape[0] * b.shape[0], a.shape[1] * b.shape[1]), ndim=2)


__all__ = ["cholesky", "solve", "solve_triangular", "solve_lower_triangular", "solve_upper_triangular", "expm",
           "kron"]
