"""Weight initializers. Each takes a shape and a seeded ``numpy.random.Generator`` and
returns an array of ``config.floatX`` (or ``dtype``).

>>> import numpy as np
>>> W = glorot_uniform((64, 100), np.random.default_rng(0))
>>> float(abs(W).max()) <= np.sqrt(6 / 164)
True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..compiler.config import config


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"this initializer needs a shape of at least 2 dims (fan in, fan out), got {tuple(shape)}")
    if len(shape) == 2:  # a dense layer's (inputs, outputs)
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))  # convolution filters: (outputs, inputs, *kernel)
    return shape[1] * receptive, shape[0] * receptive


def _cast(values: np.ndarray, dtype: Any) -> np.ndarray:
    return np.asarray(values, dtype=dtype or config.floatX)


def glorot_uniform(shape: Sequence[int], rng: Any = None, gain: float = 1.0, dtype: Any = None) -> np.ndarray:
    """Uniform in ±gain·sqrt(6 / (fan_in + fan_out)); the Theano MLP tutorial uses gain 4 for sigmoid."""
    fan_in, fan_out = _fans(shape)
    limit = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return _cast(_rng(rng).uniform(-limit, limit, shape), dtype)


def glorot_normal(shape: Sequence[int], rng: Any = None, gain: float = 1.0, dtype: Any = None) -> np.ndarray:
    """Normal with std gain·sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return _cast(_rng(rng).normal(0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), shape), dtype)


def he_uniform(shape: Sequence[int], rng: Any = None, gain: float = 1.0, dtype: Any = None) -> np.ndarray:
    """Uniform in ±gain·sqrt(6 / fan_in) (for ReLU layers)."""
    fan_in, _ = _fans(shape)
    limit = gain * np.sqrt(6.0 / fan_in)
    return _cast(_rng(rng).uniform(-limit, limit, shape), dtype)


def he_normal(shape: Sequence[int], rng: Any = None, gain: float = 1.0, dtype: Any = None) -> np.ndarray:
    """Normal with std gain·sqrt(2 / fan_in) (for ReLU layers)."""
    fan_in, _ = _fans(shape)
    return _cast(_rng(rng).normal(0.0, gain * np.sqrt(2.0 / fan_in), shape), dtype)


def zeros(shape: Sequence[int], rng: Any = None, dtype: Any = None) -> np.ndarray:
    """All zeros."""
    return np.zeros(shape, dtype=dtype or config.floatX)


def constant(shape: Sequence[int], rng: Any = None, value: float = 0.0, dtype: Any = None) -> np.ndarray:
    """All ``value``."""
    return np.full(shape, value, dtype=dtype or config.floatX)


def normal(shape: Sequence[int], rng: Any = None, std: float = 0.01, mean: float = 0.0,
           dtype: Any = None) -> np.ndarray:
    """Normal with the given ``mean`` and ``std``."""
    return _cast(_rng(rng).normal(mean, std, shape), dtype)


def uniform(shape: Sequence[int], rng: Any = None, low: float = -0.01, high: float = 0.01,
            dtype: Any = None) -> np.ndarray:
    """Uniform in ``[low, high)``."""
    return _cast(_rng(rng).uniform(low, high, shape), dtype)


def orthogonal(shape: Sequence[int], rng: Any = None, gain: float = 1.0, dtype: Any = None) -> np.ndarray:
    """A matrix with orthonormal rows or columns (Saxe et al.), for recurrent weights."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    q, r = np.linalg.qr(_rng(rng).normal(size=(max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))  # a uniform draw over orthogonal matrices
    return _cast(gain * (q if rows >= cols else q.T).reshape(shape), dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, zeros, constant, normal, uniform,
                            orthogonal)}


def get(spec: Any) -> Callable[..., np.ndarray]:
    """An initializer from a name (``'he_normal'``), a ``{'name': ..., **kwargs}`` dict or a callable."""
    if callable(spec):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        fn = get(name)
        return lambda shape, rng=None, **kw: fn(shape, rng, **{**spec, **kw})
    if spec not in INITIALIZERS:
        raise ValueError(f"unknown initializer {spec!r}; valid: {', '.join(INITIALIZERS)}")
    return INITIALIZERS[spec]
