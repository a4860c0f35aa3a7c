"""Batch normalization as Theano's ``T.nnet.bn``: ``batch_normalization_train`` (batch
statistics, and running averages to store as shared-variable updates),
``batch_normalization_test`` (given statistics) and the plain ``batch_normalization``.
Training uses the ``BatchNormTrain`` op (two-pass statistics, C kernels on the CPU) and its
gradient op; the test-time forms are elementwise, fused by the compiler."""
from __future__ import annotations

from typing import Any

from ...ops.bn import BatchNormTrain
from .. import basic as T
from ..variable import TensorVariable, as_tensor_variable
from ...choices import check_choice


def _axes(axes: Any, ndim: int) -> tuple:
    if axes == "per-activation":
        return (0,)
    if axes == "spatial":
        return (0,) + tuple(range(2, ndim))
    axes = tuple(int(a) for a in axes)
    if not axes or any(a < 0 or a >= ndim for a in axes):
        raise ValueError(f"batch normalization: axes {axes} do not fit a {ndim}-d input")
    return axes


def _like_params(v: Any, ndim: int, axes: tuple, what: str) -> TensorVariable:
    """``v`` with the input's number of dimensions, broadcastable over ``axes`` (Theano's
    params are shaped so; a vector over the kept axis is accepted and expanded)."""
    v = as_tensor_variable(v)
    if v.ndim == ndim:
        return v
    kept = [d for d in range(ndim) if d not in axes]
    if v.ndim != len(kept):
        raise ValueError(f"batch normalization: {what} is {v.ndim}-d; expected {ndim}-d (1 on the normalized axes) "
                         f"or {len(kept)}-d over the other axes")
    pattern, k = [], 0
    for d in range(ndim):
        if d in axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return v.dimshuffle(*pattern)


def _like_running(stat: TensorVariable, running: Any, axes: tuple) -> TensorVariable:
    """A batch statistic (kept dims) shaped like the running average it updates."""
    if running.ndim == stat.ndim:
        return stat
    return stat.dimshuffle(*[d for d in range(stat.ndim) if d not in axes])


def batch_normalization_train(inputs: Any, gamma: Any, beta: Any, axes: Any = "per-activation",
                              epsilon: float = 1e-4, running_average_factor: float = 0.1, running_mean: Any = None,
                              running_var: Any = None) -> tuple:
    """Normalize ``inputs`` with the batch's mean and variance over ``axes``
    (``'per-activation'``: the batch axis; ``'spatial'``: batch and spatial axes, per channel;
    or a tuple), then scale by ``gamma`` and shift by ``beta``. Returns ``(out, mean, invstd)``,
    and with ``running_mean``/``running_var`` given also their new values
    (``(1 - f) * running + f * batch``, the variance unbiased), to pass as updates."""
    x = as_tensor_variable(inputs)
    ax = _axes(axes, x.ndim)
    gamma, beta = _like_params(gamma, x.ndim, ax, "gamma"), _like_params(beta, x.ndim, ax, "beta")
    out, mean, invstd = BatchNormTrain(ax, epsilon)(x, gamma, beta)
    var = T.inv(T.sqr(invstd)) - epsilon
    if running_mean is None and running_var is None:
        return out, mean, invstd
    results = [out, mean, invstd]
    f = running_average_factor
    if running_mean is not None:
        results.append(running_mean * (1 - f) + _like_running(mean, running_mean, ax) * f)
    if running_var is not None:
        count = T.cast(T.prod(T.stack([T.shape(x)[a] for a in ax])), x.dtype)
        unbiased = var * count / T.maximum(count - 1, 1)
        results.append(running_var * (1 - f) + _like_running(unbiased, running_var, ax) * f)
    return tuple(results)


def batch_normalization_test(inputs: Any, gamma: Any, beta: Any, mean: Any, var: Any, axes: Any = "per-activation",
                             epsilon: float = 1e-4) -> TensorVariable:
    """Normalize ``inputs`` with given statistics (the running averages at evaluation)."""
    x = as_tensor_variable(inputs)
    ax = _axes(axes, x.ndim)
    g, b = _like_params(gamma, x.ndim, ax, "gamma"), _like_params(beta, x.ndim, ax, "beta")
    m, v = _like_params(mean, x.ndim, ax, "mean"), _like_params(var, x.ndim, ax, "var")
    return (x - m) * (g / T.sqrt(v + epsilon)) + b


def batch_normalization(inputs: Any, gamma: Any, beta: Any, mean: Any, std: Any, mode: str = "low_mem") -> TensorVariable:
    """``(inputs - mean) * (gamma / std) + beta``, elementwise with broadcasting (Theano's
    original form; ``mode`` is accepted)."""
    check_choice("batch_normalization: mode", mode, ("low_mem", "high_mem"))
    return (as_tensor_variable(inputs) - mean) * (gamma / std) + beta


__all__ = ["batch_normalization_train", "batch_normalization_test", "batch_normalization"]
