"""Reductions over axes: ``Reduce`` (sum, prod, max, min, all, any) and ``Argmax``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType

_UFUNCS = {"add": np.add, "mul": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
           "and_": np.logical_and, "or_": np.logical_or}


def _T():
    from ..tensor import basic
    return basic


def normalize_axis(axis: Any, ndim: int, what: str = "axis") -> tuple[int, ...]:
    """``axis`` (None, int or sequence, negatives allowed) as a sorted tuple of dims."""
    if axis is None:
        return tuple(range(ndim))
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    result = set()
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{what} {a!r} is out of range for a {ndim}-d tensor")
        result.add(int(a) % ndim if ndim else 0)
    return tuple(sorted(result))


def accumulate_dtype(name: str, dtype: str) -> str:
    """Output dtype of a reduction: integer sums and products widen to 64 bits, as in NumPy."""
    if name in ("and_", "or_"):
        return "bool"
    if name in ("add", "mul"):
        if dtype == "bool" or dtype.startswith("int"):
            return "int64"
        if dtype.startswith("uint"):
            return "uint64"
    return dtype


class Reduce(Op):
    """Reduce ``axis`` of a tensor with the scalar op ``name`` (add, mul, maximum, minimum,
    and_, or_), producing ``dtype``."""

    __props__ = ("name", "axis", "dtype")

    def __init__(self, name: str, axis: Sequence[int], dtype: str) -> None:
        if name not in _UFUNCS:
            raise ValueError(f"cannot reduce with {name!r}; valid: {', '.join(_UFUNCS)}")
        self.name, self.axis, self.dtype = name, tuple(axis), dtype

    def __str__(self) -> str:
        return f"Reduce{{{self.name}, axis={list(self.axis)}}}"

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if any(a >= x.ndim for a in self.axis):
            raise ValueError(f"{self}: axis out of range for a {x.ndim}-d input")
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in self.axis)
        return Apply(self, [x], [TensorType(self.dtype, bcast)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        ufunc = _UFUNCS[self.name]
        if self.name in ("and_", "or_"):
            result = ufunc.reduce(x.astype(bool), axis=self.axis)
        elif self.name in ("add", "mul"):
            result = ufunc.reduce(x, axis=self.axis, dtype=self.dtype)
        else:
            if x.size == 0 and any(x.shape[a] == 0 for a in self.axis):
                raise ValueError(f"{self}: cannot take the {self.name} over an empty axis (shape {x.shape})")
            result = ufunc.reduce(x, axis=self.axis)
        output_storage[0][0] = np.asarray(result, dtype=self.dtype)

    def infer_shape(self, node, input_shapes):
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d not in self.axis)]

    def grad(self, inputs, output_grads):
        return self.L_op(inputs, self.make_node(*inputs).outputs, output_grads)

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        (x,), (out,), (gz,) = inputs, outputs, output_grads
        if x.dtype not in ("float16", "float32", "float64") or self.name in ("and_", "or_"):
            return [None]
        keep = _keep_order(x.ndim, self.axis)
        gz_k = T.dimshuffle(gz, keep)
        if self.name == "add":
            return [T.cast(T.second(x, gz_k), x.dtype)]
        out_k = T.dimshuffle(out, keep)
        if self.name in ("maximum", "minimum"):
            return [T.cast(gz_k * T.eq(x, out_k), x.dtype)]
        # prod: out/x where x != 0; where a group has exactly one zero, the product of the
        # other entries at that zero; 0 elsewhere.
        is_zero = T.eq(x, 0)
        n_zero = T.dimshuffle(T.sum(is_zero, axis=self.axis), keep)
        prod_nz = T.dimshuffle(T.prod(T.switch(is_zero, T.ones_like(x), x), axis=self.axis), keep)
        safe_x = T.switch(is_zero, T.ones_like(x), x)
        g = T.switch(T.eq(n_zero, 0), prod_nz / safe_x,
                     T.switch(T.and_(is_zero, T.eq(n_zero, 1)), prod_nz, T.zeros_like(x)))
        return [T.cast(gz_k * g, x.dtype)]


def _keep_order(ndim: int, axes: Sequence[int]) -> list:
    """A dimshuffle pattern that re-inserts reduced ``axes`` as broadcastable dims."""
    order: list = []
    kept = 0
    for d in range(ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(kept)
            kept += 1
    return order


class Argmax(Op):
    """Index of the max (or min, with ``minimum=True``) along ``axis`` (None: flattened)."""

    __props__ = ("axis", "minimum")

    def __init__(self, axis: int | None, minimum: bool = False) -> None:
        self.axis, self.minimum = axis, minimum

    def __str__(self) -> str:
        return f"{'Argmin' if self.minimum else 'Argmax'}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if self.axis is None:
            bcast: tuple = ()
        else:
            bcast = tuple(b for d, b in enumerate(x.broadcastable) if d != self.axis)
        return Apply(self, [x], [TensorType("int64", bcast)()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.size == 0:
            raise ValueError(f"{self}: argmax of an empty array (shape {x.shape})")
        fn = np.argmin if self.minimum else np.argmax
        output_storage[0][0] = np.asarray(fn(x, axis=self.axis), dtype="int64")

    def infer_shape(self, node, input_shapes):
        if self.axis is None:
            return [()]
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d != self.axis)]

    def grad(self, inputs, output_grads):
        return [None]
