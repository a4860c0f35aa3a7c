"""Dense products: ``Dot`` (vector/matrix) and ``BatchedDot`` (stacks of matrices)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType, upcast


def _T():
    from ..tensor import basic
    return basic


class Dot(Op):
    """``numpy.dot`` for 1-d and 2-d operands."""

    def make_node(self, x: Any, y: Any) -> Apply:
        T = _T()
        x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
        if x.ndim not in (1, 2) or y.ndim not in (1, 2):
            raise TypeError(f"Dot takes 1-d or 2-d inputs, got {x.ndim}-d and {y.ndim}-d (use T.dot)")
        bcast = x.broadcastable[:-1] + y.broadcastable[1:]
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), bcast)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"Dot: shapes {x.shape} and {y.shape} are not aligned "
                             f"({x.shape[-1]} != {y.shape[0]})")
        dtype = node.outputs[0].dtype
        output_storage[0][0] = np.asarray(np.dot(x, y), dtype=dtype)

    def infer_shape(self, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]

    def grad(self, inputs, output_grads):
        T = _T()
        x, y = inputs
        (gz,) = output_grads
        if x.ndim == 2 and y.ndim == 2:
            gx, gy = T.dot(gz, y.T), T.dot(x.T, gz)
        elif x.ndim == 2:
            gx, gy = T.outer(gz, y), T.dot(x.T, gz)
        elif y.ndim == 2:
            gx, gy = T.dot(y, gz), T.outer(x, gz)
        else:
            gx, gy = gz * y, gz * x
        return [_like(gx, x), _like(gy, y)]


def _like(g, x):
    T = _T()
    if x.dtype not in ("float16", "float32", "float64"):
        return None
    g = T.cast(g, x.dtype)
    return T.patternbroadcast(g, x.broadcastable) if g.broadcastable != x.broadcastable else g


class BatchedDot(Op):
    """``out[b] = dot(x[b], y[b])`` for 3-d ``x`` and ``y``."""

    def make_node(self, x: Any, y: Any) -> Apply:
        T = _T()
        x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
        if x.ndim != 3 or y.ndim != 3:
            raise TypeError(f"BatchedDot takes 3-d inputs, got {x.ndim}-d and {y.ndim}-d")
        bcast = (x.broadcastable[0] and y.broadcastable[0], x.broadcastable[1], y.broadcastable[2])
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), bcast)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[1]:
            raise ValueError(f"BatchedDot: shapes {x.shape} and {y.shape} do not match")
        output_storage[0][0] = np.asarray(np.matmul(x, y), dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        xs, ys = input_shapes
        return [(xs[0], xs[1], ys[2])]

    def grad(self, inputs, output_grads):
        T = _T()
        x, y = inputs
        (gz,) = output_grads
        gx = T.batched_dot(gz, T.dimshuffle(y, (0, 2, 1)))
        gy = T.batched_dot(T.dimshuffle(x, (0, 2, 1)), gz)
        return [_like(gx, x), _like(gy, y)]
