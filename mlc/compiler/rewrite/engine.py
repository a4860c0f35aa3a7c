"""The rewrite engine: node rewriters (functions of one node that return replacements),
grouped into passes that walk the graph until nothing changes.

A node rewriter is registered with the op types (or scalar-op names) it tracks:

    @node_rewriter([Elemwise], name="neg_neg")
    def neg_neg(fgraph, node):
        ...
        return [replacement]   # one per output, or None for "no change"
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable, Sequence

from ..fgraph import FunctionGraph, InconsistentGraphError
from ..graph import Apply, Variable, toposort


class NodeRewriter:
    """A named function ``(fgraph, node) -> list | dict | None`` applied to tracked nodes."""

    def __init__(self, fn: Callable, tracks: Sequence[Any], name: str) -> None:
        self.fn, self.tracks, self.name = fn, tuple(tracks), name

    def applies_to(self, node: Apply) -> bool:
        if not self.tracks:
            return True
        for t in self.tracks:
            if isinstance(t, str):
                scalar = getattr(node.op, "scalar_op", None)
                if scalar is not None and scalar.name == t:
                    return True
            elif isinstance(node.op, t):
                return True
        return False

    def __call__(self, fgraph: FunctionGraph, node: Apply) -> Any:
        return self.fn(fgraph, node)

    def __repr__(self) -> str:
        return f"NodeRewriter({self.name})"


def node_rewriter(tracks: Sequence[Any], name: str | None = None) -> Callable[[Callable], NodeRewriter]:
    """Decorator making a ``NodeRewriter`` that tracks op classes or scalar-op names."""
    def wrap(fn: Callable) -> NodeRewriter:
        return NodeRewriter(fn, tracks, name or fn.__name__)
    return wrap


def fit_type(new: Variable, old: Variable) -> Variable | None:
    """``new`` adjusted (cast / re-broadcast) to ``old``'s type, or None if it cannot be."""
    from ..tensor import basic as T
    if new.type == old.type:
        return new
    if getattr(new.type, "ndim", None) != getattr(old.type, "ndim", None):
        return None
    if new.dtype != old.dtype:
        new = T.cast(new, old.dtype)
    if any(nb and not ob for nb, ob in zip(new.broadcastable, old.broadcastable)):
        return None  # ``new`` may be smaller than ``old``: a rewrite bug, so refuse it
    if new.broadcastable != old.broadcastable:
        new = T.patternbroadcast(new, old.broadcastable)
    return new


def apply_replacements(fgraph: FunctionGraph, node: Apply, result: Any, reason: str) -> bool:
    """Replace ``node``'s outputs by ``result``; new nodes inherit ``node``'s creation site."""
    if result is None or result is False:
        return False
    pairs = list(result.items()) if isinstance(result, dict) else list(zip(node.outputs, result))
    fitted = []
    for old, new in pairs:
        if new is None or new is old:
            continue
        adjusted = fit_type(new, old)
        if adjusted is None:
            return False
        fitted.append((old, adjusted))
    if not fitted:
        return False
    trace = node.tag.trace
    for _, new in fitted:
        for n in toposort([new], stop=fgraph.variables):
            if n not in fgraph.apply_nodes:
                n.tag.trace = trace
    try:
        for old, new in fitted:
            fgraph.replace(old, new, reason=reason)
    except InconsistentGraphError:
        return False
    return True


class WalkingPass:
    """Apply ``rewriters`` to every node, repeatedly, until the graph stops changing."""

    def __init__(self, name: str, rewriters: Iterable[NodeRewriter], max_rounds: int = 50,
                 consumers_first: bool = False) -> None:
        self.name, self.rewriters, self.max_rounds = name, list(rewriters), max_rounds
        self.consumers_first = consumers_first

    def __call__(self, fgraph: FunctionGraph, excluded: set[str] = frozenset()) -> int:
        rewriters = [r for r in self.rewriters if r.name not in excluded]
        # the rewriters tracking each kind of op, found once per kind (a pass meets few kinds)
        tracking: dict[tuple, list[NodeRewriter]] = {}
        imported = _Imported()
        fgraph.attach(imported)
        total = 0
        try:
            for _ in range(self.max_rounds):
                order = fgraph.toposort()
                queue = deque(reversed(order) if self.consumers_first else order)
                # Nodes a rewrite brings in are visited at once, not a round later (a chain
                # of rewrites up a graph took a round per link); within a bound, so that
                # rewrites undoing each other cannot keep one round going for ever.
                budget = 4 * len(order) + 16
                changed = 0
                while queue:
                    node = queue.popleft()
                    if node not in fgraph.apply_nodes:
                        continue
                    scalar = getattr(node.op, "scalar_op", None)
                    kind = (type(node.op), getattr(scalar, "name", None))
                    candidates = tracking.get(kind)
                    if candidates is None:
                        candidates = tracking[kind] = [rw for rw in rewriters if rw.applies_to(node)]
                    for rw in candidates:
                        imported.nodes.clear()
                        if apply_replacements(fgraph, node, rw(fgraph, node), rw.name):
                            changed += 1
                            new = imported.nodes[:budget]  # imported producers first
                            budget -= len(new)
                            queue.extendleft(new if self.consumers_first else reversed(new))
                            break
                total += changed
                if not changed:
                    break
        finally:
            fgraph.detach(imported)
        return total


class _Imported:
    """The nodes brought into a graph, in the order they came (each after its inputs')."""

    def __init__(self) -> None:
        self.nodes: list[Apply] = []

    def on_import(self, fgraph: FunctionGraph, node: Apply) -> None:
        self.nodes.append(node)


class GraphPass:
    """A pass written as one function of the whole graph."""

    def __init__(self, name: str, fn: Callable[[FunctionGraph], int]) -> None:
        self.name, self.fn = name, fn

    def __call__(self, fgraph: FunctionGraph, excluded: set[str] = frozenset()) -> int:
        return self.fn(fgraph)
