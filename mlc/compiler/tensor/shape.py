"""Shape functions: ``shape reshape flatten transpose swapaxes concatenate stack alloc zeros
ones zeros_like ones_like arange eye tri tril triu shape_padleft patternbroadcast squeeze``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import config
from ..graph import Constant, Variable
from ..ops.shape import (Alloc, ARange, Eye, Join, MakeVector, Rebroadcast, Reshape, Shape,
                         static_value)
from ..types import resolve_dtype
from .variable import TensorVariable, as_tensor_variable, constant

__all__ = ["shape", "reshape", "flatten", "transpose", "concatenate", "join", "stack", "alloc",
           "zeros", "ones", "zeros_like", "ones_like", "arange", "eye", "identity_like",
           "shape_padleft", "shape_padright", "shape_padaxis", "patternbroadcast", "addbroadcast",
           "unbroadcast", "squeeze", "make_vector", "vector_length", "get_vector_length", "shape_list",
           "swapaxes", "horizontal_stack", "vertical_stack", "tri", "tril", "triu"]


def shape(x: Any) -> TensorVariable:
    """The shape of ``x`` as a symbolic int64 vector."""
    return Shape()(as_tensor_variable(x))


def vector_length(v: Variable) -> int:
    """The length of a symbolic vector when it is known from the graph, else an error."""
    known = static_value(v)
    if known is not None:
        return len(known)
    if v.owner is not None and isinstance(v.owner.op, Shape):
        return v.owner.inputs[0].ndim
    if v.broadcastable == (True,):
        return 1
    raise ValueError(f"the length of {v} is not known when the graph is built; pass a tuple instead")


def get_vector_length(v: Any) -> int:
    """Theano's name for ``vector_length``: the length of a vector known from the graph
    (a constant, a shape, a vector of scalars), else a ValueError."""
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise TypeError(f"get_vector_length takes a vector, got a {v.ndim}-d tensor")
    return vector_length(v)


def shape_list(shp: Any) -> list:
    """A shape given as a tuple, a list or a symbolic vector, as a list of int scalars."""
    if isinstance(shp, Variable):
        if shp.ndim == 0:
            return [shp]
        return [shp[i] for i in range(vector_length(shp))]
    if isinstance(shp, (int, np.integer)):
        return [int(shp)]
    return list(shp)


def make_vector(items: Sequence[Any], dtype: str = "int64") -> TensorVariable:
    """A vector of scalars (a constant when all are known)."""
    if all(isinstance(i, (int, np.integer)) or (isinstance(i, Constant) and i.ndim == 0) for i in items):
        return constant(np.array([int(getattr(i, "data", i)) for i in items], dtype=dtype).reshape(len(items)))
    return MakeVector(dtype)(*items)


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> TensorVariable:
    """``x`` with shape ``newshape`` (a tuple of ints/scalars, or a symbolic vector)."""
    x = as_tensor_variable(x)
    if isinstance(newshape, Variable) and newshape.ndim == 1:
        vec = newshape
        ndim = ndim if ndim is not None else vector_length(vec)
    else:
        items = shape_list(newshape)
        vec = make_vector(items)
        ndim = len(items)
    return Reshape(ndim)(x, vec)


def flatten(x: Any, ndim: int = 1, outdim: int | None = None) -> TensorVariable:
    """Keep the first ``ndim - 1`` dims and collapse the rest."""
    x = as_tensor_variable(x)
    ndim = outdim if outdim is not None else ndim
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten: ndim must be in 1..{x.ndim}, got {ndim}")
    if ndim == 1:
        return reshape(x, [-1])
    s = shape(x)
    return reshape(x, [s[d] for d in range(ndim - 1)] + [-1])


def transpose(x: Any, axes: Sequence[int] | None = None) -> TensorVariable:
    """Reverse (or permute by ``axes``) the dims of ``x``."""
    from .basic import dimshuffle
    x = as_tensor_variable(x)
    return dimshuffle(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> TensorVariable:
    """``x`` with dims ``axis1`` and ``axis2`` exchanged."""
    x = as_tensor_variable(x)
    order = list(range(x.ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return transpose(x, order)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    """Join tensors of equal ndim along ``axis``."""
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis % tensors[0].ndim if tensors[0].ndim else axis)(*tensors)


def join(axis: int, *tensors: Any) -> TensorVariable:
    """Theano's spelling of ``concatenate(tensors, axis)``."""
    return concatenate(tensors, axis)


def horizontal_stack(*matrices: Any) -> TensorVariable:
    """Matrices side by side (joined along axis 1), as Theano's ``horizontal_stack``."""
    return concatenate(_matrices(matrices, "horizontal_stack"), axis=1)


def vertical_stack(*matrices: Any) -> TensorVariable:
    """Matrices one above the other (joined along axis 0), as Theano's ``vertical_stack``."""
    return concatenate(_matrices(matrices, "vertical_stack"), axis=0)


def _matrices(tensors: Sequence[Any], what: str) -> list:
    tensors = [as_tensor_variable(t) for t in tensors]
    for i, t in enumerate(tensors):
        if t.ndim != 2:
            raise TypeError(f"{what}: argument {i} must be a matrix, got a {t.ndim}-d tensor")
    return tensors


def stack(tensors: Any, *more: Any, axis: int = 0) -> TensorVariable:
    """Stack tensors of equal shape along a new ``axis``: ``stack([a, b], axis)``, or
    Theano's older form ``stack(a, b, c)`` (along axis 0)."""
    if isinstance(tensors, (list, tuple)) and len(more) == 1 and isinstance(more[0], (int, np.integer)):
        axis = int(more[0])  # stack(tensors, axis) by position
    elif more or not isinstance(tensors, (list, tuple)):
        tensors = [tensors, *more]
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    axis = axis % (tensors[0].ndim + 1)
    return Join(axis)(*[shape_padaxis(t, axis) for t in tensors])


def alloc(value: Any, *shape_: Any) -> TensorVariable:
    """A tensor of shape ``shape_`` filled with ``value`` (broadcast)."""
    if len(shape_) == 1 and not isinstance(shape_[0], (int, np.integer)) and not (
            isinstance(shape_[0], Variable) and shape_[0].ndim == 0):
        shape_ = tuple(shape_list(shape_[0]))
    return Alloc()(value, *shape_)


def zeros(shape_: Any, dtype: Any = None) -> TensorVariable:
    """A tensor of zeros (``dtype=None``: floatX)."""
    return alloc(constant(0, dtype=resolve_dtype(dtype)), *shape_list(shape_))


def ones(shape_: Any, dtype: Any = None) -> TensorVariable:
    """A tensor of ones (``dtype=None``: floatX)."""
    return alloc(constant(1, dtype=resolve_dtype(dtype)), *shape_list(shape_))


def zeros_like(x: Any, dtype: Any = None) -> TensorVariable:
    """Zeros of the shape (and by default the dtype) of ``x``."""
    from .basic import second
    x = as_tensor_variable(x)
    return second(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: Any = None) -> TensorVariable:
    """Ones of the shape (and by default the dtype) of ``x``."""
    from .basic import second
    x = as_tensor_variable(x)
    return second(x, constant(1, dtype=dtype or x.dtype))


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> TensorVariable:
    """``numpy.arange`` with symbolic bounds; integer bounds give int64."""
    if stop is None:
        start, stop = 0, start
    args = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = "int64" if all(a.dtype.startswith(("int", "uint")) for a in args) else config.floatX
    return ARange(resolve_dtype(dtype))(*args)


def eye(n: Any, m: Any = None, k: int = 0, dtype: Any = None) -> TensorVariable:
    """An ``n`` by ``m`` identity-like matrix with ones on diagonal ``k``."""
    return Eye(resolve_dtype(dtype))(n, n if m is None else m, k)


def tri(N: Any, M: Any = None, k: int = 0, dtype: Any = None) -> TensorVariable:
    """An ``N`` by ``M`` matrix with ones at and below diagonal ``k``, zeros above
    (``numpy.tri``); ``dtype`` defaults to floatX.

    >>> tri(3, k=-1, dtype="int8").eval().tolist()
    [[0, 0, 0], [1, 0, 0], [1, 1, 0]]
    """
    from .basic import cast, ge
    rows, cols = _row_and_column_numbers(N, N if M is None else M)
    return cast(ge(rows + k, cols), resolve_dtype(dtype))


def tril(m: Any, k: int = 0) -> TensorVariable:
    """``m`` with the entries above diagonal ``k`` zeroed (over its last two dims)."""
    return _triangle(m, k, lower=True)


def triu(m: Any, k: int = 0) -> TensorVariable:
    """``m`` with the entries below diagonal ``k`` zeroed (over its last two dims)."""
    return _triangle(m, k, lower=False)


def _triangle(m: Any, k: int, lower: bool) -> TensorVariable:
    from .basic import switch, ge, le
    m = as_tensor_variable(m)
    if m.ndim < 2:
        raise TypeError(f"{'tril' if lower else 'triu'} takes a matrix (or a stack of them), got a {m.ndim}-d tensor")
    rows, cols = _row_and_column_numbers(m.shape[-2], m.shape[-1])
    keep = ge(rows + k, cols) if lower else le(rows + k, cols)
    return switch(keep, m, 0)  # not m * keep: an inf or NaN outside the triangle still gives 0


def _row_and_column_numbers(n: Any, m: Any) -> tuple:
    """A column of row numbers and a row of column numbers, which broadcast to ``n`` by ``m``."""
    return arange(n).dimshuffle(0, "x"), arange(m).dimshuffle("x", 0)


def identity_like(x: Any) -> TensorVariable:
    """An identity matrix of the shape of matrix ``x``."""
    x = as_tensor_variable(x)
    s = shape(x)
    return eye(s[0], s[1], 0, x.dtype)


def shape_padaxis(x: Any, axis: int) -> TensorVariable:
    """``x`` with a broadcastable dim inserted at ``axis``."""
    from .basic import dimshuffle
    x = as_tensor_variable(x)
    pattern: list = list(range(x.ndim))
    pattern.insert(axis % (x.ndim + 1), "x")
    return dimshuffle(x, pattern)


def shape_padleft(x: Any, n_ones: int = 1) -> TensorVariable:
    """``x`` with ``n_ones`` broadcastable dims added on the left."""
    from .basic import dimshuffle
    x = as_tensor_variable(x)
    return dimshuffle(x, ["x"] * n_ones + list(range(x.ndim)))


def shape_padright(x: Any, n_ones: int = 1) -> TensorVariable:
    """``x`` with ``n_ones`` broadcastable dims added on the right."""
    from .basic import dimshuffle
    x = as_tensor_variable(x)
    return dimshuffle(x, list(range(x.ndim)) + ["x"] * n_ones)


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> TensorVariable:
    """``x`` with its broadcastable pattern replaced (checked at run time)."""
    x = as_tensor_variable(x)
    broadcastable = tuple(bool(b) for b in broadcastable)
    if x.broadcastable == broadcastable:
        return x
    return Rebroadcast(broadcastable)(x)


def addbroadcast(x: Any, *axes: int) -> TensorVariable:
    """``x`` with ``axes`` declared broadcastable (size 1)."""
    x = as_tensor_variable(x)
    return patternbroadcast(x, [b or d in axes for d, b in enumerate(x.broadcastable)])


def unbroadcast(x: Any, *axes: int) -> TensorVariable:
    """``x`` with ``axes`` no longer declared broadcastable."""
    x = as_tensor_variable(x)
    return patternbroadcast(x, [b and d not in axes for d, b in enumerate(x.broadcastable)])


def squeeze(x: Any) -> TensorVariable:
    """``x`` without its broadcastable dims."""
    from .basic import dimshuffle
    x = as_tensor_variable(x)
    return dimshuffle(x, [d for d, b in enumerate(x.broadcastable) if not b])
