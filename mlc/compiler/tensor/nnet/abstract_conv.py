"""Theano's abstract convolution: ``conv2d`` and the gradient entry points
``conv2d_grad_wrt_inputs`` (a transposed convolution) and ``conv2d_grad_wrt_weights``."""
from __future__ import annotations

from typing import Any

from ...ops.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights
from ..variable import TensorVariable, as_tensor_variable


def _check_shape(var: TensorVariable, given: Any, what: str) -> None:
    if given is not None and len(given) != 4:
        raise ValueError(f"conv2d: {what} must have 4 entries (NCHW / OIHW), got {given}")


def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,  # noqa: A002
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           filter_dilation: Any = (1, 1), num_groups: int = 1, **kwargs: Any) -> TensorVariable:
    """2-d convolution of ``input`` (N, C, H, W) with ``filters`` (O, C / num_groups, KH,
    KW): ``border_mode`` 'valid' | 'full' | 'half' | int | (int, int), ``subsample``
    (strides), ``filter_flip`` (False: cross-correlation), ``filter_dilation``,
    ``num_groups``. ``input_shape``/``filter_shape`` are hints (checked for length only).

    >>> import mlc.compiler.tensor as T
    >>> out = conv2d(T.tensor4("x"), T.tensor4("w"), border_mode="half")
    """
    input, filters = as_tensor_variable(input), as_tensor_variable(filters)
    _check_shape(input, input_shape, "input_shape")
    _check_shape(filters, filter_shape, "filter_shape")
    return Conv2d(border_mode, subsample, filter_flip, filter_dilation, num_groups)(input, filters)


def conv2d_grad_wrt_inputs(output_grad: Any, filters: Any, input_shape: Any, filter_shape: Any = None,
                           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
                           filter_dilation: Any = (1, 1), num_groups: int = 1) -> TensorVariable:
    """The gradient of ``conv2d`` for its input: a transposed convolution of ``output_grad``
    back to ``input_shape`` (the "deconvolution" of upsampling layers)."""
    return Conv2dGradInputs(border_mode, subsample, filter_flip, filter_dilation, num_groups)(
        filters, output_grad, input_shape)


def conv2d_grad_wrt_weights(input: Any, output_grad: Any, filter_shape: Any, input_shape: Any = None,  # noqa: A002
                            border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
                            filter_dilation: Any = (1, 1), num_groups: int = 1) -> TensorVariable:
    """The gradient of ``conv2d`` for its filters, of shape ``filter_shape``."""
    return Conv2dGradWeights(border_mode, subsample, filter_flip, filter_dilation, num_groups)(
        input, output_grad, filter_shape)


__all__ = ["conv2d", "conv2d_grad_wrt_inputs", "conv2d_grad_wrt_weights"]
