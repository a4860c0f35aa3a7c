"""Lazy branches: the nodes that feed only one branch of an ``IfElse`` (directly, or through
other such nodes) leave the flat schedule and run inside the ``IfElse`` step, once its
condition is known. Nested conditions nest their blocks."""
from __future__ import annotations

from typing import Callable, Sequence

from ..graph import Apply, Variable
from .vm import node_error


def branch_blocks(nodes: Sequence[Apply], outputs: Sequence[Variable]) -> dict:
    """``{ifelse node: (then nodes, else nodes)}``, each list in schedule order; a node is in
    a block when every reader of every output it has is in that block or is that branch of
    the IfElse (a value the function returns, or anything else reads, is computed always)."""
    from ..ifelse import IfElse
    clients: dict[Variable, list] = {}
    for node in nodes:
        for i, v in enumerate(node.inputs):
            clients.setdefault(v, []).append((node, i))
    returned = set(outputs)
    blocks: dict = {}
    for cond_node in reversed(nodes):
        if not isinstance(cond_node.op, IfElse):
            continue
        n = cond_node.op.n_outs
        sides = []
        for first in (1, 1 + n):
            owned: set = set()
            for node in reversed(nodes):  # readers come before what they read, walking backwards
                if node is cond_node or not any(o in clients for o in node.outputs) or any(
                        o in returned for o in node.outputs):
                    continue
                if all((reader is cond_node and first <= i < first + n) or reader in owned
                       for o in node.outputs for reader, i in clients.get(o, [])):
                    owned.add(node)
            sides.append(owned)
        blocks[cond_node] = tuple([n for n in nodes if n in side] for side in sides)
    return blocks


def lazy_calls(nodes: Sequence[Apply], calls: Sequence[Callable], steps: Sequence, outputs: Sequence[Variable]
               ) -> tuple[list, list]:
    """The schedule's calls with each IfElse's branch-only nodes folded into it; returns
    ``(calls, nodes)`` (the node each remaining call stands for, for error messages)."""
    blocks = branch_blocks(nodes, outputs)
    if not blocks:
        return list(calls), list(nodes)
    call_of = dict(zip(nodes, calls))
    step_of = {step[0]: step for step in steps}
    inside = set()
    for cond_node in nodes:  # inner conditions first: an outer block then holds their folded call
        if cond_node not in blocks:
            continue
        then_nodes, else_nodes = blocks[cond_node]
        then_calls = [(n, call_of[n]) for n in then_nodes if n not in inside]
        else_calls = [(n, call_of[n]) for n in else_nodes if n not in inside]
        inside.update(then_nodes, else_nodes)
        call_of[cond_node] = _branching(step_of[cond_node][1][0], then_calls, else_calls, call_of[cond_node], step_of)
    kept = [n for n in nodes if n not in inside]
    return [call_of[n] for n in kept], kept


def _branching(condition_cell: list, then_calls: list, else_calls: list, select: Callable, step_of: dict) -> Callable:
    def call() -> None:
        for node, run in then_calls if condition_cell[0] else else_calls:
            try:
                run()
            except Exception as err:
                raise node_error(node, err, [c[0] for c in step_of[node][1]]) from err
        select()
    return call
