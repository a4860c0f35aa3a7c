"""Tensor variables: operators, methods and conversion of Python values to constants."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..graph import Constant, Variable
from ..types import TensorType


_COMPARISONS = ("lt", "le", "gt", "ge")


def _extra():
    from . import extra_ops
    return extra_ops


class _TensorMethods:
    """Operators and methods shared by symbolic tensors, constants and shared tensors."""

    # ``ndarray * x`` must call ``x.__rmul__``, not build an object array of element products
    __array_ufunc__ = None

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other): return _b.add(self, other)
    def __radd__(self, other): return _b.add(other, self)
    def __sub__(self, other): return _b.sub(self, other)
    def __rsub__(self, other): return _b.sub(other, self)
    def __mul__(self, other): return _b.mul(self, other)
    def __rmul__(self, other): return _b.mul(other, self)
    def __truediv__(self, other): return _b.true_div(self, other)
    def __rtruediv__(self, other): return _b.true_div(other, self)
    def __floordiv__(self, other): return _b.floor_div(self, other)
    def __rfloordiv__(self, other): return _b.floor_div(other, self)
    def __mod__(self, other): return _b.mod(self, other)
    def __rmod__(self, other): return _b.mod(other, self)
    def __pow__(self, other): return _b.pow(self, other)
    def __rpow__(self, other): return _b.pow(other, self)
    def __neg__(self): return _b.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _b.abs_(self)
    def __lt__(self, other): return _b.lt(self, other)
    def __le__(self, other): return _b.le(self, other)
    def __gt__(self, other): return _b.gt(self, other)
    def __ge__(self, other): return _b.ge(self, other)
    def __and__(self, other): return _b.and_(self, other)
    def __rand__(self, other): return _b.and_(other, self)
    def __or__(self, other): return _b.or_(self, other)
    def __ror__(self, other): return _b.or_(other, self)
    def __xor__(self, other): return _b.xor(self, other)
    def __rxor__(self, other): return _b.xor(other, self)
    def __invert__(self): return _b.invert(self)
    def __matmul__(self, other): return _b.dot(self, other)
    def __rmatmul__(self, other): return _b.dot(other, self)

    # Variables are graph nodes: identity equality and hashing, as in Theano (use T.eq).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __bool__(self):
        # Theano 1.0: a variable is true (``if not W:`` tests presence), but the result of a
        # comparison refuses, so that ``a < b < c`` (Python's ``(a < b) and (b < c)``) fails loudly.
        owner = getattr(self, "owner", None)
        if owner is not None and getattr(getattr(owner.op, "scalar_op", None), "name", None) in _COMPARISONS:
            raise TypeError("the result of a symbolic comparison has no truth value (a chained comparison "
                            "like a < b < c?); use T.and_(a < b, b < c), T.switch, or T.eq to build it "
                            "into the graph")
        return True

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated; index it with x[i] instead")

    def __len__(self):
        raise TypeError("len() of a symbolic tensor is unknown; use x.shape[0]")

    def __getitem__(self, index):
        from . import subtensor
        return subtensor.getitem(self, index)

    # ------------------------------------------------------------------ attributes
    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)
    broadcastable = property(lambda self: self.type.broadcastable)
    shape = property(lambda self: _b.shape(self))
    size = property(lambda self: _b.prod(_b.shape(self)))
    T = property(lambda self: _b.transpose(self))

    def sum(self, axis=None, dtype=None, keepdims=False): return _b.sum(self, axis, dtype, keepdims)
    def prod(self, axis=None, dtype=None, keepdims=False): return _b.prod(self, axis, dtype, keepdims)
    def mean(self, axis=None, dtype=None, keepdims=False): return _b.mean(self, axis, dtype, keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return _b.var(self, axis, keepdims, ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return _b.std(self, axis, keepdims, ddof)
    def max(self, axis=None, keepdims=False): return _b.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _b.min(self, axis, keepdims)
    def argmax(self, axis=None, keepdims=False): return _b.argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _b.argmin(self, axis, keepdims)
    def all(self, axis=None, keepdims=False): return _b.all(self, axis, keepdims)
    def any(self, axis=None, keepdims=False): return _b.any(self, axis, keepdims)
    def norm(self, L, axis=None): return _b.norm(self, L, axis)
    def reshape(self, shape, *more, ndim=None):
        return _b.reshape(self, (shape,) + more if more else shape, ndim=ndim)
    def flatten(self, ndim=1): return _b.flatten(self, ndim)
    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return _b.dimshuffle(self, pattern)
    def transpose(self, *axes): return _b.transpose(self, axes or None)
    def astype(self, dtype): return _b.cast(self, dtype)
    def dot(self, other): return _b.dot(self, other)
    def clip(self, a_min, a_max): return _b.clip(self, a_min, a_max)
    def round(self, mode=None): return _b.round(self, mode)
    # Theano's array methods, through T.extra_ops and T.nlinalg
    def nonzero_values(self): return _extra().nonzero_values(self)
    def nonzero(self, return_matrix=False): return _extra().nonzero(self, return_matrix)
    def take(self, indices, axis=None, mode="raise"): return _extra().take(self, indices, axis, mode)
    def compress(self, condition, axis=None): return _extra().compress(condition, self, axis)
    def searchsorted(self, v, side="left", sorter=None): return _extra().searchsorted(self, v, side, sorter)
    def diagonal(self, offset=0, axis1=0, axis2=1): return _extra().diagonal(self, offset, axis1, axis2)
    def cumsum(self, axis=None): return _extra().cumsum(self, axis)
    def cumprod(self, axis=None): return _extra().cumprod(self, axis)
    def repeat(self, repeats, axis=None): return _extra().repeat(self, repeats, axis)
    def ptp(self, axis=None): return _extra().ptp(self, axis)
    def sort(self, axis=-1, kind="quicksort", order=None): return _extra().sort(self, axis)
    def argsort(self, axis=-1, kind="quicksort", order=None): return _extra().argsort(self, axis)
    def choose(self, choices, mode="raise"): return _extra().choose(self, choices, mode=mode)
    def swapaxes(self, axis1, axis2):
        return _b.swapaxes(self, axis1, axis2)
    def trace(self):
        from . import nlinalg
        return nlinalg.trace(self)
    def conj(self): return self  # mlc's tensors are real
    def zeros_like(self, dtype=None): return _b.zeros_like(self, dtype)
    def ones_like(self, dtype=None): return _b.ones_like(self, dtype)
    def squeeze(self): return _b.squeeze(self)
    def exp(self): return _b.exp(self)
    def log(self): return _b.log(self)
    def copy(self, name=None):
        out = _b.tensor_copy(self)
        out.name = name
        return out


class TensorVariable(_TensorMethods, Variable):
    """A symbolic tensor."""


class TensorConstant(_TensorMethods, Constant):
    """A tensor whose value is fixed in the graph."""

    @property
    def value(self):
        return self.data


def python_scalar_dtype(value: Any, context: list[str]) -> str:
    """The dtype a bare Python number takes next to tensors of ``context`` dtypes.

    Python numbers are "weak" (as in NumPy 2): ``x_float32 * 2.0`` stays float32 and
    ``ivector + 1`` stays int32. Alone, an int is int64 and a float is ``floatX``.
    """
    floats = [d for d in context if d.startswith(("float", "complex"))]
    ints = [d for d in context if d not in floats and d != "bool"]
    if isinstance(value, bool):
        return context[0] if context else "bool"
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.generic):
        if floats:
            return np.result_type(*floats).name
        if ints:
            dtype = np.result_type(*ints)
            if np.can_cast(np.min_scalar_type(value), dtype):
                return dtype.name
        return "int64"
    if isinstance(value, complex):
        return "complex128"
    return np.result_type(*floats).name if floats else config.floatX


def is_weak(value: Any) -> bool:
    return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic)


def constant(value: Any, name: str | None = None, ndim: int | None = None, dtype: Any = None
             ) -> TensorConstant:
    """A ``TensorConstant`` holding ``value`` (``dtype=None``: Python floats become floatX)."""
    if dtype is None and is_weak(value):
        dtype = python_scalar_dtype(value, [])
    elif dtype is None and isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        dtype = config.floatX if arr.dtype.kind == "f" else arr.dtype
    arr = np.asarray(value, dtype=dtype)
    if ndim is not None:
        if arr.ndim > ndim:
            raise ValueError(f"constant of ndim {arr.ndim} cannot become ndim {ndim}")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    ttype = TensorType(arr.dtype.name, tuple(s == 1 for s in arr.shape))
    return TensorConstant(ttype, arr, name=name)


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None,
                       dtype: Any = None) -> Variable:
    """``x`` as a symbolic tensor: variables pass through, values become constants."""
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"expected a tensor, got {x} of type {x.type}")
        if ndim is not None and x.ndim != ndim:
            raise TypeError(f"expected a {ndim}-d tensor, got {x} of ndim {x.ndim}")
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(v, Variable) for v in x):
        return _b.stack([as_tensor_variable(v) for v in x])
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        x = np.asarray(x)
    try:
        return constant(x, name=name, ndim=ndim, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"cannot convert {x!r} to a tensor: {err}") from None


from . import basic as _b  # noqa: E402  (operators need the API; the API needs these classes)
