"""Recurrent layers on ``scan``: ``SimpleRNN`` (Elman), ``LSTM``, ``GRU``, and
``RecurrentClassifier`` (a stack of them with a softmax head, trainable from a TOML config).

Inputs are ``(batch, time, features)``. The input projections of all steps are one product
before the loop; the loop body holds only the recurrent product and the gate arithmetic,
which the compiler fuses into C kernels.

>>> import mlc.compiler.tensor as T
>>> lstm = LSTM(n_in=8, n_hidden=16, seed=0)
>>> h = lstm(T.tensor3("x"))          # (batch, 16): the last step's state
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..compiler import scan
from ..compiler import tensor as T
from . import init as initializers
from .layers import Layer, LogisticRegression, Sequential, _jsonable


class Recurrent(Layer):
    """A cell stepped over the time axis. ``gates`` blocks of ``n_hidden`` columns in ``W``
    (input → gates), ``U`` (state → gates) and ``b``. ``return_sequences``: every step's
    state ``(batch, time, n_hidden)`` instead of the last one's."""

    gates = 1

    def __init__(self, n_in: int, n_hidden: int, return_sequences: bool = False, W_init: Any = "glorot_uniform",
                 U_init: Any = "orthogonal", seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.n_in, self.n_hidden, self.return_sequences = int(n_in), int(n_hidden), bool(return_sequences)
        self.W_init, self.U_init, self.seed = W_init, U_init, seed
        rng = np.random.default_rng(seed)
        n, g = self.n_hidden, self.gates
        self.W = self.add_param(np.concatenate([initializers.get(W_init)((self.n_in, n), rng) for _ in range(g)], 1), "W")
        self.U = self.add_param(np.concatenate([initializers.get(U_init)((n, n), rng) for _ in range(g)], 1), "U")
        self.b = self.add_param(self.initial_bias(), "b", regularizable=False)

    def initial_bias(self) -> np.ndarray:
        return initializers.zeros((self.gates * self.n_hidden,))

    def initial_states(self, batch: Any, dtype: str) -> list:
        return [T.zeros((batch, self.n_hidden), dtype=dtype)]

    def step(self, projected: Any, *states_and_U: Any) -> Any:
        raise NotImplementedError

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        x = T.as_tensor_variable(x)
        if x.ndim != 3:
            raise TypeError(f"{type(self).__name__}: input must be (batch, time, features), got a {x.ndim}-d tensor")
        steps, batch = x.shape[1], x.shape[0]
        time_major = x.dimshuffle(1, 0, 2)
        flat = T.reshape(time_major, (steps * batch, self.n_in))
        projected = T.reshape(T.dot(flat, self.W) + self.b, (steps, batch, self.gates * self.n_hidden))
        states = self.initial_states(batch, self.W.dtype)
        outputs, _ = scan(self.step, sequences=projected, outputs_info=states, non_sequences=[self.U],
                          name=type(self).__name__, return_list=True)
        hs = outputs[0]
        return hs.dimshuffle(1, 0, 2) if self.return_sequences else hs[-1]

    def get_config(self) -> dict:
        return {"class": type(self).__name__, "n_in": self.n_in, "n_hidden": self.n_hidden,
                "return_sequences": self.return_sequences, "W_init": _jsonable(self.W_init),
                "U_init": _jsonable(self.U_init), "seed": self.seed, "name": self.name}


class SimpleRNN(Recurrent):
    """Elman's recurrent layer: ``h[t] = tanh(x[t] W + h[t-1] U + b)``."""

    def step(self, projected: Any, h: Any, U: Any) -> Any:
        return T.tanh(projected + T.dot(h, U))


class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber), gates in the order input, forget,
    output, candidate; the forget gate's bias starts at 1."""

    gates = 4

    def initial_bias(self) -> np.ndarray:
        b = initializers.zeros((4 * self.n_hidden,))
        b[self.n_hidden:2 * self.n_hidden] = 1.0
        return b

    def initial_states(self, batch: Any, dtype: str) -> list:
        return [T.zeros((batch, self.n_hidden), dtype=dtype), T.zeros((batch, self.n_hidden), dtype=dtype)]

    def step(self, projected: Any, h: Any, c: Any, U: Any) -> Any:
        n = self.n_hidden
        z = projected + T.dot(h, U)
        i, f, o = T.nnet.sigmoid(z[:, :n]), T.nnet.sigmoid(z[:, n:2 * n]), T.nnet.sigmoid(z[:, 2 * n:3 * n])
        c_new = f * c + i * T.tanh(z[:, 3 * n:])
        return [o * T.tanh(c_new), c_new]


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al.), gates in the order update, reset, candidate."""

    gates = 3

    def step(self, projected: Any, h: Any, U: Any) -> Any:
        n = self.n_hidden
        zr = T.nnet.sigmoid(projected[:, :2 * n] + T.dot(h, U[:, :2 * n]))
        z, r = zr[:, :n], zr[:, n:]
        candidate = T.tanh(projected[:, 2 * n:] + T.dot(r * h, U[:, 2 * n:]))
        return (1 - z) * h + z * candidate


CELLS = {"RNN": SimpleRNN, "SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


class RecurrentClassifier(LogisticRegression):
    """Recurrent layers (``cell``: ``"RNN"``, ``"LSTM"`` or ``"GRU"``, one per ``hidden``
    size) and a softmax output on the last state. Its input is a matrix whose rows are
    sequences of ``steps`` steps flattened (``steps × n_in / steps`` features), so it trains
    with the same data and ``Trainer`` as a dense model: digits read row by row are 8 steps
    of 8 pixels."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, cell: str = "LSTM", steps: int = 1,
                 input: Any = None, seed: int | None = None, name: str | None = None) -> None:
        Layer.__init__(self, name)
        if cell not in CELLS:
            raise ValueError(f"RecurrentClassifier: unknown cell {cell!r}; valid: {', '.join(CELLS)}")
        if steps < 1 or n_in % steps:
            raise ValueError(f"RecurrentClassifier: {n_in} input features do not split into {steps} equal steps")
        self.n_in, self.n_out, self.hidden, self.cell, self.steps = int(n_in), int(n_out), [int(h) for h in hidden], cell, int(steps)
        self.seed = seed
        seeds = np.random.SeedSequence(seed).generate_state(len(self.hidden) + 1)
        sizes = [self.n_in // self.steps] + self.hidden
        layers = [CELLS[cell](a, b, return_sequences=k < len(self.hidden) - 1, seed=int(seeds[k]), name=f"{cell.lower()}{k}")
                  for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        self.recurrent = Sequential(layers)
        self.output_layer = LogisticRegression(sizes[-1], self.n_out, W_init="glorot_uniform", seed=int(seeds[-1]),
                                               name="output")
        self.dense, self.W, self.b = self.output_layer.dense, self.output_layer.W, self.output_layer.b
        if input is not None:
            self(input)

    def sublayers(self) -> list[Layer]:
        return [self.recurrent] + self.recurrent.sublayers() + [self.output_layer, self.dense]

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        x = T.as_tensor_variable(x)
        sequences = T.reshape(x, (x.shape[0], self.steps, self.n_in // self.steps)) if x.ndim == 2 else x
        out = self.output_layer(self.recurrent(sequences, deterministic), deterministic)
        self.input = x
        self.logits, self.p_y_given_x, self.y_pred = (self.output_layer.logits, self.output_layer.p_y_given_x,
                                                      self.output_layer.y_pred)
        return out

    def get_config(self) -> dict:
        return {"class": "RecurrentClassifier", "n_in": self.n_in, "hidden": self.hidden, "n_out": self.n_out,
                "cell": self.cell, "steps": self.steps, "seed": self.seed, "name": self.name}
