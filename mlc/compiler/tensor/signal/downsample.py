"""The old ``theano.tensor.signal.downsample`` names."""
from __future__ import annotations

from typing import Any

from .pool import pool_2d


def max_pool_2d(input: Any, ds: Any, ignore_border: bool | None = None, st: Any = None,  # noqa: A002
                padding: Any = (0, 0), mode: str = "max") -> Any:
    """``pool_2d`` under its old name and argument names."""
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)


__all__ = ["max_pool_2d"]
