"""The ``Scan`` op: a loop whose body is one inner graph, rewritten and compiled once by
the same pipeline as any function (C kernels inside), then run step after step without
re-entering the rewriter. Its gradient is ``ScanGrad``, the same loop backwards
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
    """The forward loop (see the module docstring)."""

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
        from ..tensor import basic as T
        loop = self.loop
        grad_op = ScanGrad.of(self)
        fed_grads = [g if g is not None else T.zeros_like(o) for o, g in zip(outputs, output_grads) if is_float(o)]
        traces = [o for o in outputs[:loop.n_state]]
        results = grad_op(*inputs, *traces, *outputs[loop.n_state:], *fed_grads)
        results = results if isinstance(results, list) else [results]
        grads, it = [None], iter(results)
        grads += [next(it) if is_float(v) else None for v in inputs[1:]]
        return grads


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


class ScanGrad(InnerGraphOp):
    """Backpropagation through the loop of a ``Scan``: steps ``n-1`` down to ``0`` (or the
    last ``truncate_gradient`` steps), each running the body's gradient graph on the values
    that step read, accumulating into the adjoints of the buffers, sequences and
    non-sequences. Inputs: the Scan's inputs, its outputs, the gradients of its float outputs.
    Outputs: the gradients of the Scan's float inputs."""

    @classmethod
    def of(cls, scan: Scan) -> "ScanGrad":
        if getattr(scan, "_grad_op", None) is None:
            from ..gradient import grad
            loop, inner = scan.loop, scan.inner_inputs
            fed = [o for o in scan.inner_outputs[:loop.n_state + loop.n_nit] if is_float(o)]
            adjoints = [o.type() for o in fed]
            known: dict = {}
            for o, g in zip(fed, adjoints):
                known[o] = known[o] + g if o in known else g
            wrt = [v for v in inner if is_float(v)]
            grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore", add_names=False) if wrt else []
            scan._grad_op = cls(loop, inner + adjoints, grads, scan.mode)
        return scan._grad_op

    def __str__(self) -> str:
        return f"ScanGrad{{{self.loop.name or 'scan_fn'}}}"

    def make_node(self, *inputs: Variable) -> Apply:
        n_in = 1 + self.loop.n_seq + self.loop.n_state + self.loop.n_nonseq
        return Apply(self, list(inputs), [v.type() for v in inputs[1:n_in] if is_float(v)])

    def perform(self, node, inputs, output_storage):
        loop = self.loop
        n_in = 1 + loop.n_seq + loop.n_state + loop.n_nonseq
        seqs, _, nonseqs = loop.split(inputs[1:n_in])
        outputs = inputs[n_in:n_in + loop.n_state + loop.n_nit]
        buffers = outputs[:loop.n_state]
        fed_outputs = [v for v in node.inputs[n_in:n_in + loop.n_state + loop.n_nit] if is_float(v)]
        given = dict(zip(map(id, fed_outputs), inputs[n_in + loop.n_state + loop.n_nit:]))
        # Adjoints of the buffers start as the gradients flowing into them, and grow as the steps
        # that read a value pass their part back.
        adj = [np.array(given[id(v)], dtype=v.dtype) if id(v) in given else None
               for v in node.inputs[n_in:n_in + loop.n_state]]
        nit_adj = [given.get(id(v)) for v in node.inputs[n_in + loop.n_state:n_in + loop.n_state + loop.n_nit]]
        n = len(outputs[loop.n_state]) if loop.n_nit else len(buffers[0]) - loop.lags[0]
        first = max(0, n - loop.truncate_gradient) if loop.truncate_gradient > 0 else 0
        seq_adj = [np.zeros_like(x) if is_float(v) else None for x, v in zip(seqs, node.inputs[1:1 + loop.n_seq])]
        nonseq_adj = [np.zeros_like(x) if is_float(v) else None
                      for x, v in zip(nonseqs, node.inputs[n_in - loop.n_nonseq:n_in])]
        float_inner = [is_float(v) for v in self.inner_inputs[:len(self.inner_inputs) - len(fed_outputs)]]

        def body(step: Any) -> None:
            for t in range(n - 1, first - 1, -1):
                args = loop.step_arguments(t, seqs, buffers, nonseqs)
                args += [a[lag + t] for a, lag in zip(adj, loop.lags) if a is not None]
                args += [a[t] for a in nit_adj if a is not None]
                grads = iter(step(args))
                slots = self._slots(t, seq_adj, adj, nonseq_adj)
                for slot, wanted in zip(slots, float_inner):
                    if wanted:
                        g = next(grads)
                        if slot is not None:
                            target, index = slot
                            target[index] += g
        if n > first:
            self.run_loop(body)
        results = seq_adj + [a[:lag] if a is not None else None for a, lag in zip(adj, loop.lags)] + nonseq_adj
        for k, value in enumerate(r for r, v in zip(results, node.inputs[1:n_in]) if is_float(v)):
            output_storage[k][0] = value

    def _slots(self, t: int, seq_adj: list, adj: list, nonseq_adj: list) -> list:
        """For each inner input, where its gradient at step ``t`` goes: ``(array, index)``."""
        loop = self.loop
        slots = [(x, t + tap - taps[0]) if x is not None else None
                 for x, taps in zip(seq_adj, loop.seq_taps) for tap in taps]
        slots += [(a, lag + t + tap) if a is not None else None
                  for a, taps, lag in zip(adj, loop.state_taps, loop.lags) for tap in taps]
        return slots + [(a, ...) if a is not None else None for a in nonseq_adj]
