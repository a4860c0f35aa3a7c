"""``T.extra_ops`` (Theano's ``theano.tensor.extra_ops``), part one: cumulative sums and
products, differences, repetition, one-hot codes, and the sorting and reshaping helpers of
``T`` (``sort``, ``argsort``, ``roll``, ``tile``, ``ptp``, ``largest``, ``smallest``).
Where an operation is a composition of existing ops it is written so (the gradient and the
fused C kernels come with it); ``CumOp`` and ``Sort`` are ops of their own."""
from __future__ import annotations

from typing import Any, Sequence

from ..ops.extra import CumOp, Sort
from . import basic as T
from .variable import TensorVariable, as_tensor_variable


def cumsum(x: Any, axis: int | None = None) -> TensorVariable:
    """Cumulative sum along ``axis`` (None: of the flattened input)."""
    return CumOp(axis, "add")(x)


def cumprod(x: Any, axis: int | None = None) -> TensorVariable:
    """Cumulative product along ``axis`` (None: of the flattened input)."""
    return CumOp(axis, "mul")(x)


def diff(x: Any, n: int = 1, axis: int = -1) -> TensorVariable:
    """The ``n``-th difference along ``axis`` (``x[1:] - x[:-1]``, ``n`` times)."""
    x = as_tensor_variable(x)
    axis = axis % x.ndim
    for _ in range(n):
        upper, lower = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        upper[axis], lower[axis] = slice(1, None), slice(None, -1)
        x = x[tuple(upper)] - x[tuple(lower)]
    return x


def repeat(x: Any, repeats: int, axis: int | None = None) -> TensorVariable:
    """Each element repeated ``repeats`` times along ``axis`` (None: of the flattened input)."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = x.flatten(), 0
    axis = axis % x.ndim
    if not isinstance(repeats, int) or repeats < 0:
        raise ValueError(f"repeat: repeats must be a non-negative int here, got {repeats!r}")
    expanded = T.shape_padaxis(x, axis + 1)
    shape = [x.shape[d] for d in range(x.ndim)]
    tiled = T.alloc(expanded, *shape[:axis + 1], repeats, *shape[axis + 1:])
    return T.reshape(tiled, shape[:axis] + [shape[axis] * repeats] + shape[axis + 1:], ndim=x.ndim)


def to_one_hot(y: Any, nb_class: int, dtype: Any = None) -> TensorVariable:
    """Rows of ``nb_class`` zeros with a one at each label of the int vector ``y``."""
    y = as_tensor_variable(y)
    return T.cast(T.eq(y.dimshuffle(0, "x"), T.arange(nb_class).dimshuffle("x", 0)), dtype or T.config.floatX)


def sort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None) -> TensorVariable:
    """``a`` sorted along ``axis`` (None: flattened); ``kind`` is accepted (the sort is stable)."""
    return Sort(axis)(a)


def argsort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None) -> TensorVariable:
    """The indices that sort ``a`` along ``axis`` (stable)."""
    return Sort(axis, indices=True)(a)


def roll(x: Any, shift: int, axis: int | None = None) -> TensorVariable:
    """``x`` rotated by ``shift`` positions along ``axis`` (None: flattened, shape kept)."""
    x = as_tensor_variable(x)
    if axis is None:
        return roll(x.flatten(), shift, 0).reshape(x.shape)
    axis = axis % x.ndim
    n = x.shape[axis]
    k = shift % n
    head, tail = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    head[axis], tail[axis] = slice(n - k, None), slice(None, n - k)
    return T.concatenate([x[tuple(head)], x[tuple(tail)]], axis=axis)


def tile(x: Any, reps: Sequence[int], ndim: int | None = None) -> TensorVariable:
    """``x`` repeated ``reps[d]`` times along each axis ``d`` (as ``numpy.tile``)."""
    x = as_tensor_variable(x)
    reps = list(reps)
    while x.ndim < len(reps):
        x = T.shape_padleft(x)
    reps = [1] * (x.ndim - len(reps)) + reps
    for axis, r in enumerate(reps):
        if r != 1:
            x = T.concatenate([x] * r, axis=axis)
    return x


def ptp(a: Any, axis: Any = None) -> TensorVariable:
    """Range (maximum minus minimum) along ``axis``."""
    a = as_tensor_variable(a)
    return a.max(axis=axis) - a.min(axis=axis)


def largest(*args: Any) -> TensorVariable:
    """The elementwise maximum of all arguments."""
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = T.maximum(out, a)
    return out


def smallest(*args: Any) -> TensorVariable:
    """The elementwise minimum of all arguments."""
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = T.minimum(out, a)
    return out


squeeze = T.squeeze

__all__ = ["cumsum", "cumprod", "diff", "repeat", "to_one_hot", "sort", "argsort", "roll", "tile", "ptp", "largest",
           "smallest", "squeeze"]
