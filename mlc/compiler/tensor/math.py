"""Reductions and products: ``sum mean prod max min argmax argmin var std all any norm``
and ``dot tensordot outer batched_dot``. Derived functions are built from primitives and
need no gradient rules of their own."""
from __future__ import annotations

import builtins
from typing import Any, Sequence

from ..ops.blas import BatchedDot, Dot
from ..ops.reduce import Argmax, Reduce, accumulate_dtype, normalize_axis
from ..types import resolve_dtype
from .variable import TensorVariable, as_tensor_variable

__all__ = ["sum", "prod", "max", "min", "all", "any", "mean", "var", "std", "argmax", "argmin",
           "norm", "dot", "tensordot", "outer", "batched_dot", "max_and_argmax", "keep_dims"]


def keep_dims(x: TensorVariable, out: TensorVariable, axes: Sequence[int]) -> TensorVariable:
    """Re-insert the reduced ``axes`` of ``x`` into ``out`` as broadcastable dims."""
    from .basic import dimshuffle
    order, kept = [], 0
    for d in range(x.ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(kept)
            kept += 1
    return dimshuffle(out, order)


def _reduce(name: str, x: Any, axis: Any, keepdims: bool, dtype: Any = None) -> TensorVariable:
    from .basic import cast
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out_dtype = resolve_dtype(dtype) if dtype is not None else accumulate_dtype(name, x.dtype)
    if name in ("add", "mul") and out_dtype != accumulate_dtype(name, x.dtype):
        x = cast(x, out_dtype)
    out = Reduce(name, axes, out_dtype)(x) if axes else (cast(x, out_dtype) if name != "and_" else x)
    return keep_dims(x, out, axes) if keepdims else out


def sum(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False,  # noqa: A001
        acc_dtype: Any = None) -> TensorVariable:
    """Sum over ``axis`` (None: all). Integer inputs sum in 64 bits, as in NumPy."""
    return _reduce("add", x, axis, keepdims, dtype)


def prod(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> TensorVariable:
    """Product over ``axis``; its gradient is exact where inputs are zero."""
    return _reduce("mul", x, axis, keepdims, dtype)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:  # noqa: A001
    """Maximum over ``axis``."""
    return _reduce("maximum", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:  # noqa: A001
    """Minimum over ``axis``."""
    return _reduce("minimum", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:  # noqa: A001
    """True where every element over ``axis`` is nonzero."""
    return _reduce("and_", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:  # noqa: A001
    """True where some element over ``axis`` is nonzero."""
    return _reduce("or_", x, axis, keepdims)


def _count(x: TensorVariable, axes: Sequence[int], dtype: str) -> TensorVariable:
    from .basic import cast, mul
    from .shape import shape
    if not axes:
        return as_tensor_variable(1.0).astype(dtype)
    sizes = [shape(x)[a] for a in axes]
    return cast(mul(*sizes) if len(sizes) > 1 else sizes[0], dtype)


def mean(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> TensorVariable:
    """Arithmetic mean over ``axis``; integer inputs give float64."""
    from .basic import cast
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out_dtype = resolve_dtype(dtype) if dtype is not None else (
        x.dtype if x.dtype.startswith(("float", "complex")) else "float64")
    total = sum(cast(x, out_dtype), axes, keepdims=keepdims)
    return total / _count(x, axes, out_dtype)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> TensorVariable:
    """Variance over ``axis`` (``ddof``: delta degrees of freedom, as NumPy)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    centered = x - mean(x, axes, keepdims=True)
    sq = sum(centered * centered, axes, keepdims=keepdims)
    return sq / (_count(x, axes, sq.dtype) - ddof)


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> TensorVariable:
    """Standard deviation over ``axis``."""
    from .basic import sqrt
    return sqrt(var(x, axis, keepdims, ddof))


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Index of the maximum along ``axis`` (None: of the flattened tensor)."""
    return _arg(x, axis, keepdims, False)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Index of the minimum along ``axis`` (None: of the flattened tensor)."""
    return _arg(x, axis, keepdims, True)


def _arg(x: Any, axis: Any, keepdims: bool, minimum: bool) -> TensorVariable:
    x = as_tensor_variable(x)
    if axis is None or (not isinstance(axis, int) and len(axis) == x.ndim):
        out = Argmax(None, minimum)(x)
        axes = tuple(range(x.ndim))
    else:
        (a,) = normalize_axis(axis, x.ndim)
        out = Argmax(a, minimum)(x)
        axes = (a,)
    return keep_dims(x, out, axes) if keepdims else out


def max_and_argmax(x: Any, axis: Any = None) -> tuple[TensorVariable, TensorVariable]:
    """``(max(x, axis), argmax(x, axis))``."""
    return max(x, axis), argmax(x, axis)


def norm(x: Any, L: float, axis: Any = None) -> TensorVariable:
    """The ``L``-norm over ``axis``."""
    from .basic import abs_, sqrt
    x = as_tensor_variable(x)
    if L == 1:
        return sum(abs_(x), axis)
    if L == 2:
        return sqrt(sum(x * x, axis))
    return sum(abs_(x) ** L, axis) ** (1.0 / L)


def dot(a: Any, b: Any) -> TensorVariable:
    """Matrix/vector product as ``numpy.dot``; scalars multiply; n-d uses ``tensordot``."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    return tensordot(a, b, [[a.ndim - 1], [builtins.max(0, b.ndim - 2)]])


def tensordot(a: Any, b: Any, axes: Any = 2) -> TensorVariable:
    """Sum products over ``axes`` (an int, or two lists of dims), as ``numpy.tensordot``."""
    from .basic import dimshuffle
    from .shape import reshape, shape
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, int):
        a_axes, b_axes = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        a_axes = [ax % a.ndim for ax in ([axes[0]] if isinstance(axes[0], int) else axes[0])]
        b_axes = [ax % b.ndim for ax in ([axes[1]] if isinstance(axes[1], int) else axes[1])]
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: axes {a_axes} and {b_axes} have different lengths")
    a_free = [d for d in range(a.ndim) if d not in a_axes]
    b_free = [d for d in range(b.ndim) if d not in b_axes]
    sa, sb = shape(a), shape(b)
    a2 = reshape(dimshuffle(a, a_free + a_axes), _prod_shape(sa, a_free, a_axes), ndim=2)
    b2 = reshape(dimshuffle(b, b_axes + b_free), _prod_shape(sb, b_axes, b_free), ndim=2)
    out_shape = [sa[d] for d in a_free] + [sb[d] for d in b_free]
    return reshape(Dot()(a2, b2), out_shape, ndim=len(out_shape))


def _prod_shape(shp, first: list[int], second: list[int]) -> list:
    from .basic import mul
    one = as_tensor_variable(1)

    def size(dims):
        return mul(*[shp[d] for d in dims]) if len(dims) > 1 else (shp[dims[0]] if dims else one)
    return [size(first), size(second)]


def outer(x: Any, y: Any) -> TensorVariable:
    """The outer product of two vectors."""
    from .basic import dimshuffle
    from .shape import flatten
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    x = x if x.ndim == 1 else flatten(x)
    y = y if y.ndim == 1 else flatten(y)
    return dimshuffle(x, (0, "x")) * dimshuffle(y, ("x", 0))


def batched_dot(a: Any, b: Any) -> TensorVariable:
    """``out[i] = dot(a[i], b[i])`` for stacks of matrices or vectors."""
    from .basic import dimshuffle
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 2 and b.ndim == 2:
        return sum(a * b, axis=1)
    if a.ndim == 3 and b.ndim == 3:
        return BatchedDot()(a, b)
    if a.ndim == 3 and b.ndim == 2:
        return dimshuffle(BatchedDot()(a, dimshuffle(b, (0, 1, "x"))), (0, 1))
    if a.ndim == 2 and b.ndim == 3:
        return dimshuffle(BatchedDot()(dimshuffle(a, (0, "x", 1)), b), (0, 2))
    raise TypeError(f"batched_dot takes 2-d or 3-d inputs, got {a.ndim}-d and {b.ndim}-d")
