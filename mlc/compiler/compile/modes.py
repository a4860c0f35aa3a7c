"""Theano's checking modes on mlc's ``Mode``: ``DebugMode`` (each compiled node against its
``perform``), ``NanGuardMode`` (raises at the node that produced a NaN, an Inf or a huge
value), ``MonitorMode`` (calls the user's functions before and after each node)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply, format_trace
from ..mode import Mode
from ..sharedvalue import on_a_device

BIG = 1e10  # Theano's threshold for a "big" value


def _linker_and_optimizer(linker: Any, optimizer: Any, default_linker: str = "c") -> tuple[str, str]:
    """mlc's linker and optimizer names from Theano's (``'cvm'``, ``'default'``, ``None``...)."""
    linker = {None: default_linker, "cvm": "c", "vm": "c", "c|py": "c", "c": "c", "py": "py",
              "cvm_nogc": "c", "vm_nogc": "c", "debug": "debug"}.get(linker, linker)
    optimizer = {"default": "fast_run", None: "none", "None": "none", "o4": "fast_run", "fast_run": "fast_run",
                 "fast_compile": "fast_compile", "merge": "fast_compile"}.get(optimizer, optimizer)
    return linker, optimizer


class DebugMode(Mode):
    """Theano's ``DebugMode``: every rewrite, and each node checked against its ``perform``
    (mlc's ``DEBUG``). Theano's tuning arguments are accepted."""

    def __init__(self, optimizer: Any = "fast_run", stability_patience: Any = None, check_c_code: Any = None,
                 check_py_code: Any = None, check_isfinite: Any = None, check_preallocated_output: Any = None,
                 require_matching_strides: Any = None, linker: Any = None) -> None:
        super().__init__("debug", _linker_and_optimizer(None, optimizer)[1], name="DebugMode")


def _host(value: Any) -> Any:
    return value.get() if on_a_device(value) else value


class NanGuardMode(Mode):
    """Raises ``AssertionError`` at the first node whose input or output holds a NaN
    (``nan_is_error``), an Inf (``inf_is_error``) or an absolute value above 1e10
    (``big_is_error``), naming the node and the line of user code that built it."""

    def __init__(self, nan_is_error: bool | None = None, inf_is_error: bool | None = None,
                 big_is_error: bool | None = None, optimizer: Any = "default", linker: Any = None) -> None:
        linker, optimizer = _linker_and_optimizer(linker, optimizer)
        super().__init__(linker, optimizer, name="NanGuardMode")
        self.checks = (True if nan_is_error is None else nan_is_error, True if inf_is_error is None else inf_is_error,
                       True if big_is_error is None else big_is_error)
        self.watchers = (self._guard,)

    def _problem(self, value: Any) -> str | None:
        value = _host(value)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc" or value.size == 0:
            return None
        nan, inf, big = self.checks
        if nan and np.isnan(value).any():
            return "NaN"
        if inf and np.isinf(value).any():
            return "Inf"
        if big and np.nanmax(np.abs(np.where(np.isinf(value), 0, value))) > BIG:
            return f"a big value (abs > {BIG:g})"
        return None

    def _guard(self, position: int, node: Apply, ins: list, outs: list, call: Callable, compiled: bool) -> Callable:
        def guarded() -> None:
            for k, cell in enumerate(ins):
                problem = self._problem(cell[0])
                if problem:
                    raise AssertionError(f"NanGuardMode: {problem} in input {k} ({node.inputs[k]}) of {node.op}\n"
                                         f"  the node was created at: {format_trace(node.tag.trace)}")
            call()
            for k, cell in enumerate(outs):
                problem = self._problem(cell[0])
                if problem:
                    raise AssertionError(f"NanGuardMode: {node.op} produced {problem} in output {k}\n"
                                         f"  the node was created at: {format_trace(node.tag.trace)}")
        return guarded


class NodeCells:
    """What a ``MonitorMode`` callback receives as ``fn``: the node's storage cells
    (``fn.inputs[i][0]`` is input ``i``'s value, ``fn.outputs[k][0]`` output ``k``'s)."""

    def __init__(self, inputs: list, outputs: list) -> None:
        self.inputs, self.outputs = inputs, outputs


class MonitorMode(Mode):
    """Calls ``pre_func(i, node, fn)`` before and ``post_func(i, node, fn)`` after each node
    runs (``i``: its position in the schedule, ``fn``: its cells, see ``NodeCells``)."""

    def __init__(self, pre_func: Callable | None = None, post_func: Callable | None = None,
                 optimizer: Any = "default", linker: Any = None) -> None:
        linker, optimizer = _linker_and_optimizer(linker, optimizer)
        super().__init__(linker, optimizer, name="MonitorMode")
        self.pre_func, self.post_func = pre_func, post_func
        self.watchers = (self._monitor,)

    def _monitor(self, position: int, node: Apply, ins: list, outs: list, call: Callable, compiled: bool) -> Callable:
        cells, pre, post = NodeCells(ins, outs), self.pre_func, self.post_func

        def monitored() -> None:
            if pre is not None:
                pre(position, node, cells)
            call()
            if post is not None:
                post(position, node, cells)
        return monitored


__all__ = ["DebugMode", "NanGuardMode", "MonitorMode"]
