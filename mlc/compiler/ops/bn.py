"""Batch normalization in training as two ops (as cuDNN and Theano's abstract ops have it):
``BatchNormTrain`` (``out``, batch ``mean`` and ``invstd`` in two passes: mean, then the
centred variance) and its gradient ``BatchNormTrainGrad`` (``dx``, ``dgamma``, ``dbeta``
from the saved statistics). ``axes`` are the normalized (reduced) axes; the statistics keep
the input's number of dimensions, 1 on those axes. The CPU backend runs both through C
kernels (``codegen/c_bn.py``) when the kept axes are contiguous (``(N, C, H, W)`` per
channel, ``(N, F)`` per feature), else these NumPy performs."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType


def _T():
    from ..tensor import basic
    return basic


def _stat_type(x: Any, axes: tuple) -> TensorType:
    return TensorType(x.dtype, tuple(d in axes or b for d, b in enumerate(x.broadcastable)))


def is_zero(v: Any) -> bool:
    """Whether ``v`` is the zeros ``grad`` fills in for an output nobody differentiates."""
    from ..graph import Constant
    node = v.owner
    if node is not None and getattr(getattr(node.op, "scalar_op", None), "name", None) == "second":
        v = node.inputs[1]
    while v.owner is not None and type(v.owner.op).__name__ == "DimShuffle":
        v = v.owner.inputs[0]
    return isinstance(v, Constant) and not np.any(v.data)


class BatchNormTrain(Op):
    """``(x, gamma, beta) → (out, mean, invstd)``, normalized over ``axes``."""

    __props__ = ("axes", "epsilon")

    def __init__(self, axes: tuple, epsilon: float) -> None:
        self.axes, self.epsilon = tuple(axes), float(epsilon)

    def make_node(self, x: Any, gamma: Any, beta: Any) -> Apply:
        T = _T()
        x, gamma, beta = T.as_tensor_variable(x), T.as_tensor_variable(gamma), T.as_tensor_variable(beta)
        stat = _stat_type(x, self.axes)
        return Apply(self, [x, gamma, beta], [x.type(), stat(), stat()])

    def perform(self, node, inputs, output_storage):
        x, gamma, beta = inputs
        mean = x.mean(axis=self.axes, keepdims=True)
        var = np.square(x - mean).mean(axis=self.axes, keepdims=True)
        invstd = 1 / np.sqrt(var + self.epsilon)
        dtype = node.outputs[0].dtype
        output_storage[0][0] = ((x - mean) * (gamma * invstd) + beta).astype(dtype, copy=False)
        output_storage[1][0] = mean.astype(dtype, copy=False)
        output_storage[2][0] = invstd.astype(dtype, copy=False)

    def infer_shape(self, node, input_shapes):
        x = input_shapes[0]
        stat = tuple(1 if d in self.axes else s for d, s in enumerate(x))
        return [x, stat, stat]

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        x, gamma, _ = inputs
        _, mean, invstd = outputs
        dy, dmean, dinvstd = output_grads
        dx, dgamma, dbeta = BatchNormTrainGrad(self.axes, self.epsilon)(x, gamma, mean, invstd, dy)
        # Gradients flowing into the statistics themselves (rare: the running averages are updates).
        count = T.cast(T.prod(T.stack([T.shape(x)[a] for a in self.axes])), x.dtype)
        if dmean is not None and not is_zero(dmean):
            dx = dx + dmean / count
        if dinvstd is not None and not is_zero(dinvstd):
            dx = dx - dinvstd * invstd ** 3 * (x - mean) / count
        return [dx, _fit(dgamma, gamma), _fit(dbeta, inputs[2])]


def _fit(g: Any, like: Any) -> Any:
    """A statistic-shaped gradient summed down to a parameter's shape (``gamma`` may be given
    with fewer broadcastable axes than the statistics)."""
    T = _T()
    axes = [d for d, (b, gb) in enumerate(zip(like.broadcastable, g.broadcastable)) if b and not gb]
    if axes:
        g = T.sum(g, axis=axes, keepdims=True)
    return T.patternbroadcast(g, like.broadcastable)


class BatchNormTrainGrad(Op):
    """``(x, gamma, mean, invstd, dy) → (dx, dgamma, dbeta)`` of ``BatchNormTrain``."""

    __props__ = ("axes", "epsilon")

    def __init__(self, axes: tuple, epsilon: float) -> None:
        self.axes, self.epsilon = tuple(axes), float(epsilon)

    def make_node(self, x: Any, gamma: Any, mean: Any, invstd: Any, dy: Any) -> Apply:
        T = _T()
        x, gamma, mean, invstd, dy = (T.as_tensor_variable(v) for v in (x, gamma, mean, invstd, dy))
        stat = _stat_type(x, self.axes)
        return Apply(self, [x, gamma, mean, invstd, dy], [x.type(), stat(), stat()])

    def perform(self, node, inputs, output_storage):
        x, gamma, mean, invstd, dy = inputs
        count = np.prod([x.shape[a] for a in self.axes])
        xhat = (x - mean) * invstd
        dbeta = dy.sum(axis=self.axes, keepdims=True)
        dgamma = (dy * xhat).sum(axis=self.axes, keepdims=True)
        dx = (gamma * invstd / count) * (count * dy - dbeta - xhat * dgamma)
        dtype = node.outputs[0].dtype
        for k, v in enumerate((dx, dgamma, dbeta)):
            output_storage[k][0] = np.asarray(v, dtype=dtype)

    def infer_shape(self, node, input_shapes):
        x = input_shapes[0]
        stat = tuple(1 if d in self.axes else s for d, s in enumerate(x))
        return [x, stat, stat]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("the second derivative of batch normalization is not supported")
