"""Losses, averaged over the batch by default (``reduction='mean' | 'sum' | 'none'``).

Classification losses take probabilities (the output of a softmax or sigmoid layer) or,
with ``from_logits=True``, logits. Either way they are computed from ``log_softmax`` /
``softplus`` of the logits whenever the graph shows them, so they stay finite for any
finite logits.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..compiler import tensor as T
from ..compiler.ops.elemwise import Elemwise
from ..compiler.ops.nnet import Softmax

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
    if reduction == "none":
        return loss
    return T.mean(loss) if reduction == "mean" else T.sum(loss)


def _logits_behind(predictions: Any, kind: str) -> Any:
    """The logits ``z`` when ``predictions`` is ``softmax(z)`` (or ``sigmoid(z)``), else None."""
    node = getattr(predictions, "owner", None)
    if node is None:
        return None
    if kind == "softmax" and isinstance(node.op, Softmax) and node.op.axis == predictions.ndim - 1:
        return node.inputs[0]
    if kind == "sigmoid" and isinstance(node.op, Elemwise) and node.op.scalar_op.name == "sigmoid":
        return node.inputs[0]
    return None


def log_probabilities(predictions: Any, from_logits: bool = False) -> Any:
    """``log(softmax)`` of the logits behind ``predictions`` (stable), or ``log(predictions)``."""
    predictions = T.as_tensor_variable(predictions)
    logits = predictions if from_logits else _logits_behind(predictions, "softmax")
    return T.nnet.log_softmax(logits) if logits is not None else T.log(predictions)


def categorical_crossentropy(predictions: Any, targets: Any, reduction: str = "mean",
                             from_logits: bool = False) -> Any:
    """``-log p[target]`` for integer labels, or ``-sum(targets * log p)`` for one-hot/soft targets."""
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    log_p = log_probabilities(predictions, from_logits)
    if targets.ndim == predictions.ndim - 1:
        if targets.dtype.startswith("float"):
            raise TypeError(f"categorical_crossentropy: integer labels expected, got dtype {targets.dtype}")
        loss = -log_p[T.arange(targets.shape[0]), targets]
    elif targets.ndim == predictions.ndim:
        loss = -T.sum(targets * log_p, axis=-1)
    else:
        raise TypeError(f"categorical_crossentropy: targets of ndim {targets.ndim} do not fit predictions of "
                        f"ndim {predictions.ndim} (labels: ndim {predictions.ndim - 1}; one-hot: {predictions.ndim})")
    return _reduce(loss, reduction)


def negative_log_likelihood(predictions: Any, labels: Any, reduction: str = "mean", from_logits: bool = False) -> Any:
    """``categorical_crossentropy`` on integer labels (the Theano tutorial's NLL)."""
    return categorical_crossentropy(predictions, labels, reduction, from_logits)


def binary_crossentropy(predictions: Any, targets: Any, reduction: str = "mean", from_logits: bool = False) -> Any:
    """``-(t log p + (1 - t) log(1 - p))``; from the logits (via softplus) when available."""
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    logits = predictions if from_logits else _logits_behind(predictions, "sigmoid")
    if logits is not None:
        loss = targets * T.nnet.softplus(-logits) + (1 - targets) * T.nnet.softplus(logits)
    else:
        loss = -(targets * T.log(predictions) + (1 - targets) * T.log(1 - predictions))
    return _reduce(loss, reduction)


def squared_error(predictions: Any, targets: Any, reduction: str = "mean") -> Any:
    """``(predictions - targets) ** 2``, elementwise."""
    d = T.as_tensor_variable(predictions) - targets
    return _reduce(d * d, reduction)


def hinge(predictions: Any, targets: Any, reduction: str = "mean") -> Any:
    """Binary hinge ``max(0, 1 - t * y)`` with targets in {-1, 1}."""
    return _reduce(T.maximum(0, 1 - T.as_tensor_variable(targets) * predictions), reduction)


def multiclass_hinge(predictions: Any, targets: Any, delta: float = 1.0, reduction: str = "mean") -> Any:
    """``max(0, max_{j != y} p_j - p_y + delta)`` for integer labels ``y``."""
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    n = targets.shape[0]
    correct = predictions[T.arange(n), targets]
    is_target = T.eq(T.arange(predictions.shape[1]).dimshuffle("x", 0), targets.dimshuffle(0, "x"))
    rest = T.max(T.switch(is_target, -np.inf, predictions), axis=1)
    return _reduce(T.maximum(0, rest - correct + delta), reduction)


def huber(predictions: Any, targets: Any, delta: float = 1.0, reduction: str = "mean") -> Any:
    """Squared error below ``delta``, linear above: ``0.5 d²`` or ``delta (|d| - delta/2)``."""
    d = abs(T.as_tensor_variable(predictions) - targets)
    loss = T.switch(T.le(d, delta), 0.5 * d * d, delta * (d - 0.5 * delta))
    return _reduce(loss, reduction)


LOSSES = {f.__name__: f for f in (categorical_crossentropy, negative_log_likelihood, binary_crossentropy,
                                  squared_error, hinge, multiclass_hinge, huber)}


def get(name: str) -> Any:
    """A loss function by name."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")
    return LOSSES[name]
