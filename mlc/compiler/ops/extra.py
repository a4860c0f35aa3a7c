"""Ops of ``T.extra_ops`` that are not compositions of others: cumulative sums and products
(``CumOp``), sorting (``Sort``: sorted values, or with ``indices`` the argsort) and
``Permute`` (reordering along an axis, sorting's gradient)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType
from ..choices import check_choice


def _T():
    from ..tensor import basic
    return basic


def _along_axis_shape(axis: int | None, input_shapes: list) -> list:
    """The input's shape, or its size when the op works on the flattened input (``axis=None``)."""
    if axis is None:
        T = _T()
        return [(T.prod(T.stack(list(input_shapes[0]))) if input_shapes[0] else 1,)]
    return input_shapes


class CumOp(Op):
    """``cumsum`` (``mode='add'``) or ``cumprod`` (``'mul'``) along ``axis`` (None: flattened)."""

    __props__ = ("axis", "mode")

    def __init__(self, axis: int | None = None, mode: str = "add") -> None:
        check_choice("CumOp: mode", mode, ("add", "mul"))
        self.axis, self.mode = axis, mode

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if self.axis is not None and not -x.ndim <= self.axis < max(x.ndim, 1):
            raise ValueError(f"cum{'sum' if self.mode == 'add' else 'prod'}: axis {self.axis} out of range for a "
                             f"{x.ndim}-d input")
        bcast = (False,) if self.axis is None else x.broadcastable
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        fn = np.cumsum if self.mode == "add" else np.cumprod
        output_storage[0][0] = np.asarray(fn(inputs[0], axis=self.axis), dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return _along_axis_shape(self.axis, input_shapes)

    def grad(self, inputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if self.axis is None:
            return [CumOp(0, self.mode)._grad_along(x.flatten(), g, 0).reshape(x.shape)]
        return [self._grad_along(x, g, self.axis % x.ndim)]

    def _grad_along(self, x: Any, g: Any, axis: int) -> Any:
        flip = [slice(None)] * x.ndim
        flip[axis] = slice(None, None, -1)
        flip = tuple(flip)
        reverse_cumsum = CumOp(axis, "add")(g[flip])[flip]  # sum over j >= i of g[j]
        if self.mode == "add":
            return reverse_cumsum
        # d/dx_i of prod_{k<=j} x_k = prod_{k<=j} / x_i (for x_i != 0): sum_j g_j out_j / x_i
        out = CumOp(axis, "mul")(x)
        return CumOp(axis, "add")((g * out)[flip])[flip] / x


class Sort(Op):
    """Sorted values along ``axis`` (None: flattened), or with ``indices`` the permutation
    that sorts them (argsort); a stable sort, as NumPy's ``kind='stable'``."""

    __props__ = ("axis", "indices")

    def __init__(self, axis: int | None = -1, indices: bool = False) -> None:
        self.axis, self.indices = axis, bool(indices)

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        bcast = (False,) if self.axis is None else x.broadcastable
        return Apply(self, [x], [TensorType("int64" if self.indices else x.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        fn = np.argsort if self.indices else np.sort
        output_storage[0][0] = np.asarray(fn(inputs[0], axis=self.axis, kind="stable"), dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return _along_axis_shape(self.axis, input_shapes)

    def grad(self, inputs, output_grads):
        if self.indices:
            return [None]
        (x,), (g,) = inputs, output_grads
        if self.axis is None:
            flat = x.flatten()
            return [Permute(0)(g, Sort(0, True)(Sort(0, True)(flat))).reshape(x.shape)]
        axis = self.axis % x.ndim
        # the gradient goes back to where each sorted value came from: scatter along axis
        order = Sort(axis, True)(x)
        inverse = Sort(axis, True)(order)  # the rank of each element
        return [Permute(axis)(g, inverse)]


class Permute(Op):
    """``x`` reordered along ``axis`` by a permutation ``indices`` of that axis
    (``np.take_along_axis``); sorting's gradient, whose own gradient is the inverse permutation."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def make_node(self, x: Any, indices: Any) -> Apply:
        T = _T()
        x, indices = T.as_tensor_variable(x), T.as_tensor_variable(indices)
        return Apply(self, [x, indices], [TensorType(x.dtype, indices.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        x, idx = inputs
        output_storage[0][0] = np.take_along_axis(x, idx, self.axis)

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def grad(self, inputs, output_grads):
        x, idx = inputs
        (g,) = output_grads
        inverse = Sort(self.axis, True)(idx)
        return [Permute(self.axis)(g, inverse), None]
