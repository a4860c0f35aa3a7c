"""Shape ops: ``Shape``, ``MakeVector``, ``Reshape``, ``Alloc``, ``Join``, ``ARange``,
``Eye`` and ``Rebroadcast``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Constant, Op
from ..types import TensorType, upcast


def _T():
    from ..tensor import basic
    return basic


def static_value(v) -> Any:
    """The value of ``v`` if it is known when the graph is built, else None."""
    if isinstance(v, Constant):
        return v.data
    if v.owner is not None and isinstance(v.owner.op, MakeVector):
        values = [static_value(i) for i in v.owner.inputs]
        return None if any(x is None for x in values) else np.array(values)
    return None


def _int_scalar(v, what: str):
    T = _T()
    v = T.as_tensor_variable(v)
    if v.ndim != 0 or not (v.dtype.startswith(("int", "uint")) or v.dtype == "bool"):
        raise TypeError(f"{what} must be an integer scalar, got {v.type}")
    return v


class Shape(Op):
    """The shape of a tensor as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim == 1,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0].shape, dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [(node.inputs[0].ndim,)]

    def grad(self, inputs, output_grads):
        return [None]


class MakeVector(Op):
    """A vector made of scalars."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str = "int64") -> None:
        self.dtype = dtype

    def make_node(self, *scalars: Any) -> Apply:
        T = _T()
        scalars = [T.cast(T.as_tensor_variable(s), self.dtype) for s in scalars]
        if any(s.ndim != 0 for s in scalars):
            raise TypeError("MakeVector takes scalars")
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars) == 1,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs, dtype=self.dtype).reshape(len(inputs))

    def infer_shape(self, node, input_shapes):
        return [(len(node.inputs),)]

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        return [gz[i] if x.dtype.startswith("float") else None for i, x in enumerate(inputs)]


class Reshape(Op):
    """Reshape to an ``ndim``-long int vector shape (one entry may be -1)."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim

    def make_node(self, x: Any, shape: Any) -> Apply:
        T = _T()
        x = T.as_tensor_variable(x)
        shape = T.as_tensor_variable(shape)
        if shape.ndim != 1 or not shape.dtype.startswith(("int", "uint")):
            raise TypeError(f"Reshape: the shape must be an integer vector, got {shape.type}")
        known = static_value(shape)
        if known is not None and len(known) != self.ndim:
            raise ValueError(f"Reshape: shape {tuple(known)} has {len(known)} entries, expected {self.ndim}")
        bcast = tuple(bool(v == 1) for v in known) if known is not None else (False,) * self.ndim
        return Apply(self, [x, shape], [TensorType(x.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        x, shape = inputs
        try:
            output_storage[0][0] = x.reshape(tuple(int(s) for s in shape))
        except ValueError:
            raise ValueError(f"Reshape: cannot reshape an array of shape {x.shape} "
                             f"(size {x.size}) into shape {tuple(shape.tolist())}") from None

    def grad(self, inputs, output_grads):
        T = _T()
        x, _ = inputs
        (gz,) = output_grads
        g = T.reshape(gz, T.shape(x), ndim=x.ndim)
        return [T.patternbroadcast(g, x.broadcastable) if g.broadcastable != x.broadcastable else g, None]


class Alloc(Op):
    """A tensor of the given shape filled by broadcasting ``value``."""

    def make_node(self, value: Any, *shape: Any) -> Apply:
        T = _T()
        value = T.as_tensor_variable(value)
        shape = [_int_scalar(s, "Alloc shape entry") for s in shape]
        if value.ndim > len(shape):
            raise ValueError(f"Alloc: value of ndim {value.ndim} does not fit shape of length {len(shape)}")
        bcast = tuple(bool(isinstance(s, Constant) and s.data == 1) for s in shape)
        return Apply(self, [value] + shape, [TensorType(value.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        value, *shape = inputs
        shape = tuple(int(s) for s in shape)
        try:
            out = np.empty(shape, dtype=value.dtype)
            out[...] = value
        except ValueError:
            raise ValueError(f"Alloc: cannot broadcast a value of shape {value.shape} to {shape}") from None
        output_storage[0][0] = out

    def infer_shape(self, node, input_shapes):
        return [tuple(node.inputs[1:])]

    def grad(self, inputs, output_grads):
        T = _T()
        value, *shape = inputs
        (gz,) = output_grads
        lead = gz.ndim - value.ndim
        g = T.sum(gz, axis=list(range(lead))) if lead else gz
        axes = [d for d, b in enumerate(value.broadcastable) if b and not g.broadcastable[d]]
        if axes:
            g = T.sum(g, axis=axes, keepdims=True)
        if g.broadcastable != value.broadcastable:
            g = T.patternbroadcast(g, value.broadcastable)
        return [g] + [None] * len(shape)


class Join(Op):
    """Concatenate tensors along ``axis``."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def make_node(self, *tensors: Any) -> Apply:
        T = _T()
        tensors = [T.as_tensor_variable(t) for t in tensors]
        ndim = tensors[0].ndim
        if not tensors or any(t.ndim != ndim for t in tensors):
            raise TypeError(f"concatenate: all inputs must have the same ndim, got "
                            f"{[t.ndim for t in tensors]}")
        if not 0 <= self.axis < ndim:
            raise ValueError(f"concatenate: axis {self.axis} is out of range for {ndim}-d inputs")
        bcast = [all(bs) for bs in zip(*[t.broadcastable for t in tensors])]
        bcast[self.axis] = False
        return Apply(self, tensors, [TensorType(upcast(*[t.dtype for t in tensors]), bcast)()])

    def perform(self, node, inputs, output_storage):
        try:
            out = np.concatenate(inputs, axis=self.axis)
        except ValueError:
            raise ValueError(f"concatenate along axis {self.axis}: shapes "
                             f"{[x.shape for x in inputs]} do not match off that axis") from None
        output_storage[0][0] = out.astype(node.outputs[0].dtype, copy=False)

    def infer_shape(self, node, input_shapes):
        T = _T()
        shape = list(input_shapes[0])
        shape[self.axis] = T.add(*[s[self.axis] for s in input_shapes])
        return [tuple(shape)]

    def grad(self, inputs, output_grads):
        T = _T()
        (gz,) = output_grads
        grads, start = [], T.constant(0, dtype="int64")
        for x in inputs:
            stop = start + T.shape(x)[self.axis]
            index = [slice(None)] * x.ndim
            index[self.axis] = slice(start, stop)
            g = gz[tuple(index)]
            if g.broadcastable != x.broadcastable:
                g = T.patternbroadcast(g, x.broadcastable)
            grads.append(T.cast(g, x.dtype) if x.dtype.startswith("float") else None)
            start = stop
        return grads


class ARange(Op):
    """``numpy.arange(start, stop, step)`` of ``dtype``."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        T = _T()
        inputs = [T.as_tensor_variable(v) for v in (start, stop, step)]
        if any(v.ndim != 0 for v in inputs):
            raise TypeError("arange takes scalar start, stop and step")
        return Apply(self, inputs, [TensorType(self.dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        start, stop, step = (x.item() for x in inputs)
        if step == 0:
            raise ValueError("arange: step must not be 0")
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def grad(self, inputs, output_grads):
        return [None, None, None]


class Eye(Op):
    """An ``n`` by ``m`` matrix with ones on diagonal ``k``."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        inputs = [_int_scalar(v, "eye argument") for v in (n, m, k)]
        return Apply(self, inputs, [TensorType(self.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        n, m, k = (int(x) for x in inputs)
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, node, input_shapes):
        return [(node.inputs[0], node.inputs[1])]

    def grad(self, inputs, output_grads):
        return [None, None, None]


class Rebroadcast(Op):
    """Change which dims are declared broadcastable; checks at run time that they are 1."""

    __props__ = ("broadcastable",)
    view_map = {0: [0]}

    def __init__(self, broadcastable: Sequence[bool]) -> None:
        self.broadcastable = tuple(bool(b) for b in broadcastable)

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if x.ndim != len(self.broadcastable):
            raise TypeError(f"patternbroadcast: pattern {self.broadcastable} does not fit a {x.ndim}-d tensor")
        return Apply(self, [x], [TensorType(x.dtype, self.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        for d, b in enumerate(self.broadcastable):
            if b and x.shape[d] != 1:
                raise ValueError(f"dim {d} was declared broadcastable but has size {x.shape[d]} "
                                 f"(shape {x.shape})")
        output_storage[0][0] = x

    def infer_shape(self, node, input_shapes):
        return [tuple(1 if b else s for b, s in zip(self.broadcastable, input_shapes[0]))]

    def grad(self, inputs, output_grads):
        (x,) = inputs
        return [_T().patternbroadcast(output_grads[0], x.broadcastable)]
