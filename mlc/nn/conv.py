"""Convolutional layers: ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``, ``BatchNorm``,
``Flatten``, ``GlobalAvgPool``. Images are ``(batch, channels, height, width)``;
``Sequential(input_shape=(C, H, W))`` reshapes flat rows into images, so a CNN trains on
the same data files and ``Trainer`` as a dense model.

``BatchNorm`` normalizes with the batch's statistics in training and keeps running
averages as non-trainable parameters (saved in checkpoints); their new values are the
layer's ``updates()``, which ``Trainer`` applies with the optimizer's. Evaluation
(``deterministic=True``) uses the running averages.

>>> import mlc.compiler.tensor as T
>>> from mlc.nn import Dense, Sequential
>>> cnn = Sequential([Conv2D(1, 8, 3, border_mode="half"), BatchNorm(8, activation="relu"), MaxPool2D(2),
...                   Flatten(), Dense(8 * 4 * 4, 10, "softmax")], input_shape=(1, 8, 8))
>>> p = cnn(T.matrix("x"))   # (batch, 10) from rows of 64 pixels
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..compiler import tensor as T
from ..compiler.tensor.nnet import abstract_conv, bn
from ..compiler.tensor.signal.pool import pool_2d
from . import init as initializers
from .layers import Layer, _jsonable, activation as activation_fn


def _pair(v: Any) -> list:
    return [int(v), int(v)] if isinstance(v, (int, np.integer)) else [int(x) for x in v]


class Conv2D(Layer):
    """``activation(conv2d(x, W) + b)`` with ``n_filters`` filters of ``filter_size`` over
    ``n_in`` channels (cross-correlation, as deep-learning libraries define it);
    ``border_mode``, ``stride``, ``dilation`` and ``groups`` as ``T.nnet.conv2d``'s."""

    def __init__(self, n_in: int, n_filters: int, filter_size: Any = 3, stride: Any = 1, border_mode: Any = "valid",
                 dilation: Any = 1, groups: int = 1, activation: str | None = "linear", W_init: Any = "he_uniform",
                 b_init: Any = "zeros", seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.n_in, self.n_filters, self.filter_size = int(n_in), int(n_filters), _pair(filter_size)
        self.stride, self.dilation, self.groups = _pair(stride), _pair(dilation), int(groups)
        self.border_mode = border_mode if isinstance(border_mode, str) else _pair(border_mode)
        self.activation, self.W_init, self.b_init, self.seed = activation or "linear", W_init, b_init, seed
        if self.n_in % self.groups or self.n_filters % self.groups:
            raise ValueError(f"Conv2D: {self.n_in} input channels and {self.n_filters} filters must both divide into "
                             f"{self.groups} groups")
        rng = np.random.default_rng(seed)
        shape = (self.n_filters, self.n_in // self.groups, *self.filter_size)
        self.W = self.add_param(initializers.get(W_init)(shape, rng), "W")
        self.b = self.add_param(initializers.get(b_init)((self.n_filters,), rng), "b", regularizable=False)
        self._fn = activation_fn(self.activation)

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        out = abstract_conv.conv2d(x, self.W, border_mode=self.border_mode, subsample=self.stride,
                                   filter_flip=False, filter_dilation=self.dilation, num_groups=self.groups)
        return self._fn(out + self.b.dimshuffle("x", 0, "x", "x"))

    def get_config(self) -> dict:
        return {"class": "Conv2D", "n_in": self.n_in, "n_filters": self.n_filters, "filter_size": self.filter_size,
                "stride": self.stride, "border_mode": self.border_mode, "dilation": self.dilation,
                "groups": self.groups, "activation": self.activation, "W_init": _jsonable(self.W_init),
                "b_init": _jsonable(self.b_init), "seed": self.seed, "name": self.name}


class _Pool(Layer):
    mode = "max"

    def __init__(self, pool_size: Any = 2, stride: Any = None, pad: Any = 0, ignore_border: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.pool_size, self.pad, self.ignore_border = _pair(pool_size), _pair(pad), bool(ignore_border)
        self.stride = _pair(stride) if stride is not None else None

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        return pool_2d(x, self.pool_size, self.ignore_border, self.stride, self.pad, self.mode)

    def get_config(self) -> dict:
        return {"class": type(self).__name__, "pool_size": self.pool_size, "stride": self.stride, "pad": self.pad,
                "ignore_border": self.ignore_border, "name": self.name}


class MaxPool2D(_Pool):
    """The maximum of each ``pool_size`` window (moved by ``stride``, default the window)."""


class AvgPool2D(_Pool):
    """The mean of each window (padding excluded from the count)."""

    mode = "average_exc_pad"


class BatchNorm(Layer):
    """Batch normalization over ``axes`` (``'spatial'``: per channel of images;
    ``'per-activation'``: per feature of vectors), learned scale ``gamma`` and shift
    ``beta``, then ``activation``. Running mean and variance (factor ``momentum``) are
    non-trainable parameters, updated by ``updates()`` after each training call."""

    def __init__(self, n_features: int, axes: str = "spatial", epsilon: float = 1e-4, momentum: float = 0.1,
                 activation: str | None = "linear", name: str | None = None) -> None:
        super().__init__(name)
        self.n_features, self.axes, self.epsilon, self.momentum = int(n_features), axes, float(epsilon), float(momentum)
        self.activation = activation or "linear"
        self._fn = activation_fn(self.activation)
        n = (self.n_features,)
        self.gamma = self.add_param(initializers.constant(n, value=1.0), "gamma", regularizable=False)
        self.beta = self.add_param(initializers.zeros(n), "beta", regularizable=False)
        self.mean = self.add_param(initializers.zeros(n), "mean", trainable=False, regularizable=False)
        self.var = self.add_param(initializers.constant(n, value=1.0), "var", trainable=False, regularizable=False)
        self._updates: list = []

    def _axes(self, ndim: int) -> Any:
        if self.axes == "spatial" and ndim == 2:
            return "per-activation"
        return self.axes

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        x = T.as_tensor_variable(x)
        axes = self._axes(x.ndim)
        if deterministic:
            return self._fn(bn.batch_normalization_test(x, self.gamma, self.beta, self.mean, self.var, axes,
                                                        self.epsilon))
        out, _, _, new_mean, new_var = bn.batch_normalization_train(
            x, self.gamma, self.beta, axes, self.epsilon, self.momentum, self.mean, self.var)
        self._updates = [(self.mean, new_mean), (self.var, new_var)]
        return self._fn(out)

    def updates(self) -> list:
        return list(self._updates)

    def get_config(self) -> dict:
        return {"class": "BatchNorm", "n_features": self.n_features, "axes": self.axes, "epsilon": self.epsilon,
                "momentum": self.momentum, "activation": self.activation, "name": self.name}


class Flatten(Layer):
    """``(batch, ...)`` to ``(batch, features)``."""

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        return T.flatten(x, 2)

    def get_config(self) -> dict:
        return {"class": "Flatten", "name": self.name}


class GlobalAvgPool(Layer):
    """The mean over the spatial axes: ``(batch, channels, H, W)`` to ``(batch, channels)``."""

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        return T.as_tensor_variable(x).mean(axis=[2, 3])

    def get_config(self) -> dict:
        return {"class": "GlobalAvgPool", "name": self.name}
