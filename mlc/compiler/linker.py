"""From a FunctionGraph to something that runs: rewrite it for the mode, then build the VM."""
from __future__ import annotations

from .config import config
from .fgraph import FunctionGraph
from .mode import Mode
from .runtime import VM


def rewrite(fgraph: FunctionGraph, mode: Mode) -> None:
    """Run the mode's rewrite passes on ``fgraph`` in place."""
    from .rewrite import optimize
    optimize(fgraph, mode)


def link(fgraph: FunctionGraph, mode: Mode, n_inputs: int) -> tuple[VM, list, list]:
    """``(vm, input_cells, output_cells)`` for ``fgraph``; shared variables' cells are their
    containers, so the VM always reads their current value."""
    from .sharedvalue import SharedVariable
    if config.device != "cpu":
        from .codegen.build import warn_once
        warn_once("device", f"config.device={config.device!r}: the CUDA backend is not built yet, so mlc "
                            "computes on the CPU")
    storage: dict = {}
    for k, v in enumerate(fgraph.inputs):
        storage[v] = v.container if isinstance(v, SharedVariable) else [None]
    make_thunk = None
    if mode.linker in ("c", "debug"):
        from .codegen import thunks
        make_thunk = thunks.maker(fgraph, mode)
    vm = VM(fgraph.toposort(), storage, make_thunk)
    for out in fgraph.outputs:
        if out not in storage:
            storage[out] = [getattr(out, "data", None)]
    return vm, [storage[v] for v in fgraph.inputs[:n_inputs]], [storage[o] for o in fgraph.outputs]
