"""From a rewritten FunctionGraph to runnable VMs: the mode says whether nodes run compiled
(on the configured device's backend) or as Python ``perform``, and whether each is checked."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import sharedvalue
from ..config import config
from ..fgraph import FunctionGraph
from ..graph import Apply
from ..mode import Mode
from ..types import TensorType
from .backend import get_backend
from .vm import VM, perform_call, runnable


class Instance:
    """One runnable copy of a compiled function: its VM and the cells it reads and writes.
    Threads calling one function each take their own instance; shared variables' cells
    (their containers) are common to all."""

    def __init__(self, vm: VM, input_cells: list, output_cells: list, profile: Any = None) -> None:
        self.vm, self.input_cells, self.output_cells = vm, input_cells, output_cells
        self.run = vm.run if profile is None else profile.timed_call(vm.run)


class Linked:
    """A rewritten graph bound to a backend; ``instance()`` makes independent runnable copies
    sharing the compiled kernels."""

    def __init__(self, fgraph: FunctionGraph, mode: Mode, n_inputs: int, profile: Any = None) -> None:
        make_thunk, backend = None, None
        if mode.compiled:
            backend = get_backend(config.device)
            fgraph = backend.place(fgraph)
            make_thunk = backend.thunk_maker(fgraph, mode)
        # Where each shared tensor must be when the function runs: on this device, or on the host.
        SharedVariable = sharedvalue.SharedVariable
        resident = getattr(fgraph, "resident", set())
        self.residency = [(v.container, backend if v in resident else None) for v in fgraph.inputs
                          if isinstance(v, SharedVariable) and isinstance(v.type, TensorType)]
        self.fgraph, self.n_inputs = fgraph, n_inputs
        self.nodes = fgraph.toposort()
        if mode.check:
            from .debug import checked
            make_thunk = checked(make_thunk)
        self.profile = profile
        watchers = tuple(mode.watchers) + ((profile.watch,) if profile is not None else ())
        if watchers:
            make_thunk = watched(make_thunk, watchers, self.nodes)
        self.make_thunk = make_thunk

    def instance(self) -> Instance:
        SharedVariable = sharedvalue.SharedVariable
        fgraph = self.fgraph
        storage: dict = {}
        for v in fgraph.inputs:
            storage[v] = v.container if isinstance(v, SharedVariable) else [None]
        vm = VM(self.nodes, storage, self.make_thunk, fgraph.outputs)
        for out in fgraph.outputs:
            if out not in storage:
                storage[out] = [getattr(out, "data", None)]
        return Instance(vm, [storage[v] for v in fgraph.inputs[:self.n_inputs]],
                        [storage[o] for o in fgraph.outputs], self.profile)


def settle(residency: list) -> None:
    """Move each shared value where the function needs it (a no-op once it is there)."""
    for container, backend in residency:
        value = container[0]
        on_host = isinstance(value, np.ndarray)
        if backend is None and not on_host:
            container[0] = value.get()
        elif backend is not None and (on_host or not backend.owns(value)):
            container[0] = backend.to_device(value if on_host else value.get())
            sharedvalue.on_device = True


def watched(make_thunk: Callable | None, watchers: tuple, nodes: list) -> Callable:
    """A thunk maker whose every call is passed through each watcher:
    ``watch(position, node, ins, outs, call, compiled) -> call`` (profiling, NaN guards, monitors)."""
    position = {node: k for k, node in enumerate(nodes)}

    def make(node: Apply, ins: list, outs: list) -> Callable:
        thunk = make_thunk(node, ins, outs) if make_thunk else None
        call = runnable(thunk) if thunk is not None else perform_call(node, ins, outs)
        for watch in watchers:  # they time and check what runs: the fast path where there is one
            call = watch(position.get(node, -1), node, ins, outs, call, thunk is not None)
        return call
    return make


def prepare(mode: Mode) -> None:
    """Let the backend that will link a function under ``mode`` start its slow preparations
    (a compiler probe) while the graph is being rewritten."""
    if mode.compiled:
        get_backend(config.device).prepare()


def link(fgraph: FunctionGraph, mode: Mode, n_inputs: int, profile: Any = None) -> Linked:
    """``fgraph`` bound to the configured device's backend (or Python ``perform``); with a
    ``ProfileStats``, every node's time is recorded."""
    return Linked(fgraph, mode, n_inputs, profile)
