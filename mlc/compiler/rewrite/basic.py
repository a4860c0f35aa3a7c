"""The structural passes: merge (common subexpressions), constant folding, dead code."""
from __future__ import annotations

import numpy as np

from ..fgraph import FunctionGraph
from ..graph import Constant
from ..ops.collective import Allreduce, AllreduceMean
from ..ops.loop import Map
from ..ops.random import RandomVariable
from ..printing import Print
from ..ops.shape import Alloc
from ..types import TensorType


def merge(fgraph: FunctionGraph) -> int:
    """Give equal constants and equal nodes (same op on the same inputs) one variable each."""
    changed = 0
    constants: dict = {}
    for var in list(fgraph.variables):
        if isinstance(var, Constant) and var in fgraph.variables:
            key = var.signature()
            first = constants.setdefault(key, var)
            if first is not var:
                fgraph.replace(var, first, reason="merge")
                changed += 1
    seen: dict = {}
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes:
            continue
        key = (node.op, tuple(id(i) for i in node.inputs))
        other = seen.get(key)
        if other is None or other not in fgraph.apply_nodes:
            seen[key] = node
            continue
        for old, new in zip(node.outputs, other.outputs):
            if old in fgraph.variables:
                fgraph.replace(old, new, reason="merge")
        changed += 1
    return changed


# Print and the collectives act at run time, not once at compile time
_NO_FOLD = (RandomVariable, Map, Print, Allreduce, AllreduceMean)


def constant_folding(fgraph: FunctionGraph) -> int:
    """Compute nodes whose inputs are all constants once, at compile time."""
    from ..tensor.variable import TensorConstant
    changed = 0
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes or not node.inputs:
            continue
        if isinstance(node.op, _NO_FOLD) or not all(isinstance(i, Constant) for i in node.inputs):
            continue
        if not all(isinstance(o.type, TensorType) for o in node.outputs):
            continue
        storage = [[None] for _ in node.outputs]
        try:
            node.op.perform(node, [np.array(i.data) for i in node.inputs], storage)
        except Exception:
            continue  # leave it to fail at run time, with the user's line in the message
        values = [np.asarray(cell[0]) for cell in storage]
        input_size = sum(np.size(i.data) for i in node.inputs)
        if isinstance(node.op, Alloc) and sum(v.size for v in values) > max(1000, 10 * input_size):
            continue  # a big broadcast stays a cheap run-time fill, not a baked-in constant
        for out, value in zip(node.outputs, values):
            if out in fgraph.variables:
                fgraph.replace(out, TensorConstant(out.type, value.astype(out.dtype, copy=False)),
                               reason="constant_folding")
        changed += 1
    return changed


def dead_code(fgraph: FunctionGraph) -> int:
    """Drop nodes that no output depends on."""
    live = set(fgraph.toposort())
    dead = [n for n in fgraph.apply_nodes if n not in live]
    for node in dead:
        fgraph.apply_nodes.discard(node)
        for i, inp in enumerate(node.inputs):
            clients = fgraph.clients.get(inp)
            if clients and (node, i) in clients:
                clients.remove((node, i))
        for out in node.outputs:
            fgraph.variables.discard(out)
            fgraph.clients.pop(out, None)
    return len(dead)
