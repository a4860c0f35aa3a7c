"""``ProfileStats``: where a compiled function spends its time, node by node, printed as
Theano's tables (by op class, by op, by node).

>>> import mlc.compiler as theano
>>> import mlc.compiler.tensor as T
>>> x = T.dmatrix("x")
>>> f = theano.function([x], T.exp(x).sum(), profile=True)
>>> _ = f([[1.0]])
>>> f.profile.fct_callcount
1
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
from typing import Any, Callable

import numpy as np

from ..graph import Apply

_printed_at_exit: list = []


class ProfileStats:
    """Per-node run times, call counts and input shapes of one (or several) functions."""

    def __init__(self, name: str | None = None, atexit_print: bool = False) -> None:
        self.name = name
        self.fct_callcount, self.fct_call_time = 0, 0.0
        self.compile_time = self.optimizer_time = self.linker_time = 0.0
        self.apply_time: dict[Apply, float] = {}
        self.apply_callcount: dict[Apply, int] = {}
        self.apply_shapes: dict[Apply, list] = {}
        self.apply_compiled: dict[Apply, bool] = {}
        self.order: dict[Apply, int] = {}
        self._lock = threading.Lock()
        if atexit_print:
            if not _printed_at_exit:
                atexit.register(lambda: [p.summary() for p in _printed_at_exit if p.fct_callcount])
            _printed_at_exit.append(self)

    # -- recording (the linker calls these) -------------------------------------------
    def timed_call(self, run: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            start = time.perf_counter()
            try:
                run()
            finally:
                with self._lock:
                    self.fct_call_time += time.perf_counter() - start
                    self.fct_callcount += 1
        return call

    def watch(self, position: int, node: Apply, ins: list, outs: list, call: Callable, compiled: bool) -> Callable:
        self.order[node], self.apply_compiled[node] = position, compiled
        self.apply_time.setdefault(node, 0.0)
        self.apply_callcount.setdefault(node, 0)

        def timed() -> None:
            start = time.perf_counter()
            call()
            spent = time.perf_counter() - start
            with self._lock:
                self.apply_time[node] += spent
                self.apply_callcount[node] += 1
                self.apply_shapes[node] = [np.shape(c[0]) if c[0] is not None else None for c in ins]
        return timed

    # -- reading -------------------------------------------------------------------------
    def top_nodes(self, n: int = 10) -> list[tuple[Apply, float, int]]:
        """The ``n`` nodes that took the most time: ``(node, seconds, calls)``."""
        ranked = sorted(self.apply_time.items(), key=lambda item: -item[1])[:n]
        return [(node, seconds, self.apply_callcount[node]) for node, seconds in ranked]

    def summary(self, file: Any = sys.stdout, n_ops_to_print: int = 20, n_apply_to_print: int = 20) -> None:
        """Print the function summary and the tables by op class, by op and by node."""
        total = sum(self.apply_time.values()) or 1e-30
        write = file.write
        write("Function profiling\n==================\n")
        write(f"  Message: {self.name or 'unnamed function'}\n")
        write(f"  Time in {self.fct_callcount} calls to Function.__call__: {self.fct_call_time:e}s\n")
        if self.fct_call_time:
            write(f"  Time in thunks: {total:e}s ({100 * total / self.fct_call_time:.1f}%)\n")
        write(f"  Total compile time: {self.compile_time:e}s\n")
        write(f"    Rewriting: {self.optimizer_time:e}s\n    Linking: {self.linker_time:e}s\n\n")
        self._table(write, "Class", lambda node: type(node.op).__name__, total, n_ops_to_print)
        self._table(write, "Ops", lambda node: str(node.op), total, n_ops_to_print)
        write("Apply\n------\n  <% time> <sum %> <apply time> <time per call> <#call> <id> <Apply name>\n")
        cumulative = 0.0
        for node, seconds, calls in self.top_nodes(n_apply_to_print):
            cumulative += seconds
            write(f"  {100 * seconds / total:5.1f}%  {100 * cumulative / total:5.1f}%  {seconds:.3e}s  "
                  f"{seconds / max(calls, 1):.2e}s  {calls:6d}  {self.order.get(node, -1):4d}  {node.op}\n")
            shapes = self.apply_shapes.get(node)
            if shapes is not None:
                write(f"    input shapes: {', '.join(str(s) for s in shapes)}\n")
        write("\n")

    def _table(self, write: Callable, title: str, key: Callable, total: float, limit: int) -> None:
        groups: dict[str, list] = {}
        for node, seconds in self.apply_time.items():
            entry = groups.setdefault(key(node), [0.0, 0, 0, set()])
            entry[0] += seconds
            entry[1] += self.apply_callcount[node]
            entry[2] += 1
            entry[3].add("C " if self.apply_compiled.get(node) else "Py")
        write(f"{title}\n{'-' * len(title)}\n"
              f"  <% time> <sum %> <apply time> <time per call> <type> <#call> <#apply> <{title} name>\n")
        cumulative = 0.0
        for name, (seconds, calls, applies, kinds) in sorted(groups.items(), key=lambda g: -g[1][0])[:limit]:
            cumulative += seconds
            write(f"  {100 * seconds / total:5.1f}%  {100 * cumulative / total:5.1f}%  {seconds:.3e}s  "
                  f"{seconds / max(calls, 1):.2e}s  {'/'.join(sorted(kinds))}  {calls:6d}  {applies:4d}  {name}\n")
        write("\n")
