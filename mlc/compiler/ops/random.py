"""Random sampling. A ``RandomVariable`` node takes a generator and returns a new
generator with the sample: the graph stays functional and the shared generator advances
only through the function's updates, so runs are reproducible from a seed."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import RandomStateType, TensorType


def _T():
    from ..tensor import basic
    return basic


def _uniform(rng, size, low, high):
    return rng.uniform(low, high, size)


def _normal(rng, size, avg, std):
    return rng.normal(avg, std, size)


def _binomial(rng, size, n, p):
    if np.ndim(n) == 0 and n == 1 and np.all((np.asarray(p) >= 0) & (np.asarray(p) <= 1)):
        # One trial (a dropout mask): a uniform below p is the same distribution, drawn
        # six times faster than NumPy's binomial draws it.
        return rng.random(size if size is not None else np.shape(p)) < p
    return rng.binomial(n, p, size)


def _integers(rng, size, low, high):
    return rng.integers(low, high, size, endpoint=True)


def _choice(rng, size, a, replace, p):
    return rng.choice(a if np.ndim(a) else int(a), size, bool(replace), p if np.size(p) else None)


def _permutation(rng, size, n):
    return np.array([rng.permutation(int(n)) for _ in range(int(np.prod(size or ())))]).reshape(
        tuple(size or ()) + (int(n),))


def _multinomial(rng, size, n, pvals):
    return rng.multinomial(n, pvals, size)


DISTRIBUTIONS = {"uniform": _uniform, "normal": _normal, "binomial": _binomial,
                 "random_integers": _integers, "choice": _choice, "permutation": _permutation,
                 "multinomial": _multinomial}
EXTRA_AXIS = ("permutation", "multinomial")  # the sample has one more axis than size


class RandomVariable(Op):
    """Draw from ``dist`` with parameters broadcast to ``size``; outputs (new rng, sample)."""

    __props__ = ("dist", "dtype", "ndim")

    def __init__(self, dist: str, dtype: str, ndim: int) -> None:
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {dist!r}; valid: {', '.join(DISTRIBUTIONS)}")
        self.dist, self.dtype, self.ndim = dist, dtype, ndim

    def __str__(self) -> str:
        return f"RandomVariable{{{self.dist}, {self.dtype}}}"

    def make_node(self, rng: Any, size: Any, *params: Any) -> Apply:
        T = _T()
        params = [T.as_tensor_variable(p) for p in params]
        if not isinstance(rng.type, RandomStateType):
            raise TypeError(f"{self}: the first input must be a random generator, got {rng.type}")
        size = T.as_tensor_variable(size)
        if size.ndim != 1:
            raise TypeError(f"{self}: size must be an integer vector")
        return Apply(self, [rng, size, *params],
                     [RandomStateType()(), TensorType(self.dtype, (False,) * self.ndim)()])

    def perform(self, node, inputs, output_storage):
        rng, size, *params = inputs
        new_rng = copy.deepcopy(rng)
        shape = tuple(int(s) for s in size) if size.size or self.ndim == 0 or self.dist in EXTRA_AXIS else None
        sample = np.asarray(DISTRIBUTIONS[self.dist](new_rng, shape, *params), dtype=self.dtype)
        output_storage[0][0] = new_rng
        output_storage[1][0] = sample if self.dist in EXTRA_AXIS else sample.reshape(shape if shape is not None else ())

    def infer_shape(self, node, input_shapes):
        if self.dist in EXTRA_AXIS:
            raise NotImplementedError("the last axis comes from the parameters")
        return [None, tuple(node.inputs[1][i] for i in range(self.ndim))]

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)
