"""``MRG_RandomStreams``: L'Ecuyer's MRG31k3p combined multiple-recursive generator, as
Theano programs use it for dropout and noise.

The state of a draw is an int32 matrix of ``nstreams`` rows of 6 values (two 3-term
recurrences); it is a shared variable advanced by the draw's ``default_update``, so runs are
reproducible from the seed, checkpoints hold it, and it works inside ``scan``. The rows are
substreams 2**72 steps apart (jumps by matrix powers), so the samples of one draw come from
independent streams. Sample ``i`` is the ``i // nstreams``-th value of stream
``i % nstreams``.

>>> srng = MRG_RandomStreams(seed=234)
>>> mask = srng.binomial(size=(3, 4), p=0.5, dtype="float32")
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from ..graph import Apply, Op
from ..sharedvalue import SharedVariable, shared
from ..types import TensorType, resolve_dtype

M1, M2 = 2 ** 31 - 1, 2 ** 31 - 21069
# One step of each recurrence on (x[n-3], x[n-2], x[n-1]):
#   x1[n] = (2**22 x1[n-2] + (2**7 + 1) x1[n-3]) mod M1,  x2[n] = (2**15 x2[n-1] + (2**15 + 1) x2[n-3]) mod M2
A1 = ((0, 1, 0), (0, 0, 1), (129, 4194304, 0))
A2 = ((0, 1, 0), (0, 0, 1), (32769, 0, 32768))
DEFAULT_STREAMS = 4096


def _matmul(a: tuple, b: tuple, m: int) -> tuple:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) % m for j in range(3)) for i in range(3))


def _power_of_two(a: tuple, e: int, m: int) -> tuple:
    for _ in range(e):
        a = _matmul(a, a, m)
    return a


JUMP1, JUMP2 = _power_of_two(A1, 72, M1), _power_of_two(A2, 72, M2)


def jump(state: tuple) -> tuple:
    """The state 2**72 steps further (the next substream)."""
    x1, x2 = state[:3], state[3:]
    return tuple(sum(JUMP1[i][k] * x1[k] for k in range(3)) % M1 for i in range(3)) + tuple(
        sum(JUMP2[i][k] * x2[k] for k in range(3)) % M2 for i in range(3))


def substreams(state: tuple, n: int) -> tuple[np.ndarray, tuple]:
    """``n`` consecutive substreams starting at ``state``, and the state after them."""
    rows = []
    for _ in range(n):
        rows.append(state)
        state = jump(state)
    return np.array(rows, dtype=np.int32), state


def uniforms(states: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` uniforms in (0, 1) (float64) from the streams, and the advanced states."""
    s = states.astype(np.int64)
    a0, a1, a2, b0, b1, b2 = (s[:, k] for k in range(6))
    steps = -(-count // len(s)) if count else 0
    out = np.empty((steps, len(s)), np.float64)
    for t in range(steps):
        x1 = (4194304 * a1 + 129 * a0) % M1
        x2 = (32768 * b2 + 32769 * b0) % M2
        a0, a1, a2, b0, b1, b2 = a1, a2, x1, b1, b2, x2
        z = x1 - x2
        out[t] = np.where(z <= 0, z + M1, z) * (1.0 / (M1 + 1))
    new = np.stack([a0, a1, a2, b0, b1, b2], axis=1).astype(np.int32)
    return out.reshape(-1)[:count], new


def _standard_normals(states: np.ndarray, count: int, truncate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Box-Muller normals; with ``truncate``, values beyond 2 standard deviations are drawn again."""
    result = np.empty(count)
    todo = np.arange(count)
    while todo.size:
        pairs = -(-todo.size // 2)
        u, states = uniforms(states, 2 * pairs)
        r = np.sqrt(-2.0 * np.log(u[:pairs]))
        z = np.concatenate([r * np.cos(2 * np.pi * u[pairs:]), r * np.sin(2 * np.pi * u[pairs:])])[:todo.size]
        keep = np.abs(z) <= 2 if truncate else np.ones(z.size, bool)
        result[todo[keep]] = z[keep]
        todo = todo[~keep]
    return result, states


class MRGSample(Op):
    """``(state, size, *params) → (new state, sample)``: ``uniform`` and ``normal`` (standard,
    ``truncate`` at 2 std), ``multinomial`` (one-hot counts of ``n`` draws per row of
    ``pvals``) and ``choice`` (``n`` indices per row of ``pvals``, without replacement)."""

    __props__ = ("dist", "dtype", "ndim")

    def __init__(self, dist: str, dtype: str, ndim: int) -> None:
        self.dist, self.dtype, self.ndim = dist, dtype, ndim

    def make_node(self, state: Any, size: Any, *params: Any) -> Apply:
        from ..tensor.basic import as_tensor_variable
        params = [as_tensor_variable(p) for p in params]
        return Apply(self, [state, as_tensor_variable(size), *params],
                     [state.type(), TensorType(self.dtype, (False,) * self.ndim)()])

    def perform(self, node, inputs, output_storage):
        states, size, *params = inputs
        shape = tuple(int(s) for s in size)
        count = int(np.prod(shape))
        if self.dist == "uniform":
            values, states = uniforms(states, count)
            if self.dtype == "float32":  # rounding must not reach 1
                values = np.minimum(values.astype(np.float32), np.float32(1 - 2 ** -24))
        elif self.dist in ("normal", "truncated_normal"):
            values, states = _standard_normals(states, count, self.dist == "truncated_normal")
        else:
            values, states = self._discrete(states, *params)
            shape = values.shape
        output_storage[0][0] = states
        output_storage[1][0] = np.asarray(values, dtype=self.dtype).reshape(shape)

    def _discrete(self, states: np.ndarray, n: Any, pvals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, (rows, k) = int(n), pvals.shape
        u, states = uniforms(states, rows * n)
        u = u.reshape(n, rows).T
        if self.dist == "multinomial":
            cumulative = np.cumsum(pvals, axis=1)
            picks = (u[:, :, None] > cumulative[:, None, :]).sum(axis=2).clip(max=k - 1)
            counts = np.zeros((rows, k), np.int64)
            for j in range(n):
                counts[np.arange(rows), picks[:, j]] += 1
            return counts, states
        if n > k:
            raise ValueError(f"choice: {n} draws without replacement from {k} categories")
        remaining, chosen = pvals.astype(np.float64).copy(), np.empty((rows, n), np.int64)
        for j in range(n):  # draw, remove the category, renormalize
            cumulative = np.cumsum(remaining, axis=1)
            target = u[:, j] * cumulative[:, -1]
            chosen[:, j] = (target[:, None] > cumulative).sum(axis=1).clip(max=k - 1)
            remaining[np.arange(rows), chosen[:, j]] = 0
        return chosen, states

    def infer_shape(self, node, input_shapes):
        if self.dist in ("multinomial", "choice"):
            raise NotImplementedError("the shape comes from pvals")
        size = node.inputs[1]
        return [input_shapes[0], tuple(size[i] for i in range(self.ndim))]

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)


class MRG_RandomStreams:  # noqa: N801  (Theano's name)
    """Theano's MRG random streams. Each draw owns a shared state (``nstreams × 6`` int32),
    advanced by its ``default_update``; ``seed(s)`` resets them all."""

    def __init__(self, seed: int | tuple = 12345) -> None:
        self.state_updates: list[tuple[SharedVariable, Any]] = []
        self.set_rstate(seed)
        self.default_instance_seed = seed

    def set_rstate(self, seed: int | tuple) -> None:
        """The base state from a seed: an int in ``[1, 2**31 - 21070)``, or six ints."""
        if isinstance(seed, (int, np.integer)):
            if not 0 < int(seed) < M2:
                raise ValueError(f"MRG_RandomStreams: the seed must be in [1, {M2 - 1}], got {seed}")
            self.rstate = (int(seed),) * 6
        else:
            values = tuple(int(v) for v in seed)
            if len(values) != 6 or not all(0 <= v < M1 for v in values[:3]) or not all(0 <= v < M2 for v in values[3:]):
                raise ValueError(f"MRG_RandomStreams: a state is six ints below (2**31-1)×3, (2**31-21069)×3; "
                                 f"got {seed!r}")
            self.rstate = values

    def seed(self, seed: int | None = None) -> None:
        """Re-seed every draw's state deterministically from ``seed``."""
        self.set_rstate(self.default_instance_seed if seed is None else seed)
        for state, _ in self.state_updates:
            fresh, self.rstate = substreams(self.rstate, len(state.get_value(borrow=True)))
            state.set_value(fresh, borrow=True)

    def _draw(self, dist: str, size: Any, params: list, dtype: str, ndim: int | None, nstreams: int | None) -> Any:
        from ..tensor.shape import make_vector, shape_list, vector_length
        from ..tensor.variable import TensorVariable
        if size is None:
            raise ValueError(f"MRG_RandomStreams.{dist}: give size=")
        if isinstance(size, TensorVariable) and size.ndim == 1:
            size_var, ndim = size, vector_length(size)
            items = None
        else:
            items = shape_list(size)
            size_var, ndim = make_vector(items), len(items)
        known = [int(i) for i in items] if items is not None and all(isinstance(i, (int, np.integer)) for i in items) else None
        nstreams = nstreams or (max(1, min(int(np.prod(known)), DEFAULT_STREAMS)) if known is not None else DEFAULT_STREAMS)
        rows, self.rstate = substreams(self.rstate, nstreams)
        state = shared(rows, borrow=True)
        new_state, sample = MRGSample(dist, dtype, ndim)(state, size_var, *params)
        state.default_update = new_state
        self.state_updates.append((state, new_state))
        sample.rstate, sample.update = state, (state, new_state)
        return sample

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None, nstreams: int | None = None) -> Any:
        """Uniform samples in ``(low, high)``."""
        dtype = resolve_dtype(dtype or config.floatX)
        u = self._draw("uniform", size, [], dtype, ndim, nstreams)
        return u if _is_value(low, 0) and _is_value(high, 1) else _affine(u, low, high - low, dtype)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None, nstreams: int | None = None, truncate: bool = False) -> Any:
        """Normal samples (``truncate``: within 2 standard deviations of the mean)."""
        dtype = resolve_dtype(dtype or config.floatX)
        z = self._draw("truncated_normal" if truncate else "normal", size, [], dtype, ndim, nstreams)
        return _affine(z, avg, std, dtype)

    def truncated_normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
                         dtype: Any = None, nstreams: int | None = None) -> Any:
        """Normal samples redrawn until within 2 standard deviations of the mean."""
        return self.normal(size, avg, std, ndim, dtype, nstreams, truncate=True)

    def binomial(self, size: Any = None, n: int = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64", nstreams: int | None = None) -> Any:
        """Counts of ``n`` trials with success probability ``p`` (``n=1``: dropout masks)."""
        from ..tensor import basic as T
        total = None
        for _ in range(int(n)):
            hit = T.cast(T.lt(self.uniform(size, ndim=ndim, dtype="float64", nstreams=nstreams), p), dtype)
            total = hit if total is None else total + hit
        return total

    def multinomial(self, size: Any = None, n: int = 1, pvals: Any = None, ndim: int | None = None,
                    dtype: Any = "int64", nstreams: int | None = None) -> Any:
        """For each row of ``pvals``, the counts of ``n`` draws over its categories (one-hot for n=1)."""
        return self._discrete("multinomial", n, pvals, dtype, nstreams)

    def choice(self, size: int = 1, a: Any = None, replace: bool = False, p: Any = None, ndim: int | None = None,
               dtype: Any = "int64", nstreams: int | None = None) -> Any:
        """For each row of ``p``, ``size`` category indices drawn without replacement."""
        if replace:
            raise ValueError("MRG_RandomStreams.choice draws without replacement (replace=False), as Theano's")
        if a is not None:
            raise ValueError("MRG_RandomStreams.choice takes the probabilities p (one row per draw), not a")
        return self._discrete("choice", size, p, dtype, nstreams)

    multinomial_wo_replacement = choice

    def _discrete(self, dist: str, n: Any, pvals: Any, dtype: Any, nstreams: int | None) -> Any:
        from ..tensor import basic as T
        if pvals is None:
            raise ValueError(f"MRG_RandomStreams.{dist}: give pvals (one row of probabilities per draw)")
        pvals = T.as_tensor_variable(pvals)
        if pvals.ndim != 2:
            raise TypeError(f"MRG_RandomStreams.{dist}: pvals must be a matrix (rows of probabilities), "
                            f"got {pvals.ndim}-d")
        return self._draw(dist, [T.shape(pvals)[0], n], [int(n), pvals], resolve_dtype(dtype), 2, nstreams)


def _is_value(x: Any, value: float) -> bool:
    return isinstance(x, (int, float)) and x == value


def _affine(z: Any, shift: Any, scale: Any, dtype: str) -> Any:
    from ..tensor import basic as T
    out = z * scale + shift if not _is_value(scale, 1) or not _is_value(shift, 0) else z
    return T.cast(out, dtype) if out.dtype != dtype else out


__all__ = ["MRG_RandomStreams", "MRGSample"]
