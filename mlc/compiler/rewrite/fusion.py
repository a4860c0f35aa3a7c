"""Elementwise fusion: each maximal tree of single-consumer elementwise nodes becomes one
``Elemwise(Composite)``, and an elementwise chain feeding a reduction becomes one
``FusedReduce``: one pass over memory instead of one per op."""
from __future__ import annotations

import functools

from ..fgraph import FunctionGraph
from ..graph import Constant
from ..ops.elemwise import Elemwise
from ..ops.fused import Composite, FusedReduce
from ..ops.reduce import Reduce
from .engine import apply_replacements
from .patterns import single_client


def _fusable(node) -> bool:
    return (node is not None and isinstance(node.op, Elemwise) and not node.op.inplace_pattern
            and not isinstance(node.op.scalar_op, Composite) and len(node.outputs) == 1
            and _target().supports(node.op.scalar_op, [i.dtype for i in node.inputs], node.outputs[0].dtype))


def _target():
    """The renderer of the configured device: a group grows only by ops it can compile, so
    one unsupported op does not send a whole fused kernel back to Python."""
    from ..codegen import target_of
    from ..config import config
    return _renderer(target_of(config.device))


@functools.lru_cache(maxsize=None)
def _renderer(target: str):
    from ..codegen import renderer_for
    return renderer_for(target)


def _inline_constant(var) -> bool:
    return isinstance(var, Constant) and var.data.size == 1


def _grow(fgraph: FunctionGraph, root) -> list:
    """The root and every elementwise producer that only the group reads, producers first."""
    group = {root}
    stack = [root]
    while stack:
        node = stack.pop()
        for inp in node.inputs:
            producer = inp.owner
            if _fusable(producer) and producer not in group and single_client(fgraph, inp):
                group.add(producer)
                stack.append(producer)
    return [n for n in fgraph.toposort() if n in group]


def build_composite(nodes: list) -> tuple[Composite, list]:
    """A composite computing the last of ``nodes`` (in dependency order) and its outer inputs."""
    outer: list = []
    position: dict = {}
    produced = {n.outputs[0]: k for k, n in enumerate(nodes)}
    entries = []
    for node in nodes:
        args = []
        for inp in node.inputs:
            if inp in produced and produced[inp] < len(entries):
                args.append(("n", produced[inp]))
            elif _inline_constant(inp):
                args.append(("c", inp.data.item(), inp.dtype))
            else:
                if inp not in position:
                    position[inp] = len(outer)
                    outer.append(inp)
                args.append(("i", position[inp]))
        entries.append((node.op.scalar_op, tuple(args), node.outputs[0].dtype))
    return Composite([v.dtype for v in outer], entries), outer


def fuse_elemwise(fgraph: FunctionGraph) -> int:
    changed = 0
    for node in reversed(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not _fusable(node):
            continue
        group = _grow(fgraph, node)
        if len(group) < 2:
            continue
        composite, outer = build_composite(group)
        if apply_replacements(fgraph, node, [Elemwise(composite)(*outer)], "fusion"):
            changed += 1
    return changed


def fuse_reductions(fgraph: FunctionGraph) -> int:
    changed = 0
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes or not isinstance(node.op, Reduce) or node.op.name in ("and_", "or_"):
            continue
        inner = node.inputs[0].owner
        if (inner is None or not isinstance(inner.op, Elemwise) or inner.op.inplace_pattern
                or not single_client(fgraph, node.inputs[0])):
            continue
        if isinstance(inner.op.scalar_op, Composite):
            composite, outer = inner.op.scalar_op, inner.inputs
        else:
            composite, outer = build_composite([inner])
        fused = FusedReduce(composite, node.op.name, node.op.axis, node.op.dtype)(*outer)
        if apply_replacements(fgraph, node, [fused], "fusion"):
            changed += 1
    return changed


def fusion(fgraph: FunctionGraph) -> int:
    """Fuse elementwise trees, then elementwise producers into their reductions."""
    return fuse_elemwise(fgraph) + fuse_reductions(fgraph)
