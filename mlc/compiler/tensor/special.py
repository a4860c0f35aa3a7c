"""Functions of Theano's ``T`` built from the scalar table: ``iround``, ``ceil_intdiv``,
``power``, ``deg2rad``/``rad2deg``, ``isclose``, ``allclose``, ``logsumexp``, and
``real``/``imag``/``angle``/``conj`` of real tensors (mlc has no complex numbers; the special
functions are table rows of their own)."""
from __future__ import annotations

import math
from typing import Any

from ..gradient import disconnected_grad
from . import basic as T
from .variable import TensorVariable, as_tensor_variable


def iround(x: Any, mode: str | None = None) -> TensorVariable:
    """``x`` rounded (``mode`` as ``T.round``) and cast to int64."""
    return T.cast(T.round(x, mode), "int64")


def ceil_intdiv(a: Any, b: Any) -> TensorVariable:
    """Integer division rounded up: ``a // b`` plus one where ``b`` does not divide ``a``."""
    quotient = T.int_div(a, b)
    return quotient + T.cast(T.neq(T.mod(a, b), 0), quotient.dtype)


def power(x: Any, y: Any) -> TensorVariable:
    """``x ** y`` elementwise (NumPy's name)."""
    return T.pow(x, y)


def deg2rad(x: Any) -> TensorVariable:
    """Degrees to radians."""
    return as_tensor_variable(x) * (math.pi / 180)


def rad2deg(x: Any) -> TensorVariable:
    """Radians to degrees."""
    return as_tensor_variable(x) * (180 / math.pi)


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> TensorVariable:
    """Elementwise ``|a - b| <= atol + rtol * |b|`` (NumPy's rule; infinities equal only to themselves)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    close = T.le(abs(a - b), atol + rtol * abs(b))
    both_inf = T.and_(T.and_(T.isinf(a), T.isinf(b)), T.eq(a, b))
    close = T.or_(T.and_(close, T.invert(T.or_(T.isinf(a), T.isinf(b)))), both_inf)
    if equal_nan:
        close = T.or_(close, T.and_(T.isnan(a), T.isnan(b)))
    return close


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> TensorVariable:
    """Whether ``isclose`` holds everywhere (a scalar bool)."""
    return T.all(isclose(a, b, rtol, atol, equal_nan))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """``log(sum(exp(x)))`` along ``axis``, without overflow (the maximum is taken out first)."""
    x = as_tensor_variable(x)
    m = disconnected_grad(x.max(axis=axis, keepdims=True))  # any constant shift is exact; no gradient through it
    out = T.log(T.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.sum(axis=axis)  # summing the kept axes of size 1 drops them


__all__ = ["iround", "ceil_intdiv", "power", "deg2rad", "rad2deg", "isclose", "allclose", "logsumexp"]


def _real_only(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.dtype.startswith("complex"):
        raise NotImplementedError(f"{what}: mlc does not support complex numbers (got a {x.dtype} tensor); "
                                  "keep the real and imaginary parts as two real tensors")
    return x


def real(x: Any) -> TensorVariable:
    """The real part: ``x`` itself (complex tensors are not supported)."""
    return _real_only(x, "real")


def imag(x: Any) -> TensorVariable:
    """The imaginary part of a real tensor: zeros of its dtype, as NumPy (complex: not supported)."""
    return T.zeros_like(_real_only(x, "imag"))


def angle(x: Any) -> TensorVariable:
    """The argument of a real number: pi where it is negative, else 0 (complex: not supported)."""
    x = _real_only(x, "angle")
    return T.arctan2(T.zeros_like(x), x)


def conj(x: Any) -> TensorVariable:
    """The complex conjugate of a real tensor: ``x`` itself (complex: not supported)."""
    return _real_only(x, "conj")


def complex(real: Any, imag: Any) -> TensorVariable:  # noqa: A001  (Theano's name)
    """Not supported: mlc has no complex dtype; this says so by name."""
    raise NotImplementedError("complex: mlc does not support complex numbers; keep the real and imaginary "
                              "parts as two real tensors")


def complex_from_polar(abs: Any, angle: Any) -> TensorVariable:  # noqa: A002
    """Not supported: mlc has no complex dtype; this says so by name."""
    raise NotImplementedError("complex_from_polar: mlc does not support complex numbers; keep "
                              "abs * cos(angle) and abs * sin(angle) as two real tensors")


def polygamma(k: int, x: Any) -> TensorVariable:
    """The ``k``-th derivative of ``psi`` (digamma): ``k`` 0 (``psi``) or 1 (``tri_gamma``)."""
    if k == 0:
        return T.psi(x)
    if k == 1:
        return T.tri_gamma(x)
    raise NotImplementedError(f"polygamma: order {k} is not implemented (orders 0 and 1 are)")
