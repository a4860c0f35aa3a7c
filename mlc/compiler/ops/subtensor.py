"""Indexing: ``Subtensor`` (basic slicing), ``AdvancedSubtensor`` (integer/bool arrays) and
their ``IncSubtensor`` / ``AdvancedIncSubtensor`` (set or increment the indexed part).

An index is stored as a static ``idx_list`` whose entries are ``'s'`` (a symbolic integer
scalar, taken from the node's inputs in order), ``'a'`` (a symbolic integer or bool array),
a Python ``int``, ``None`` (new axis), or ``('slice', start, stop, step)`` whose parts are
``None``, ``int`` or ``'s'``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType


def _T():
    from ..tensor import basic
    return basic


def build_index(idx_list: Sequence[Any], values: Sequence[Any]) -> tuple:
    """The NumPy index for ``idx_list`` with its symbolic parts taken from ``values``."""
    it = iter(values)

    def part(p):
        if p == "s" or p == "a":
            v = next(it)
            return int(v) if p == "s" else v
        return p

    index = []
    for entry in idx_list:
        if isinstance(entry, tuple):
            index.append(slice(part(entry[1]), part(entry[2]), part(entry[3])))
        else:
            index.append(part(entry))
    return tuple(index)


def consumed_dims(idx_list: Sequence[Any], index_inputs: Sequence[Any]) -> int:
    """How many dims of the indexed tensor the index uses."""
    it = iter(index_inputs)
    n = 0
    for entry in idx_list:
        if entry is None:
            continue
        if isinstance(entry, tuple):
            for p in entry[1:]:
                if p == "s":
                    next(it)
            n += 1
        elif entry == "a":
            v = next(it)
            n += v.ndim if v.dtype == "bool" else 1
        else:
            if entry == "s":
                next(it)
            n += 1
    return n


def _check_index(node_name: str, x, idx_list, index_inputs) -> None:
    n = consumed_dims(idx_list, index_inputs)
    if n > x.ndim:
        raise IndexError(f"{node_name}: too many indices ({n}) for a {x.ndim}-d tensor")
    for v in index_inputs:
        if not (v.dtype.startswith(("int", "uint")) or v.dtype == "bool"):
            raise IndexError(f"{node_name}: indices must be integers (or bool masks), got {v.type}")


def _basic_bcast(x, idx_list) -> tuple[bool, ...]:
    bcast, dim = [], 0
    for entry in idx_list:
        if entry is None:
            bcast.append(True)
        elif isinstance(entry, tuple):
            full = entry[1:] == (None, None, None)
            bcast.append(x.broadcastable[dim] and full)
            dim += 1
        else:
            dim += 1
    return tuple(bcast) + x.broadcastable[dim:]


def _advanced_ndim(x, idx_list, index_inputs) -> int:
    dummy = np.zeros((2,) * x.ndim)
    it = iter(index_inputs)
    index = []
    for entry in idx_list:
        if isinstance(entry, tuple):
            for p in entry[1:]:
                if p == "s":
                    next(it)
            index.append(slice(None))
        elif entry == "a":
            v = next(it)
            index.append(np.ones((2,) * v.ndim, dtype=bool) if v.dtype == "bool"
                         else np.zeros((1,) * v.ndim, dtype=int))
        elif entry == "s":
            next(it)
            index.append(0)
        else:
            index.append(None if entry is None else 0)
    return dummy[tuple(index)].ndim


class _IndexOp(Op):
    __props__ = ("idx_list",)
    advanced = False

    def __init__(self, idx_list: Sequence[Any]) -> None:
        self.idx_list = tuple(idx_list)

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{_format(self.idx_list)}}}"

    def out_type(self, x, index_inputs) -> TensorType:
        _check_index(type(self).__name__, x, self.idx_list, index_inputs)
        if self.advanced:
            return TensorType(x.dtype, (False,) * _advanced_ndim(x, self.idx_list, index_inputs))
        return TensorType(x.dtype, _basic_bcast(x, self.idx_list))


def _format(idx_list) -> str:
    parts = []
    for e in idx_list:
        if isinstance(e, tuple):
            parts.append(":".join("" if p is None else str(p) for p in e[1:]).rstrip(":") or ":")
        else:
            parts.append("newaxis" if e is None else str(e))
    return ", ".join(parts)


class Subtensor(_IndexOp):
    """Basic indexing ``x[i, a:b, ...]`` (a view)."""

    view_map = {0: [0]}

    def make_node(self, x: Any, *index_inputs: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        return Apply(self, [x, *index_inputs], [self.out_type(x, index_inputs)()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        output_storage[0][0] = np.asarray(x[build_index(self.idx_list, values)])

    def grad(self, inputs, output_grads):
        x, *index_inputs = inputs
        if not x.dtype.startswith("float"):
            return [None] * len(inputs)
        T = _T()
        gx = IncSubtensor(self.idx_list, False)(T.zeros_like(x), output_grads[0], *index_inputs)
        return [gx] + [None] * len(index_inputs)


class AdvancedSubtensor(_IndexOp):
    """Indexing with integer or boolean arrays, as NumPy (``x[T.arange(n), y]``); a copy."""

    advanced = True

    def make_node(self, x: Any, *index_inputs: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        return Apply(self, [x, *index_inputs], [self.out_type(x, index_inputs)()])

    def infer_shape(self, node, input_shapes):
        x, *index_inputs = node.inputs
        if not all(e == "a" for e in self.idx_list) or any(v.ndim != 1 or v.dtype == "bool" for v in index_inputs):
            raise NotImplementedError("shape of general advanced indexing")
        return [(input_shapes[1][0],) + tuple(input_shapes[0][len(index_inputs):])]

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        try:
            output_storage[0][0] = np.asarray(x[build_index(self.idx_list, values)])
        except IndexError as err:
            raise IndexError(f"{self}: {err} (indexed shape {x.shape})") from None

    def grad(self, inputs, output_grads):
        x, *index_inputs = inputs
        if not x.dtype.startswith("float"):
            return [None] * len(inputs)
        T = _T()
        gx = AdvancedIncSubtensor(self.idx_list, False)(T.zeros_like(x), output_grads[0], *index_inputs)
        return [gx] + [None] * len(index_inputs)


class IncSubtensor(_IndexOp):
    """``x`` with ``x[index]`` set to (``set_instead_of_inc``) or incremented by ``y``."""

    __props__ = ("idx_list", "set_instead_of_inc", "inplace")

    def __init__(self, idx_list: Sequence[Any], set_instead_of_inc: bool, inplace: bool = False) -> None:
        super().__init__(idx_list)
        self.set_instead_of_inc = set_instead_of_inc
        self.inplace = inplace
        self.destroy_map = {0: [0]} if inplace else {}

    def __str__(self) -> str:
        kind = "Set" if self.set_instead_of_inc else "Inc"
        base = "Advanced" if self.advanced else ""
        return f"{base}{kind}Subtensor{'_inplace' if self.inplace else ''}{{{_format(self.idx_list)}}}"

    def make_node(self, x: Any, y: Any, *index_inputs: Any) -> Apply:
        T = _T()
        x = T.as_tensor_variable(x)
        y = T.as_tensor_variable(y)
        if y.dtype != x.dtype:
            y = T.cast(y, x.dtype)
        part = self.out_type(x, index_inputs)
        if y.ndim > part.ndim:
            raise ValueError(f"{self}: the value has ndim {y.ndim}, more than the indexed part ({part.ndim})")
        return Apply(self, [x, y, *index_inputs], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, y, *values = inputs
        out = x if self.inplace else x.copy()
        index = build_index(self.idx_list, values)
        self._check_value_shape(node, out[index].shape if not self.advanced else None, y)
        self._write(out, index, y)
        output_storage[0][0] = out

    def _check_value_shape(self, node, part_shape, y) -> None:
        if part_shape is None:
            return
        lead = len(part_shape) - y.ndim
        ytype = node.inputs[1].type
        for d, (size, b) in enumerate(zip(y.shape, ytype.broadcastable)):
            if not b and size != part_shape[lead + d]:
                raise ValueError(f"{self}: cannot write a value of shape {y.shape} into the indexed "
                                 f"part of shape {part_shape}")

    def _write(self, out, index, y) -> None:
        if self.set_instead_of_inc:
            out[index] = y
        else:
            out[index] += y

    def grad(self, inputs, output_grads):
        T = _T()
        x, y, *index_inputs = inputs
        (gz,) = output_grads
        read = (AdvancedSubtensor if self.advanced else Subtensor)(self.idx_list)
        if self.set_instead_of_inc:
            gx = type(self)(self.idx_list, True)(gz, T.zeros_like(y), *index_inputs)
        else:
            gx = gz
        gy = read(gz, *index_inputs)
        lead = gy.ndim - y.ndim
        if lead:
            gy = T.sum(gy, axis=list(range(lead)))
        axes = [d for d, b in enumerate(y.broadcastable) if b and not gy.broadcastable[d]]
        if axes:
            gy = T.sum(gy, axis=axes, keepdims=True)
        if gy.broadcastable != y.broadcastable:
            gy = T.patternbroadcast(gy, y.broadcastable)
        return [gx, gy] + [None] * len(index_inputs)


class AdvancedIncSubtensor(IncSubtensor):
    """Set or increment ``x[arrays...]``; repeated indices accumulate when incrementing."""

    advanced = True

    def _write(self, out, index, y) -> None:
        try:
            if self.set_instead_of_inc:
                out[index] = y
            else:
                np.add.at(out, index, y)
        except (IndexError, ValueError) as err:
            raise type(err)(f"{self}: {err} (indexed shape {out.shape}, value shape {y.shape})") from None
