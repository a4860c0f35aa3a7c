"""Neural-network ops with their own numerically careful kernels: ``Softmax`` and ``LogSoftmax``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType, upgrade_to_float


def _T():
    from ..tensor import basic
    return basic


class _AxisOp(Op):
    __props__ = ("axis",)

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"{type(self).__name__} needs at least a 1-d input")
        axis = self.axis % x.ndim
        if axis != self.axis:
            return type(self)(axis).make_node(x)
        if not x.dtype.startswith("float"):
            x = _T().cast(x, upgrade_to_float(x.dtype))
        return Apply(self, [x], [TensorType(x.dtype, x.broadcastable)()])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        return self.L_op(inputs, self.make_node(*inputs).outputs, output_grads)


class Softmax(_AxisOp):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(x - x.max(axis=self.axis, keepdims=True)) if x.size else x.copy()
            output_storage[0][0] = e / e.sum(axis=self.axis, keepdims=True)

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        (sm,), (gz,) = outputs, output_grads
        return [(gz - T.sum(gz * sm, axis=self.axis, keepdims=True)) * sm]


class LogSoftmax(_AxisOp):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``: finite for any finite logits."""

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.size == 0:
            output_storage[0][0] = x.copy()
            return
        with np.errstate(invalid="ignore", over="ignore"):
            shifted = x - x.max(axis=self.axis, keepdims=True)
            output_storage[0][0] = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        (out,), (gz,) = outputs, output_grads
        return [gz - T.exp(out) * T.sum(gz, axis=self.axis, keepdims=True)]
