"""``RandomStreams``: seeded random numbers whose state advances through function updates.

>>> srng = RandomStreams(seed=234)
>>> mask = srng.binomial(size=(3,), p=0.5)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..ops.random import RandomVariable
from ..sharedvalue import SharedVariable, shared
from ..types import resolve_dtype
from .shape import make_vector, shape_list, vector_length
from .variable import TensorVariable, as_tensor_variable


class RandomStreams:
    """A source of random tensors. Each draw owns a shared generator whose ``default_update``
    advances it each time a function that uses the draw runs; ``seed(s)`` resets them all."""

    def __init__(self, seed: int | None = None) -> None:
        self.base_seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2 ** 31)
        self.state_updates: list[tuple[SharedVariable, Any]] = []
        self._seeder = np.random.SeedSequence(self.base_seed)

    def seed(self, seed: int | None = None) -> None:
        """Re-seed every generator of this stream deterministically from ``seed``."""
        self.base_seed = self.base_seed if seed is None else seed
        self._seeder = np.random.SeedSequence(self.base_seed)
        for rng_var, _ in self.state_updates:
            rng_var.set_value(np.random.default_rng(self._seeder.spawn(1)[0]), borrow=True)

    def _draw(self, dist: str, size: Any, params: list, dtype: Any, ndim: int | None) -> TensorVariable:
        params = [as_tensor_variable(p) for p in params]
        if size is None:
            ndim = max(p.ndim for p in params) if ndim is None else ndim
            if ndim:
                raise ValueError(f"{dist}: give size= for a {ndim}-d sample")
            size_var = make_vector([])
        elif isinstance(size, TensorVariable) and size.ndim == 1:
            size_var, ndim = size, vector_length(size)
        else:
            items = shape_list(size)
            size_var, ndim = make_vector(items), len(items)
        rng = shared(np.random.default_rng(self._seeder.spawn(1)[0]), borrow=True)
        extra = 1 if dist in ("permutation", "multinomial") else 0
        new_rng, sample = RandomVariable(dist, resolve_dtype(dtype), ndim + extra)(rng, size_var, *params)
        rng.default_update = new_rng
        self.state_updates.append((rng, new_rng))
        sample.rng, sample.update = rng, (rng, new_rng)  # Theano's attributes of a random variable
        return sample

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None) -> TensorVariable:
        """Uniform samples in ``[low, high)`` (``dtype=None``: floatX)."""
        return self._draw("uniform", size, [low, high], dtype or config.floatX, ndim)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None) -> TensorVariable:
        """Normal samples with mean ``avg`` and standard deviation ``std``."""
        return self._draw("normal", size, [avg, std], dtype or config.floatX, ndim)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64") -> TensorVariable:
        """Binomial counts of ``n`` trials with success probability ``p`` (dropout masks)."""
        return self._draw("binomial", size, [n, p], dtype, ndim)

    def random_integers(self, size: Any = None, low: Any = 0, high: Any = 1, ndim: int | None = None,
                        dtype: Any = "int64") -> TensorVariable:
        """Integers drawn uniformly from ``[low, high]`` (both ends included)."""
        return self._draw("random_integers", size, [low, high], dtype, ndim)


    def choice(self, size: Any = None, a: Any = 2, replace: bool = True, p: Any = None, ndim: int | None = None,
               dtype: Any = "int64") -> TensorVariable:
        """Samples of ``a`` (an int: ``range(a)``; or a vector), with or without replacement,
        with probabilities ``p`` (uniform if None)."""
        p = np.zeros(0) if p is None else p
        return self._draw("choice", size, [a, int(bool(replace)), p], dtype, ndim if size is None else None)

    def permutation(self, size: Any = None, n: Any = 1, ndim: int | None = None, dtype: Any = "int64") -> TensorVariable:
        """A permutation of ``range(n)`` for each entry of ``size`` (``size=()``: one)."""
        return self._draw("permutation", () if size is None else size, [n], dtype, None)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5), ndim: int | None = None,
                    dtype: Any = "int64") -> TensorVariable:
        """Counts of ``n`` draws over the categories of ``pvals``, for each entry of ``size``."""
        return self._draw("multinomial", () if size is None else size, [n, pvals], dtype, None)


__all__ = ["RandomStreams"]
