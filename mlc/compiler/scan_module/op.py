"""The ``Scan`` op: a loop whose body is one inner graph, rewritten and compiled once by
the same pipeline as any function (C kernels inside), then run step after step without
re-entering the rewriter. Its gradient is ``grad.ScanGrad``, the same loop backwards
(backpropagation through time).

Inputs of a Scan node, in order: the step count asked for (``-1``: as long as the
sequences), the sequences (time on axis 0), one initial buffer per recurrent state (the
``L = -min(taps)`` values before step 0: ``(L, ...)`` for a tensor, a one-element list for a
random generator), the non-sequences. Outputs: each state's whole buffer (``L + n`` values,
so the gradient sees every value a step read), then the outputs that are not fed back
(``n`` values each).

At step ``t`` the body reads ``seq[t + tap - min(taps)]`` for each sequence tap and
``buffer[L + t + tap]`` for each state tap, and writes ``buffer[L + t]``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op, Variable
from ..types import FLOAT_DTYPES, TensorType, Type


class TraceType(Type):
    """A Python list of values of ``item`` type (the per-step states of a random generator)."""

    def __init__(self, item: Type) -> None:
        self.item = item

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None, what: str = "value") -> list:
        if not isinstance(value, list):
            raise TypeError(f"{what}: expected a list of {self.item}, got {type(value).__name__}")
        return value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.item == self.item  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.item))

    def __repr__(self) -> str:
        return f"TraceType({self.item!r})"


class Start(Op):
    """A one-value trace: the initial state of a generator stepped by a scan."""

    def make_node(self, state: Variable) -> Apply:
        return Apply(self, [state], [TraceType(state.type)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = [inputs[0]]

    def grad(self, inputs, output_grads):
        return [None]


class Last(Op):
    """The last value of a trace (the final state of a generator stepped by a scan)."""

    def make_node(self, trace: Variable) -> Apply:
        return Apply(self, [trace], [trace.type.item()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0][-1]

    def grad(self, inputs, output_grads):
        return [None]


def is_float(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and v.type.dtype in FLOAT_DTYPES


class Loop:
    """The plain description of a loop both ops share: how many of each kind of input, and
    the taps."""

    def __init__(self, seq_taps: Sequence[Sequence[int]], state_taps: Sequence[Sequence[int]], n_nit: int,
                 n_nonseq: int, until: bool, truncate_gradient: int, name: str | None) -> None:
        self.seq_taps = [tuple(t) for t in seq_taps]
        self.state_taps = [tuple(t) for t in state_taps]
        self.n_seq, self.n_state, self.n_nit, self.n_nonseq = len(seq_taps), len(state_taps), n_nit, n_nonseq
        self.until, self.truncate_gradient, self.name = until, truncate_gradient, name
        self.lags = [-min(t) for t in self.state_taps]  # L: values a buffer holds before step 0

    def split(self, values: Sequence[Any]) -> tuple:
        """``(sequences, initial buffers, non-sequences)`` of a node's inputs after the step count."""
        s, r = self.n_seq, self.n_state
        return values[:s], values[s:s + r], values[s + r:s + r + self.n_nonseq]

    def steps(self, n_asked: int, seqs: Sequence[Any]) -> int:
        lengths = [len(x) - (max(taps) - min(taps)) for x, taps in zip(seqs, self.seq_taps)]
        if n_asked >= 0:
            lengths.append(int(n_asked))
        if not lengths:
            raise ValueError(f"{self.describe()}: no sequences and no n_steps: give n_steps")
        return max(0, min(lengths))

    def step_arguments(self, t: int, seqs: Sequence[Any], buffers: Sequence[Any], nonseqs: Sequence[Any]) -> list:
        """What the body reads at step ``t``, in the inner inputs' order."""
        args = [x[t + tap - taps[0]] for x, taps in zip(seqs, self.seq_taps) for tap in taps]
        args += [buf[lag + t + tap] for buf, taps, lag in zip(buffers, self.state_taps, self.lags) for tap in taps]
        return args + list(nonseqs)

    def describe(self) -> str:
        return f"scan {self.name!r}" if self.name else "scan"


class Compiled:
    """An inner graph compiled once into a function; calls run a free instance of it directly
    (no argument checks: the loop passes exactly typed values). One instance per concurrent
    call, as for ``Function``."""

    def __init__(self, inputs: list[Variable], outputs: list[Variable], mode: Any) -> None:
        from ..function import function
        self.function = function(inputs, outputs, mode=mode, on_unused_input="ignore")
        self.pool: list = []

    def runner(self) -> Any:
        instance = self.pool.pop() if self.pool else self.function.maker.linked.instance()
        cells, outs, run, vm = instance.input_cells, instance.output_cells, instance.run, instance.vm

        def step(args: list) -> list:
            for cell, value in zip(cells, args):
                cell[0] = value
            try:
                run()
            except Exception as err:
                raise vm.error(err) from err
            return [c[0] for c in outs]
        return instance, step


class InnerGraphOp(Op):
    """An op holding an inner graph that it compiles on first use (kept out of pickles)."""

    def __init__(self, loop: Loop, inner_inputs: list[Variable], inner_outputs: list[Variable], mode: Any) -> None:
        self.loop, self.inner_inputs, self.inner_outputs, self.mode = loop, list(inner_inputs), list(inner_outputs), mode
        self._compiled: Compiled | None = None

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_compiled": None}

    def compiled(self) -> Compiled:
        if self._compiled is None:
            self._compiled = Compiled(self.inner_inputs, self.inner_outputs, self.mode)
        return self._compiled

    def run_loop(self, body: Any) -> Any:
        """``body(step)`` with a free compiled instance, returned to the pool after."""
        compiled = self.compiled()
        instance, step = compiled.runner()
        try:
            return body(step)
        finally:
            for cell in instance.input_cells:
                cell[0] = None
            compiled.pool.append(instance)


class Scan(InnerGraphOp):
    """The forward loop (see the module docstring). ``augments``: the Scan this one extends
    with more outputs (the values its gradient saves), so that one loop computes both."""

    augments: "Scan | None" = None

    def __str__(self) -> str:
        return f"Scan{{{self.loop.name or 'scan_fn'}}}"

    def make_node(self, n_steps: Variable, *inputs: Variable) -> Apply:
        loop = self.loop
        _, inits, _ = loop.split(inputs)
        states = [init.type if isinstance(init.type, TraceType) else TensorType(init.dtype, (False,) + init.broadcastable[1:])
                  for init in inits]
        nits = [TensorType(o.dtype, (False,) + o.broadcastable)
                for o in self.inner_outputs[loop.n_state:loop.n_state + loop.n_nit]]
        return Apply(self, [n_steps, *inputs], [t() for t in states + nits])

    def perform(self, node, inputs, output_storage):
        loop = self.loop
        seqs, inits, nonseqs = loop.split(inputs[1:])
        n = loop.steps(inputs[0], seqs)
        buffers = [list(init) if isinstance(init, list) else _buffer(init, lag, n)
                   for init, lag in zip(inits, loop.lags)]
        nits: list = [None] * loop.n_nit

        def body(step: Any) -> int:
            for t in range(n):
                outs = step(loop.step_arguments(t, seqs, buffers, nonseqs))
                for r, (buf, lag) in enumerate(zip(buffers, loop.lags)):
                    if isinstance(buf, list):
                        buf.append(outs[r])
                    else:
                        _store(buf, lag + t, outs[r], lambda: f"{loop.describe()}: recurrent output {r}")
                for k in range(loop.n_nit):
                    value = outs[loop.n_state + k]
                    if nits[k] is None:
                        nits[k] = np.empty((n,) + np.shape(value), node.outputs[loop.n_state + k].dtype)
                    _store(nits[k], t, value, lambda: f"{loop.describe()}: output {loop.n_state + k} (not fed back)")
                if loop.until and outs[-1]:
                    return t + 1
            return n
        done = self.run_loop(body) if n else 0
        for r, (buf, lag) in enumerate(zip(buffers, loop.lags)):
            output_storage[r][0] = buf[:lag + done]
        for k in range(loop.n_nit):
            out = node.outputs[loop.n_state + k]
            value = nits[k] if nits[k] is not None else np.zeros((0,) + (1,) * (out.ndim - 1), out.dtype)
            output_storage[loop.n_state + k][0] = value[:done]

    def L_op(self, inputs, outputs, output_grads):
        from .grad import scan_gradients
        return scan_gradients(self, inputs, outputs, output_grads)


def _buffer(init: np.ndarray, lag: int, n: int) -> np.ndarray:
    if len(init) < lag:
        raise ValueError(f"scan: an initial value has {len(init)} steps, the taps need {lag}")
    buf = np.empty((lag + n,) + init.shape[1:], init.dtype)
    buf[:lag] = init[len(init) - lag:]
    return buf


def _store(buf: np.ndarray, index: int, value: Any, what: Any) -> None:
    if np.shape(value) != buf.shape[1:]:
        raise ValueError(f"{what()} has shape {np.shape(value)} at step {index}, expected {buf.shape[1:]} "
                         "(the shape of the initial value / of step 0); scan outputs keep one shape")
    buf[index] = value
