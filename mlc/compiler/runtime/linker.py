"""From a rewritten FunctionGraph to a VM: the mode says whether nodes run compiled (on
the configured device's backend) or as Python ``perform``, and whether each is checked."""
from __future__ import annotations

from ..config import config
from ..fgraph import FunctionGraph
from ..mode import Mode
from .backend import get_backend
from .vm import VM


def link(fgraph: FunctionGraph, mode: Mode, n_inputs: int) -> tuple[VM, list, list]:
    """``(vm, input_cells, output_cells)`` for ``fgraph``; shared variables' cells are their
    containers, so the VM always reads their current value."""
    from ..sharedvalue import SharedVariable
    storage: dict = {}
    for v in fgraph.inputs:
        storage[v] = v.container if isinstance(v, SharedVariable) else [None]
    make_thunk = None
    if mode.compiled:
        make_thunk = get_backend(config.device).thunk_maker(fgraph, mode)
    if mode.check:
        from .debug import checked
        make_thunk = checked(make_thunk)
    vm = VM(fgraph.toposort(), storage, make_thunk)
    for out in fgraph.outputs:
        if out not in storage:
            storage[out] = [getattr(out, "data", None)]
    return vm, [storage[v] for v in fgraph.inputs[:n_inputs]], [storage[o] for o in fgraph.outputs]
