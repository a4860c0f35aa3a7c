"""Lowering: from a graph node (elementwise, fused, reduction) to a plain-data ``LoopKernel``.

This is the only place in ``codegen`` that reads graph objects; what it returns holds none.
"""
from __future__ import annotations

from ..graph import Apply
from ..ops.elemwise import Elemwise
from ..ops.fused import Composite, FusedReduce
from ..ops.reduce import Reduce
from ..ops.scalar import Cast, ScalarOp
from .loop_ir import DTYPES, REDUCE_OPS, LoopKernel, accumulator


def _body_of(scalar_op: ScalarOp, n_inputs: int, out_dtype: str) -> tuple:
    if isinstance(scalar_op, Composite):
        return tuple((op.name, args, dt) for op, args, dt in scalar_op.nodes)
    return ((scalar_op.name, tuple(("i", k) for k in range(n_inputs)), out_dtype),)


def kernel_for(node: Apply, renderer) -> LoopKernel | None:
    """The loop kernel computing ``node``, or None when ``renderer`` cannot compile it."""
    op = node.op
    if isinstance(op, Elemwise):
        body = _body_of(op.scalar_op, len(node.inputs), node.outputs[0].dtype)
        reduce_op, axes, acc, ndim = None, (), None, node.outputs[0].ndim
    elif isinstance(op, FusedReduce):
        body = _body_of(op.composite, len(node.inputs), op.composite.nodes[-1][2])
        reduce_op, axes, ndim = op.name, op.axis, node.inputs[0].ndim
        acc = accumulator(op.name, op.dtype)
    elif isinstance(op, Reduce) and op.name in REDUCE_OPS:
        x = node.inputs[0]
        name = "identity" if op.dtype == x.dtype else Cast(op.dtype).name
        body = ((name, (("i", 0),), op.dtype),)
        reduce_op, axes, acc, ndim = op.name, op.axis, accumulator(op.name, op.dtype), x.ndim
    else:
        return None
    dtypes = tuple(i.dtype for i in node.inputs)
    out = node.outputs[0].dtype
    if any(d not in DTYPES for d in dtypes + (out,)):
        return None
    if reduce_op is not None and (not axes or acc == "bool" or out == "bool"):
        return None
    scalar = tuple(all(i.broadcastable) for i in node.inputs)
    row_constant = tuple(reduce_op is None and ndim > 1 and i.ndim == ndim and i.broadcastable[-1] and not s
                         for i, s in zip(node.inputs, scalar))
    kernel = LoopKernel(dtypes, scalar, body, out, ndim, reduce_op, tuple(axes), acc,
                        row_constant if any(row_constant) else ())
    return kernel if renderer.supports_kernel(kernel) else None
