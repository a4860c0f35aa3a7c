"""Theano's legacy ``T.nnet.conv.conv2d`` (``image_shape``/``filter_shape`` hints,
``border_mode`` 'valid' or 'full', ``subsample``): the same convolution (filters flipped)."""
from __future__ import annotations

from typing import Any

from . import abstract_conv
from ...choices import check_choice


def conv2d(input: Any, filters: Any, image_shape: Any = None, filter_shape: Any = None,  # noqa: A002
           border_mode: str = "valid", subsample: Any = (1, 1), **kwargs: Any) -> Any:
    """2-d convolution as the old ``theano.tensor.nnet.conv.conv2d``."""
    check_choice("T.nnet.conv.conv2d: border_mode", border_mode, ("valid", "full"))
    return abstract_conv.conv2d(input, filters, image_shape, filter_shape, border_mode, subsample)


__all__ = ["conv2d"]
