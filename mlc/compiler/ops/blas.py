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


class Gemm(Op):
    """``beta * z + alpha * dot(x, y)`` for matrices (``z`` may broadcast); with
    ``inplace``, the result is written into ``z``'s buffer (BLAS's ``C = a A B + b C``)."""

    __props__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace
        self.destroy_map = {0: [0]} if inplace else {}

    def __str__(self) -> str:
        return "Gemm{inplace}" if self.inplace else "Gemm"

    def make_node(self, z: Any, alpha: Any, x: Any, y: Any, beta: Any) -> Apply:
        T = _T()
        z, x, y = (T.as_tensor_variable(v) for v in (z, x, y))
        if not (z.ndim == x.ndim == y.ndim == 2):
            raise TypeError(f"Gemm takes matrices, got {z.ndim}-d, {x.ndim}-d, {y.ndim}-d")
        dtype = upcast(z.dtype, x.dtype, y.dtype)
        alpha, beta = (T.cast(T.as_tensor_variable(v), dtype) for v in (alpha, beta))
        if alpha.ndim or beta.ndim:
            raise TypeError("Gemm: alpha and beta must be scalars")
        bcast = (z.broadcastable[0] and x.broadcastable[0], z.broadcastable[1] and y.broadcastable[1])
        return Apply(self, [T.cast(z, dtype), alpha, x, y, beta], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        z, alpha, x, y, beta = inputs
        if x.shape[1] != y.shape[0]:
            raise ValueError(f"Gemm: shapes {x.shape} and {y.shape} are not aligned")
        product = np.dot(x, y)
        if z.shape != product.shape and np.broadcast_shapes(z.shape, product.shape) != product.shape:
            raise ValueError(f"Gemm: z of shape {z.shape} does not fit dot(x, y) of shape {product.shape}")
        if self.inplace and z.shape == product.shape:
            z *= beta
            z += alpha * product
            output_storage[0][0] = z
        else:
            output_storage[0][0] = np.asarray(beta * z + alpha * product, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[2][0], input_shapes[3][1])]

    def L_op(self, inputs, outputs, output_grads):
        from ..gradient import grad
        z, alpha, x, y, beta = inputs
        T = _T()
        expr = beta * z + alpha * T.dot(x, y)
        return grad(None, list(inputs), known_grads={expr: output_grads[0]}, disconnected_inputs="ignore")

    def grad(self, inputs, output_grads):
        return self.L_op(inputs, None, output_grads)
