"""``x log x`` and ``x log y`` with the limit value 0 where ``x`` is 0 (Theano's
``theano.tensor.xlogx``)."""
from __future__ import annotations

from typing import Any

from . import basic as T
from .variable import TensorVariable


def xlogx(x: Any) -> TensorVariable:
    """``x * log(x)``, and 0 where ``x == 0``."""
    x = T.as_tensor_variable(x)
    return T.switch(T.eq(x, 0), T.zeros_like(x), x * T.log(T.switch(T.eq(x, 0), T.ones_like(x), x)))


def xlogy0(x: Any, y: Any) -> TensorVariable:
    """``x * log(y)``, and 0 where ``x == 0`` (even where ``y`` is 0 too)."""
    x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
    safe_y = T.switch(T.eq(x, 0), T.ones_like(y), y)
    return T.switch(T.eq(x, 0), T.zeros_like(x * safe_y), x * T.log(safe_y))


__all__ = ["xlogx", "xlogy0"]
