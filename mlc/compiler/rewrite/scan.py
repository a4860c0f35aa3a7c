"""``scan_merge``: when a graph holds a Scan and the augmented Scan its gradient built (the
same loop on the same inputs, also saving the values the backward pass reads), the plain
one's outputs are taken from the augmented one, so the loop runs once."""
from __future__ import annotations

from ..fgraph import FunctionGraph
from ..scan_module.op import Scan


def scan_merge(fgraph: FunctionGraph) -> int:
    nodes = [n for n in fgraph.toposort() if isinstance(n.op, Scan)]
    by_op = {}
    for node in nodes:
        by_op.setdefault(node.op, []).append(node)
    changed = 0
    for wide in nodes:
        base = wide.op.augments
        for plain in by_op.get(base, []) if base is not None else []:
            if plain in fgraph.apply_nodes and all(a is b for a, b in zip(plain.inputs, wide.inputs)):
                for old, new in zip(plain.outputs, wide.outputs):
                    if old in fgraph.variables:
                        fgraph.replace(old, new, reason="scan_merge")
                changed += 1
    return changed
