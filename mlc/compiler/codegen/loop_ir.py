"""The loop IR: what a fused elementwise node or a (fused) reduction computes, free of
graph objects, so renderers (C now, CUDA later) and the build cache see only this.

A ``LoopKernel`` is an SSA ``body`` over its inputs (rows ``(scalar_op, args, dtype)`` with
args ``("i", k)`` input, ``("n", j)`` earlier row, ``("c", value, dtype)`` constant), written
to one output over the broadcast output shape, optionally reduced over ``reduce_axes`` with
``reduce_op`` (add, mul, maximum, minimum) accumulating in ``acc_dtype``.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph import Apply
from ..ops.elemwise import Elemwise
from ..ops.fused import Composite, FusedReduce
from ..ops.reduce import Reduce
from ..ops.scalar import ScalarOp, get_scalar_op

SUPPORTED_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                    "float32", "float64")


@dataclass(frozen=True)
class LoopKernel:
    """One loop nest: inputs broadcast to the output shape, an SSA body, an optional reduction."""

    input_dtypes: tuple
    input_scalar: tuple  # input k is known to hold one element (all dims broadcastable)
    body: tuple
    out_dtype: str
    ndim: int
    reduce_op: str | None = None
    reduce_axes: tuple = ()
    acc_dtype: str | None = None

    def key(self) -> tuple:
        return (self.input_dtypes, self.input_scalar, tuple((op.name, args, dt) for op, args, dt in self.body),
                self.out_dtype, self.ndim, self.reduce_op, self.reduce_axes, self.acc_dtype)


def _body_of(scalar_op: ScalarOp, node_inputs, out_dtype: str) -> tuple:
    if isinstance(scalar_op, Composite):
        return scalar_op.nodes
    return ((scalar_op, tuple(("i", k) for k in range(len(node_inputs))), out_dtype),)


def kernel_for(node: Apply) -> LoopKernel | None:
    """The loop kernel computing ``node``, or None when it has no compiled form."""
    op = node.op
    if isinstance(op, Elemwise):
        body = _body_of(op.scalar_op, node.inputs, node.outputs[0].dtype)
        reduce_op, axes, acc, ndim = None, (), None, node.outputs[0].ndim
    elif isinstance(op, FusedReduce):
        body = _body_of(op.composite, node.inputs, op.composite.nodes[-1][2])
        reduce_op, axes, ndim = op.name, op.axis, node.inputs[0].ndim
        acc = _accumulator(op.name, op.dtype)
    elif isinstance(op, Reduce) and op.name in ("add", "mul", "maximum", "minimum"):
        x = node.inputs[0]
        body = ((get_scalar_op("identity"), (("i", 0),), x.dtype),)
        if op.dtype != x.dtype:
            from ..ops.scalar import Cast
            body = ((Cast(op.dtype), (("i", 0),), op.dtype),)
        reduce_op, axes, acc, ndim = op.name, op.axis, _accumulator(op.name, op.dtype), x.ndim
    else:
        return None
    dtypes = tuple(i.dtype for i in node.inputs)
    if any(d not in SUPPORTED_DTYPES for d in dtypes + (node.outputs[0].dtype,)):
        return None
    if any(dt not in SUPPORTED_DTYPES or not _has_c(o) for o, _, dt in body):
        return None
    if reduce_op is not None and (not axes or acc == "bool" or node.outputs[0].dtype == "bool"):
        return None
    return LoopKernel(dtypes, tuple(all(i.broadcastable) for i in node.inputs), tuple(body),
                      node.outputs[0].dtype, ndim, reduce_op, tuple(axes), acc)


def _accumulator(name: str, dtype: str) -> str:
    # float32 sums accumulate in double: more accurate than NumPy's pairwise float32 sum.
    return "float64" if dtype == "float32" and name in ("add", "mul") else dtype


def _has_c(op: ScalarOp) -> bool:
    from .c_renderer import has_c_code
    return has_c_code(op)
