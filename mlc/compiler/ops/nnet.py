"""Neural-network ops with their own numerically careful kernels: ``Softmax``,
``LogSoftmax``, their gradient ops, and ``SoftmaxCrossentropy1Hot`` (what the stabilize
rewrites turn ``-log(softmax(z))[arange(n), y]`` and its gradient into)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType, upgrade_to_float


def _T():
    from ..tensor import basic
    return basic


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    if x.size == 0:
        return x.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    if x.size == 0:
        return x.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class _AxisOp(Op):
    __props__ = ("axis",)
    nin = 1

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def make_node(self, *inputs: Any) -> Apply:
        T = _T()
        inputs = [T.as_tensor_variable(x) for x in inputs]
        x = inputs[-1]
        if x.ndim == 0:
            raise TypeError(f"{type(self).__name__} needs at least a 1-d input")
        axis = self.axis % x.ndim
        if axis != self.axis:
            return type(self)(axis).make_node(*inputs)
        dtype = x.dtype if x.dtype.startswith("float") else upgrade_to_float(x.dtype)
        inputs = [T.cast(v, dtype) for v in inputs]
        return Apply(self, inputs, [TensorType(dtype, inputs[0].broadcastable)()])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        return self.L_op(inputs, self.make_node(*inputs).outputs, output_grads)


class Softmax(_AxisOp):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _softmax(inputs[0], self.axis)

    def L_op(self, inputs, outputs, output_grads):
        return [SoftmaxGrad(self.axis)(output_grads[0], outputs[0])]


class LogSoftmax(_AxisOp):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``: finite for any finite logits."""

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _log_softmax(inputs[0], self.axis)

    def L_op(self, inputs, outputs, output_grads):
        return [LogSoftmaxGrad(self.axis)(output_grads[0], outputs[0])]


class _GradOp(_AxisOp):
    """A gradient op ``f(gz, out)``; its own gradient comes from the expanded expression."""

    def expand(self, gz: Any, out: Any) -> Any:
        raise NotImplementedError

    def L_op(self, inputs, outputs, output_grads):
        from ..gradient import grad
        gz, out = inputs
        expr = self.expand(gz, out)
        return grad(None, [gz, out], known_grads={expr: output_grads[0]}, disconnected_inputs="ignore")


class SoftmaxGrad(_GradOp):
    """Gradient of softmax: ``(gz - sum(gz * sm)) * sm``."""

    def perform(self, node, inputs, output_storage):
        gz, sm = inputs
        output_storage[0][0] = (gz - (gz * sm).sum(axis=self.axis, keepdims=True)) * sm

    def expand(self, gz, sm):
        T = _T()
        return (gz - T.sum(gz * sm, axis=self.axis, keepdims=True)) * sm


class LogSoftmaxGrad(_GradOp):
    """Gradient of log-softmax: ``gz - exp(out) * sum(gz)``."""

    def perform(self, node, inputs, output_storage):
        gz, out = inputs
        output_storage[0][0] = gz - np.exp(out) * gz.sum(axis=self.axis, keepdims=True)

    def expand(self, gz, out):
        T = _T()
        return gz - T.exp(out) * T.sum(gz, axis=self.axis, keepdims=True)


class SoftmaxCrossentropy1Hot(Op):
    """``(nll, sm)`` with ``nll[i] = -log(softmax(z)[i, y[i]])`` computed stably, and
    ``sm = softmax(z)`` (kept for the gradient)."""

    def make_node(self, z: Any, y: Any) -> Apply:
        T = _T()
        z, y = T.as_tensor_variable(z), T.as_tensor_variable(y)
        if z.ndim != 2 or y.ndim != 1 or not y.dtype.startswith(("int", "uint")):
            raise TypeError(f"SoftmaxCrossentropy1Hot takes a matrix and an integer vector, got {z.type}, {y.type}")
        return Apply(self, [z, y], [TensorType(z.dtype, (z.broadcastable[0],))(), z.type()])

    def perform(self, node, inputs, output_storage):
        z, y = inputs
        if len(y) != len(z):
            raise ValueError(f"SoftmaxCrossentropy1Hot: {len(z)} rows of scores but {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= z.shape[1]):
            raise IndexError(f"SoftmaxCrossentropy1Hot: labels must be in [0, {z.shape[1]}), "
                             f"got values in [{y.min()}, {y.max()}]")
        log_sm = _log_softmax(z, 1)
        output_storage[0][0] = -log_sm[np.arange(len(y)), y]
        output_storage[1][0] = np.exp(log_sm)

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],), input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        z, y = inputs
        g_nll, g_sm = output_grads
        if g_sm is not None:
            raise NotImplementedError("SoftmaxCrossentropy1Hot: gradient through its softmax output")
        return [SoftmaxCrossentropy1HotGrad()(g_nll, outputs[1], y), None]

    def grad(self, inputs, output_grads):
        return self.L_op(inputs, self.make_node(*inputs).outputs, output_grads)


class SoftmaxCrossentropy1HotGrad(Op):
    """``(sm - onehot(y)) * g[:, None]``: the gradient of the crossentropy w.r.t. the logits."""

    def make_node(self, g: Any, sm: Any, y: Any) -> Apply:
        T = _T()
        g, sm, y = T.as_tensor_variable(g), T.as_tensor_variable(sm), T.as_tensor_variable(y)
        return Apply(self, [T.cast(g, sm.dtype), sm, y], [sm.type()])

    def perform(self, node, inputs, output_storage):
        g, sm, y = inputs
        out = sm * g[:, None]
        out[np.arange(len(y)), y] -= g
        output_storage[0][0] = out

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("second derivatives of SoftmaxCrossentropy1Hot are not supported")
