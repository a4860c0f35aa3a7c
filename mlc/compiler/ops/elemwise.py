"""``Elemwise`` lifts a scalar op to tensors; ``DimShuffle`` permutes and adds/drops unit axes.

Broadcasting is static, as in Theano: a dimension broadcasts only where its type says it
is 1 (``broadcastable``). A run-time size-1 dim that the type does not declare is an
error, because the gradient would have to be summed over it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType
from .scalar import ScalarOp


def _tensor():
    from ..tensor import basic, variable
    return basic, variable


class DimShuffle(Op):
    """Reorder dims by ``new_order``; ``'x'`` inserts a broadcastable dim; unlisted dims
    (which must be broadcastable) are dropped. ``x.dimshuffle(1, 'x', 0)``."""

    __props__ = ("input_broadcastable", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_broadcastable: Sequence[bool], new_order: Sequence[Any]) -> None:
        self.input_broadcastable = tuple(input_broadcastable)
        self.new_order = tuple(new_order)
        ndim = len(self.input_broadcastable)
        kept = [d for d in self.new_order if d != "x"]
        for d in kept:
            if not isinstance(d, (int, np.integer)) or not 0 <= d < ndim:
                raise ValueError(f"dimshuffle{self.new_order}: {d!r} is not a dim of a {ndim}-d input "
                                 f"(use 0..{ndim - 1} or 'x')")
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle{self.new_order}: a dim is listed twice")
        self.drop = tuple(d for d in range(ndim) if d not in kept)
        for d in self.drop:
            if not self.input_broadcastable[d]:
                raise ValueError(f"dimshuffle{self.new_order}: cannot drop dim {d}, which is not "
                                 f"broadcastable (input broadcastable={self.input_broadcastable})")
        self.shuffle = tuple(kept)
        self.augment = tuple(i for i, d in enumerate(self.new_order) if d == "x")

    def __str__(self) -> str:
        return f"DimShuffle{{{','.join(map(str, self.new_order))}}}"

    def make_node(self, x: Any) -> Apply:
        _, var = _tensor()
        x = var.as_tensor_variable(x)
        if x.broadcastable != self.input_broadcastable:
            if len(x.broadcastable) != len(self.input_broadcastable):
                raise TypeError(f"{self}: expected a {len(self.input_broadcastable)}-d input, got {x.ndim}-d")
            return DimShuffle(x.broadcastable, self.new_order).make_node(x)
        bcast = tuple(True if d == "x" else self.input_broadcastable[d] for d in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        out = x.transpose(self.shuffle + self.drop)
        shape = [out.shape[i] for i in range(len(self.shuffle))]
        for i in self.augment:
            shape.insert(i, 1)
        output_storage[0][0] = out.reshape(shape)

    def infer_shape(self, node, input_shapes):
        (shape,) = input_shapes
        return [tuple(1 if d == "x" else shape[d] for d in self.new_order)]

    def grad(self, inputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        # Undo: drop the added axes, re-add the dropped ones, and invert the permutation.
        gz_kept = [i for i, d in enumerate(self.new_order) if d != "x"]
        order: list[Any] = []
        for d in range(x.ndim):
            order.append(gz_kept[self.shuffle.index(d)] if d in self.shuffle else "x")
        T, _ = _tensor()
        return [T.dimshuffle(gz, order) if order or gz.ndim else gz]


class Elemwise(Op):
    """Apply ``scalar_op`` element by element, with static broadcasting.

    ``inplace_pattern`` maps an output index to the input whose buffer it overwrites.
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op: ScalarOp, inplace_pattern: tuple = ()) -> None:
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(inplace_pattern)
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}

    def __str__(self) -> str:
        suffix = "_inplace" if self.inplace_pattern else ""
        return f"Elemwise{{{self.scalar_op}{suffix}}}"

    def make_node(self, *inputs: Any) -> Apply:
        T, var = _tensor()
        op = self.scalar_op
        if op.nin is not None and len(inputs) != op.nin:
            raise TypeError(f"{op} takes {op.nin} inputs, got {len(inputs)}")
        strong = [var.as_tensor_variable(x) for x in inputs if not var.is_weak(x)]
        context = [x.dtype for x in strong]
        tensors = [x if not var.is_weak(x) else var.constant(x, dtype=var.python_scalar_dtype(x, context))
                   for x in inputs]
        tensors = [var.as_tensor_variable(x) for x in tensors]
        ndim = max(x.ndim for x in tensors)
        tensors = [x if x.ndim == ndim else T.dimshuffle(x, ["x"] * (ndim - x.ndim) + list(range(x.ndim)))
                   for x in tensors]
        bcast = tuple(all(bs) for bs in zip(*[x.broadcastable for x in tensors])) if ndim else ()
        dtype = op.output_dtype(*[x.dtype for x in tensors])
        return Apply(self, tensors, [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        check_broadcast(node, inputs)
        out_type = node.outputs[0].type
        if self.scalar_op.cast_inputs:
            inputs = [x if x.dtype == out_type.dtype else x.astype(out_type.dtype) for x in inputs]
        with np.errstate(all="ignore"):
            result = self.scalar_op.impl(*inputs)
        if self.inplace_pattern:
            target = inputs[self.inplace_pattern[0][1]]
            if target.shape == np.shape(result) and target.flags.writeable:
                target[...] = result
                output_storage[0][0] = target
                return  # else broadcasting grew the result past the target: a new array
        result = np.asarray(result, dtype=out_type.dtype)
        if not result.flags.writeable or any(result is x for x in inputs):
            result = result.copy()  # an output never aliases an input unless view_map says so
        output_storage[0][0] = result

    def infer_shape(self, node, input_shapes):
        out_shape = []
        for dim, bcast in enumerate(node.outputs[0].broadcastable):
            if bcast:
                out_shape.append(1)
                continue
            sizes = [s[dim] for s, x in zip(input_shapes, node.inputs) if not x.broadcastable[dim]]
            out_shape.append(sizes[0])
        return [tuple(out_shape)]

    def grad(self, inputs, output_grads):
        return self.L_op(inputs, self.make_node(*inputs).outputs, output_grads)

    def L_op(self, inputs, outputs, output_grads):
        T, _ = _tensor()
        (gz,) = output_grads
        (out,) = outputs
        rule = self.scalar_op.grad
        if rule is None:
            raise NotImplementedError(f"{self.scalar_op} has no gradient")
        grads = rule(inputs, out, gz)
        result = []
        for x, g in zip(inputs, grads):
            if g is None:
                result.append(None)
                continue
            g = T.as_tensor_variable(g)
            axes = [d for d, (bx, bg) in enumerate(zip(x.broadcastable, g.broadcastable)) if bx and not bg]
            if axes:
                g = T.sum(g, axis=axes, keepdims=True)
            if g.broadcastable != x.broadcastable:
                g = T.patternbroadcast(g, x.broadcastable)
            if g.dtype != x.dtype and x.dtype.startswith("float"):
                g = T.cast(g, x.dtype)
            result.append(g)
        return result


def check_broadcast(node: Apply, inputs: Sequence[np.ndarray]) -> None:
    """Raise if the inputs' shapes disagree in a dim their types do not declare broadcastable."""
    if len(inputs) < 2:
        return
    shapes = [x.shape for x in inputs]
    first = shapes[0]
    if all(s == first for s in shapes):
        return
    for dim in range(len(first)):
        sizes = {s[dim] for s, v in zip(shapes, node.inputs) if not v.broadcastable[dim]}
        if len(sizes) > 1:
            detail = ", ".join(f"{s}" for s in shapes)
            hint = ""
            if 1 in sizes:
                hint = (" (a size-1 dim broadcasts only when its type says so: use T.row/T.col, "
                        "dimshuffle('x', ...) or shared(..., broadcastable=...))")
            raise ValueError(f"{node.op}: input shapes {detail} do not match in dim {dim}{hint}")
