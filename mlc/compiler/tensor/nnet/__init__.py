"""``T.nnet``: activations and losses as in Theano (``T.nnet.nnet.softmax`` works too)."""
from __future__ import annotations

import sys
from typing import Any

from ...ops.nnet import LogSoftmax, Softmax
from .. import basic as _T
from ..variable import TensorVariable, as_tensor_variable

sigmoid = _T.sigmoid
softplus = _T.softplus
nnet = sys.modules[__name__]  # Theano code spells it T.nnet.nnet.softmax


def relu(x: Any, alpha: float = 0) -> TensorVariable:
    """``max(x, 0)``; with ``alpha``, a leaky ReLU ``x if x > 0 else alpha * x``."""
    x = as_tensor_variable(x)
    if alpha == 0:
        return _T.relu(x)
    return _T.switch(_T.gt(x, 0), x, alpha * x)


def _row_of_vector(x: Any) -> Any:
    """Theano 1.0 gives a vector's softmax as a ``(1, n)`` row; ported code indexes it so."""
    x = _T.as_tensor_variable(x)
    return _T.shape_padleft(x) if x.ndim == 1 else x


def softmax(x: Any, axis: int = -1) -> TensorVariable:
    """``exp(x) / sum(exp(x))`` along ``axis`` (rows of a matrix by default), computed stably.
    A vector gives a ``(1, n)`` row, as in Theano 1.0."""
    return Softmax(axis)(_row_of_vector(x))


softmax_op = softmax


def log_softmax(x: Any, axis: int = -1) -> TensorVariable:
    """``log(softmax(x))`` computed without overflow or ``log(0)`` (a vector gives a row)."""
    return LogSoftmax(axis)(_row_of_vector(x))


logsoftmax = log_softmax


def ultra_fast_sigmoid(x: Any) -> TensorVariable:
    """Theano's approximate sigmoid; here the exact one."""
    return _T.sigmoid(x)


def hard_sigmoid(x: Any) -> TensorVariable:
    """``clip(0.2 x + 0.5, 0, 1)``."""
    return _T.clip(0.2 * as_tensor_variable(x) + 0.5, 0, 1)


def elu(x: Any, alpha: float = 1.0) -> TensorVariable:
    """``x if x > 0 else alpha * (exp(x) - 1)``."""
    x = as_tensor_variable(x)
    return _T.switch(_T.gt(x, 0), x, alpha * _T.expm1(x))


def binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """``-(target * log(output) + (1 - target) * log(1 - output))``, elementwise."""
    output, target = as_tensor_variable(output), as_tensor_variable(target)
    return -(target * _T.log(output) + (1 - target) * _T.log(1 - output))


def sigmoid_binary_crossentropy(logits: Any, target: Any) -> TensorVariable:
    """``binary_crossentropy(sigmoid(logits), target)``, finite for any logits."""
    logits, target = as_tensor_variable(logits), as_tensor_variable(target)
    return target * _T.softplus(-logits) + (1 - target) * _T.softplus(logits)


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> TensorVariable:
    """Per-row ``-log(coding_dist[i, true_dist[i]])`` for integer labels, or
    ``-sum(true_dist * log(coding_dist), axis=1)`` for one-hot / probability targets."""
    coding_dist, true_dist = as_tensor_variable(coding_dist), as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -_T.sum(true_dist * _T.log(coding_dist), axis=-1)
    if true_dist.ndim == coding_dist.ndim - 1 and not true_dist.dtype.startswith("float"):
        n = _T.shape(coding_dist)[0]
        return -_T.log(coding_dist[_T.arange(n), true_dist])
    raise TypeError(f"categorical_crossentropy: targets must be integer labels of ndim "
                    f"{coding_dist.ndim - 1} or a distribution of ndim {coding_dist.ndim}, got {true_dist.type}")


def crossentropy_categorical_1hot(coding_dist: Any, true_one_of_n: Any) -> TensorVariable:
    """Theano's name for the integer-label form of ``categorical_crossentropy``."""
    return categorical_crossentropy(coding_dist, true_one_of_n)


def softsign(x: Any) -> TensorVariable:
    """``x / (1 + |x|)``."""
    x = as_tensor_variable(x)
    return x / (1 + abs(x))


def selu(x: Any) -> TensorVariable:
    """Scaled ELU (Klambauer et al.): ``1.0507 * elu(x, 1.67326)``."""
    return 1.0507009873554805 * elu(x, 1.6732632423543772)


from . import abstract_conv, bn, conv  # noqa: E402
from .abstract_conv import conv2d  # noqa: E402,F401
