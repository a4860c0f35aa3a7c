"""In-place: let an elementwise op or a Gemm write its result into an input buffer that
nobody reads afterwards, and compute shared-variable updates in the shared storage.

Never destroyed: graph inputs (the caller's arrays), constants, a value some other node
still reads, anything a view aliases. A node that overwrites a shared variable is ordered
after every other reader of that variable (and of its views), and as late as possible, so
a failing call leaves shared variables unchanged.
"""
from __future__ import annotations

from ..fgraph import FunctionGraph
from ..graph import Constant
from ..ops.blas import Gemm
from ..ops.elemwise import Elemwise
from ..sharedvalue import SharedVariable
from .engine import apply_replacements


def _is_view(var) -> bool:
    node = var.owner
    return node is not None and any(var is node.outputs[o] for o in getattr(node.op, "view_map", {}))


def _destroyable_intermediate(fgraph: FunctionGraph, var, node) -> bool:
    if var.owner is None or isinstance(var, Constant) or var in fgraph.inputs or _is_view(var):
        return False
    clients = fgraph.clients.get(var, [])
    return len(clients) == 1 and clients[0][0] is node


def _destroyable_shared(fgraph: FunctionGraph, var, node) -> bool:
    """``var`` is a shared variable whose update is ``node``'s output, and no output or view reads it."""
    if not isinstance(var, SharedVariable):
        return False
    targets = getattr(fgraph, "update_targets", {})
    out = node.outputs[0]
    clients = fgraph.clients.get(out, [])
    if len(clients) != 1 or clients[0][0] != "output" or targets.get(clients[0][1]) is not var:
        return False
    if var in fgraph.outputs:
        return False
    for reader, _ in fgraph.clients.get(var, []):
        if reader == "output" or reader is node:
            continue
        if any(o in fgraph.outputs for o in reader.outputs if _is_view(o)):
            return False
    return True


def _candidate(fgraph: FunctionGraph, node, i: int) -> bool:
    var = node.inputs[i]
    if var.type != node.outputs[0].type:
        return False
    if any(var is other for k, other in enumerate(node.inputs) if k != i):
        return False  # the same buffer is read again by this node
    return _destroyable_intermediate(fgraph, var, node) or _destroyable_shared(fgraph, var, node)


def inplace(fgraph: FunctionGraph) -> int:
    changed = 0
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes:
            continue
        if isinstance(node.op, Elemwise) and not node.op.inplace_pattern:
            for i in range(len(node.inputs)):
                if _candidate(fgraph, node, i):
                    new = Elemwise(node.op.scalar_op, ((0, i),)).make_node(*node.inputs).outputs[0]
                    changed += apply_replacements(fgraph, node, [new], "inplace")
                    break
        elif isinstance(node.op, Gemm) and not node.op.inplace and _candidate(fgraph, node, 0):
            changed += apply_replacements(fgraph, node, [Gemm(inplace=True)(*node.inputs)], "inplace")
    return changed
