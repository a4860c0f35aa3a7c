"""The loop IR: what a fused elementwise node or a (fused) reduction computes, as plain
data (names, dtypes, tuples; no graph or op objects), so every renderer and the build
cache see only this.

A ``LoopKernel`` is an SSA ``body`` over its inputs: rows ``(op_name, args, dtype)`` where
``op_name`` names a row of the scalar table (or ``cast_<dtype>``) and each arg is ``("i", k)``
input k, ``("n", j)`` an earlier row, or ``("c", value, dtype)`` a constant. The last row is
written to one output over the broadcast output shape, optionally reduced over
``reduce_axes`` with ``reduce_op`` (add, mul, maximum, minimum) accumulating in ``acc_dtype``.

>>> k = LoopKernel(("float32",), (False,), (("exp", (("i", 0),), "float32"),), "float32", 1)
>>> k.is_reduction
False
"""
from __future__ import annotations

from typing import NamedTuple

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64")
REDUCE_OPS = ("add", "mul", "maximum", "minimum")


class LoopKernel(NamedTuple):
    """One loop nest: inputs broadcast to the output shape, an SSA body, an optional reduction."""

    input_dtypes: tuple
    input_scalar: tuple  # input k is known to hold one element (all dims broadcastable)
    body: tuple
    out_dtype: str
    ndim: int
    reduce_op: str | None = None
    reduce_axes: tuple = ()
    acc_dtype: str | None = None
    input_row_constant: tuple = ()  # input k is known to be constant along the last axis (and not scalar)

    @property
    def is_reduction(self) -> bool:
        return self.reduce_op is not None

    def op_names(self) -> set:
        return {name for name, _, _ in self.body}


def accumulator(reduce_op: str, dtype: str) -> str:
    """The dtype a reduction accumulates in: float32 sums and products in double (more
    accurate than NumPy's pairwise float32 sum)."""
    return "float64" if dtype == "float32" and reduce_op in ("add", "mul") else dtype
