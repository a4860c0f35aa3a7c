"""Symbolic metrics, compiled into the evaluation function.

``predictions`` may be class scores/probabilities (one more dim than the labels) or
predicted labels (same ndim).
"""
from __future__ import annotations

from typing import Any

from ..compiler import tensor as T


def _labels(predictions: Any, targets: Any) -> Any:
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    if predictions.ndim == targets.ndim + 1:
        return T.argmax(predictions, axis=-1)
    if predictions.ndim == targets.ndim:
        return predictions
    raise TypeError(f"metrics: predictions of ndim {predictions.ndim} do not fit targets of ndim {targets.ndim}")


def accuracy(predictions: Any, targets: Any) -> Any:
    """Fraction of correct predictions."""
    return T.mean(T.eq(_labels(predictions, targets), targets))


def error_rate(predictions: Any, targets: Any) -> Any:
    """Fraction of wrong predictions (the Theano tutorial's ``errors``)."""
    return T.mean(T.neq(_labels(predictions, targets), targets))


def top_k_accuracy(predictions: Any, targets: Any, k: int = 5) -> Any:
    """Fraction of examples whose label is among the ``k`` highest scores."""
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    score = predictions[T.arange(targets.shape[0]), targets]
    rank = T.sum(T.gt(predictions, score.dimshuffle(0, "x")), axis=1)
    return T.mean(T.lt(rank, k))


def confusion_matrix(predictions: Any, targets: Any, n_classes: int) -> Any:
    """``C[i, j]``: how many examples of class ``i`` were predicted as ``j`` (int64)."""
    predicted = _labels(predictions, targets)
    classes = T.arange(n_classes).dimshuffle("x", 0)
    true_1hot = T.cast(T.eq(T.as_tensor_variable(targets).dimshuffle(0, "x"), classes), "int64")
    pred_1hot = T.cast(T.eq(predicted.dimshuffle(0, "x"), classes), "int64")
    return T.dot(true_1hot.T, pred_1hot)


METRICS = {"accuracy": accuracy, "error_rate": error_rate, "top_k_accuracy": top_k_accuracy}


def get(name: str) -> Any:
    """A scalar metric by name."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid: {', '.join(METRICS)}")
    return METRICS[name]
