"""``pool_2d`` over the last two axes, as ``theano.tensor.signal.pool``."""
from __future__ import annotations

from typing import Any

from ...ops.pool import Pool
from ..variable import TensorVariable


def pool_2d(input: Any, ws: Any = None, ignore_border: bool | None = None, stride: Any = None,  # noqa: A002
            pad: Any = (0, 0), mode: str = "max", ds: Any = None, st: Any = None, padding: Any = None) -> TensorVariable:
    """Pool windows of ``ws`` over the last two axes of ``input``, moved by ``stride``
    (default ``ws``), with zero ``pad``; ``mode``: 'max', 'sum', 'average_inc_pad',
    'average_exc_pad'. ``ignore_border=False`` keeps partial windows at the end (Theano's
    old default; True is its recommended value, and the default here when not given).
    ``ds``/``st``/``padding`` are Theano's old names for ``ws``/``stride``/``pad``."""
    ws = ws if ws is not None else ds
    if ws is None:
        raise ValueError("pool_2d: give the window size ws")
    stride = stride if stride is not None else st
    pad = padding if padding is not None else pad
    return Pool(ws, True if ignore_border is None else ignore_border, stride, pad, mode)(input)


__all__ = ["pool_2d", "Pool"]
