"""Backpropagation through a ``Scan``: ``ScanGrad`` runs the body's gradient graph from the
last step to the first, accumulating into the adjoints of the buffers, sequences and
non-sequences.

A non-sequence's gradient that is a product ``dot(A.T, B)`` of per-step matrices (a
recurrent weight's: the previous state times the step's gate gradients) is not added up step
by step: the steps' A and B are stacked, and each chunk of steps costs one large product
instead of a small product and an addition per step.

The values a backward step needs from its forward step (gate activations, products) are
not recomputed: the forward loop is extended to save them (an augmented ``Scan`` with those
values as extra outputs, which the ``scan_merge`` rewrite substitutes for the plain one), and
the gradient graph reads them as inputs. Values that do not change from step to step are
recomputed from the non-sequences instead of being saved.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Variable, clone_replace, toposort
from ..types import TensorType
from .op import InnerGraphOp, Loop, Scan, is_float


def _saved_values(scan: Scan, grads: list[Variable]) -> list[Variable]:
    """The forward body's values that change per step and that the gradient graph reads."""
    forward = toposort(scan.inner_outputs)
    produced = {id(o): o for node in forward for o in node.outputs}
    loop = scan.loop
    n_varying = sum(len(t) for t in loop.seq_taps) + sum(len(t) for t in loop.state_taps)
    varying = {id(v) for v in scan.inner_inputs[:n_varying]}
    for node in forward:
        if any(id(i) in varying for i in node.inputs):
            varying.update(id(o) for o in node.outputs)
    forward_nodes = set(forward)
    saved: dict = {}
    for node in toposort(grads):
        if node in forward_nodes:
            continue
        for v in node.inputs:
            if id(v) in produced and id(v) in varying and isinstance(v.type, TensorType):
                saved.setdefault(id(v), v)
    return list(saved.values())


def _product_factors(g: Variable) -> tuple[Variable, Variable] | None:
    """``(A, B)`` where ``g`` is ``dot(A.T, B)`` of two matrices, else None."""
    from ..ops.blas import Dot
    from ..ops.elemwise import DimShuffle
    node = g.owner
    if node is None or not isinstance(node.op, Dot) or g.ndim != 2:
        return None
    left, right = node.inputs
    if left.owner is None or not isinstance(left.owner.op, DimShuffle) or left.owner.op.new_order != (1, 0):
        return None
    a = left.owner.inputs[0]
    return (a, right) if a.ndim == 2 and right.ndim == 2 else None


def _stack_products(grads: list, wrt: list, nonseqs: list) -> tuple[list, tuple]:
    """``grads`` with each non-sequence's ``dot(A.T, B)`` given as its two factors, and for
    each of ``wrt`` whether it is."""
    outputs, stacked = [], []
    nonseq_ids = {id(v) for v in nonseqs}
    for v, g in zip(wrt, grads):
        factors = _product_factors(g) if id(v) in nonseq_ids and g is not None else None
        outputs += list(factors) if factors else [g]
        stacked.append(factors is not None)
    return outputs, tuple(stacked)


def gradient_ops(scan: Scan) -> tuple["ScanGrad", Scan, int]:
    """``(backward op, forward op that saves what it needs, how many values it saves)``,
    built once per Scan."""
    if getattr(scan, "_grad_ops", None) is None:
        from ..gradient import grad
        loop, inner = scan.loop, scan.inner_inputs
        fed = [o for o in scan.inner_outputs[:loop.n_state + loop.n_nit] if is_float(o)]
        adjoints = [o.type() for o in fed]
        known: dict = {}
        for o, g in zip(fed, adjoints):
            known[o] = known[o] + g if o in known else g
        wrt = [v for v in inner if is_float(v)]
        grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore", add_names=False) if wrt else []
        saved = _saved_values(scan, grads)
        places = [v.type() for v in saved]
        grads = clone_replace(grads, dict(zip(saved, places)))
        grads, stacked = _stack_products(grads, wrt, inner[len(inner) - loop.n_nonseq:])
        forward = scan
        if saved:
            n_out = loop.n_state + loop.n_nit
            outputs = scan.inner_outputs[:n_out] + saved + scan.inner_outputs[n_out:]
            wider = Loop(loop.seq_taps, loop.state_taps, loop.n_nit + len(saved), loop.n_nonseq, loop.until,
                         loop.truncate_gradient, loop.name)
            forward = Scan(wider, inner, outputs, scan.mode)
            forward.augments = scan
        scan._grad_ops = (ScanGrad(loop, inner + adjoints + places, grads, scan.mode, len(saved), stacked), forward,
                          len(saved))
    return scan._grad_ops


def scan_gradients(scan: Scan, inputs: list, outputs: list, output_grads: list) -> list:
    """``Scan.L_op``: the gradients of the Scan's inputs (None for the step count and for
    values that are not floats)."""
    from ..tensor import basic as T
    loop = scan.loop
    grad_op, forward, n_saved = gradient_ops(scan)
    values = forward.make_node(*inputs).outputs if forward is not scan else outputs
    n_out = loop.n_state + loop.n_nit
    fed_grads = [g if g is not None else T.zeros_like(o) for o, g in zip(outputs, output_grads) if is_float(o)]
    results = grad_op(*inputs, *values[:n_out], *values[n_out:n_out + n_saved], *fed_grads)
    results = results if isinstance(results, list) else [results]
    it = iter(results)
    return [None] + [next(it) if is_float(v) else None for v in inputs[1:]]


class ScanGrad(InnerGraphOp):
    """The backward loop. Inputs: the Scan's inputs, its outputs (buffers, then the outputs
    not fed back), the saved values' traces, the gradients of its float outputs. Outputs: the
    gradients of the Scan's float inputs. ``truncate_gradient`` > 0 runs only the last steps.
    ``stacked``: for each float inner input, whether its inner gradient comes as the two
    factors of a product (see the module docstring)."""

    def __init__(self, loop: Loop, inner_inputs: list, inner_outputs: list, mode: Any, n_saved: int,
                 stacked: tuple = ()) -> None:
        super().__init__(loop, inner_inputs, inner_outputs, mode)
        self.n_saved, self.stacked = n_saved, stacked or (False,) * len(inner_outputs)

    def __str__(self) -> str:
        return f"ScanGrad{{{self.loop.name or 'scan_fn'}}}"

    def make_node(self, *inputs: Variable) -> Apply:
        n_in = 1 + self.loop.n_seq + self.loop.n_state + self.loop.n_nonseq
        return Apply(self, list(inputs), [v.type() for v in inputs[1:n_in] if is_float(v)])

    def perform(self, node, inputs, output_storage):
        loop = self.loop
        n_in = 1 + loop.n_seq + loop.n_state + loop.n_nonseq
        n_out = loop.n_state + loop.n_nit
        seqs, _, nonseqs = loop.split(inputs[1:n_in])
        outputs = inputs[n_in:n_in + n_out]
        buffers = outputs[:loop.n_state]
        saved = inputs[n_in + n_out:n_in + n_out + self.n_saved]
        fed_outputs = [v for v in node.inputs[n_in:n_in + n_out] if is_float(v)]
        given = dict(zip(map(id, fed_outputs), inputs[n_in + n_out + self.n_saved:]))
        # Adjoints of the buffers start as the gradients flowing into them, and grow as the steps
        # that read a value pass their part back.
        adj = [np.array(given[id(v)], dtype=v.dtype) if id(v) in given else None
               for v in node.inputs[n_in:n_in + loop.n_state]]
        nit_adj = [given.get(id(v)) for v in node.inputs[n_in + loop.n_state:n_in + n_out]]
        n = len(outputs[loop.n_state]) if loop.n_nit else len(buffers[0]) - loop.lags[0]
        first = max(0, n - loop.truncate_gradient) if loop.truncate_gradient > 0 else 0
        seq_adj = [np.zeros_like(x) if is_float(v) else None for x, v in zip(seqs, node.inputs[1:1 + loop.n_seq])]
        nonseq_adj = [np.zeros_like(x) if is_float(v) else None
                      for x, v in zip(nonseqs, node.inputs[n_in - loop.n_nonseq:n_in])]
        n_forward_inputs = len(self.inner_inputs) - len(fed_outputs) - self.n_saved
        float_inner = [is_float(v) for v in self.inner_inputs[:n_forward_inputs]]
        flags = iter(self.stacked)
        stacked = [wanted and next(flags) for wanted in float_inner]
        products = [StackedProducts(slot[0], n - first) if factors and slot is not None else None
                    for slot, factors in zip(self._slots(0, seq_adj, adj, nonseq_adj), stacked)]

        def body(step: Any) -> None:
            for t in range(n - 1, first - 1, -1):
                args = loop.step_arguments(t, seqs, buffers, nonseqs)
                args += [a[lag + t] for a, lag in zip(adj, loop.lags) if a is not None]
                args += [a[t] for a in nit_adj if a is not None]
                args += [s[t] for s in saved]
                grads = iter(step(args))
                for slot, wanted, factors, product in zip(self._slots(t, seq_adj, adj, nonseq_adj), float_inner,
                                                          stacked, products):
                    if wanted:
                        g = next(grads)
                        if factors:
                            b = next(grads)
                            if product is not None:
                                product.add(g, b)
                        elif slot is not None:
                            target, index = slot
                            target[index] += g
            for product in products:
                if product is not None:
                    product.flush()
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


class StackedProducts:
    """Adds ``sum over steps of A.T @ B`` to ``target``: the A and B of up to ``steps``
    steps copied into stacks of at most ``budget`` bytes, each full stack one product
    (``(k*rows, m).T @ (k*rows, p)``); a step whose factors do not fit the stacks' shapes is
    added alone."""

    def __init__(self, target: np.ndarray, steps: int, budget: int = 32 << 20) -> None:
        self.target, self.steps, self.budget = target, steps, budget
        self.a: np.ndarray | None = None
        self.b: np.ndarray | None = None
        self.count = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        if self.a is None:
            steps = max(1, min(self.steps, self.budget // max(1, a.nbytes + b.nbytes)))
            self.a, self.b = np.empty((steps,) + a.shape, a.dtype), np.empty((steps,) + b.shape, b.dtype)
        if a.shape != self.a.shape[1:] or b.shape != self.b.shape[1:] or a.shape[0] != b.shape[0]:
            self.target += np.dot(a.T, b)  # raises as the step's own product would
            return
        self.a[self.count], self.b[self.count] = a, b
        self.count += 1
        if self.count == len(self.a):
            self.flush()

    def flush(self) -> None:
        if self.count:
            from ..runtime.cpu.blas import gemm
            a, b = self.a[:self.count], self.b[:self.count]
            gemm(1.0, a.reshape(-1, a.shape[-1]).T, b.reshape(-1, b.shape[-1]), 1.0, self.target)
            self.count = 0
