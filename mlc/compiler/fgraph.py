"""``FunctionGraph``: the compiler's own copy of a graph, with client lists, ``replace``
and change callbacks. Rewrites edit it; the user's graph is never touched."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from .graph import Apply, Variable, toposort


class InconsistentGraphError(ValueError):
    """A replacement would change a variable's type or create a cycle."""


class FunctionGraph:
    """A graph from ``inputs`` to ``outputs``. Ownerless variables (inputs, shared variables,
    constants) are kept; every Apply node is cloned, so the graph can be edited in place.

    ``clients[var]`` lists ``(node, i)`` for each node reading ``var`` as its input ``i``;
    ``('output', i)`` marks output ``i`` of the graph.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], clone: bool = True) -> None:
        self.inputs = list(inputs)
        self.memo: dict[int, Variable] = {}
        if clone:
            outputs = self._clone(outputs)
        self.outputs = list(outputs)
        self.clients: dict[Variable, list] = {}
        self.apply_nodes: set[Apply] = set()
        self.variables: set[Variable] = set()
        self.listeners: list[Any] = []
        self._order: list[Apply] | None = None  # toposort's answer until the graph changes
        for v in self.inputs:
            self._add_var(v)
        for node in toposort(self.outputs, stop=self.inputs):
            self._import_node(node)
        for i, out in enumerate(self.outputs):
            self._add_var(out)
            self.clients[out].append(("output", i))

    def _clone(self, outputs: Sequence[Variable]) -> list[Variable]:
        memo = self.memo
        for node in toposort(outputs, stop=self.inputs):
            new = Apply(node.op, [memo.get(id(i), i) for i in node.inputs],
                        [o.clone() for o in node.outputs], trace=node.tag.trace)
            for key, value in vars(node.tag).items():
                setattr(new.tag, key, value)
            for old, out in zip(node.outputs, new.outputs):
                memo[id(old)] = out
        return [memo.get(id(o), o) for o in outputs]

    # -------------------------------------------------------------- bookkeeping
    def _add_var(self, v: Variable) -> None:
        if v not in self.variables:
            self.variables.add(v)
            self.clients.setdefault(v, [])

    def _import_node(self, node: Apply) -> None:
        if node in self.apply_nodes:
            return
        self._order = None
        self.apply_nodes.add(node)
        for i, inp in enumerate(node.inputs):
            self._add_var(inp)
            self.clients[inp].append((node, i))
        for out in node.outputs:
            self._add_var(out)
        for listener in self.listeners:
            getattr(listener, "on_import", lambda *a: None)(self, node)

    def _import_graph(self, var: Variable) -> None:
        for node in toposort([var], stop=self.variables):
            if node not in self.apply_nodes:
                self._import_node(node)
        self._add_var(var)

    def _prune(self, var: Variable) -> None:
        """Drop the node producing ``var`` if nothing reads any of its outputs any more."""
        node = var.owner
        if node is None or node not in self.apply_nodes:
            return
        if any(self.clients.get(o) for o in node.outputs):
            return
        self._order = None
        self.apply_nodes.discard(node)
        for out in node.outputs:
            self.variables.discard(out)
            self.clients.pop(out, None)
        for listener in self.listeners:
            getattr(listener, "on_prune", lambda *a: None)(self, node)
        for i, inp in enumerate(node.inputs):
            clients = self.clients.get(inp)
            if clients is not None and (node, i) in clients:
                clients.remove((node, i))
                if not clients and inp.owner is not None:
                    self._prune(inp)

    # -------------------------------------------------------------- editing
    def change_input(self, node: Any, i: int, new: Variable, reason: str | None = None) -> None:
        """Make input ``i`` of ``node`` (or output ``i`` when ``node == 'output'``) read ``new``."""
        old = self.outputs[i] if node == "output" else node.inputs[i]
        if old is new:
            return
        if old.type != new.type:
            raise InconsistentGraphError(f"cannot replace {old} ({old.type}) by {new} ({new.type})"
                                         f"{' in ' + reason if reason else ''}: the types differ")
        self._import_graph(new)
        self._order = None
        if node == "output":
            self.outputs[i] = new
        else:
            node.inputs[i] = new
        self.clients[old].remove((node, i))
        self.clients[new].append((node, i))
        for listener in self.listeners:
            getattr(listener, "on_change_input", lambda *a: None)(self, node, i, old, new, reason)
        if not self.clients[old]:
            self._prune(old)

    def replace(self, var: Variable, new: Variable, reason: str | None = None) -> None:
        """Make every reader of ``var`` read ``new`` instead (types must be equal)."""
        if var.type != new.type:
            raise InconsistentGraphError(f"cannot replace {var} ({var.type}) by {new} ({new.type})"
                                         f"{' in ' + reason if reason else ''}: the types differ")
        if var not in self.variables:
            return
        if _depends_on(new, var):
            raise InconsistentGraphError(f"replacing {var} by {new} would create a cycle")
        for node, i in list(self.clients[var]):
            self.change_input(node, i, new, reason)

    def replace_all(self, pairs: Iterable[tuple[Variable, Variable]], reason: str | None = None) -> None:
        """``replace`` each ``(var, new)`` pair in order."""
        for var, new in pairs:
            self.replace(var, new, reason)

    def attach(self, listener: Any) -> None:
        """Register an object with ``on_import``/``on_prune``/``on_change_input`` callbacks."""
        self.listeners.append(listener)

    def detach(self, listener: Any) -> None:
        self.listeners.remove(listener)

    # -------------------------------------------------------------- queries
    def toposort(self) -> list[Apply]:
        """The nodes in an order where each comes after the nodes it reads from, and a node
        that overwrites an input after every other reader of that buffer (see ``destroy_order``)."""
        if self._order is None:  # rewrite passes ask again and again of a graph that has not changed
            order = toposort(self.outputs, stop=self.inputs)
            if any(getattr(n.op, "destroy_map", None) for n in order):
                order = destroy_order(order, self.clients)
            self._order = order
        return list(self._order)

    def check_integrity(self) -> None:
        """Verify the client lists against the graph (for tests)."""
        nodes = set(self.toposort())
        if nodes != self.apply_nodes:
            raise AssertionError("apply_nodes out of date")
        for node in nodes:
            for i, inp in enumerate(node.inputs):
                if (node, i) not in self.clients[inp]:
                    raise AssertionError(f"missing client ({node}, {i}) of {inp}")

    def __str__(self) -> str:
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"


def _aliases(var: Variable, clients: dict) -> list[Variable]:
    """``var`` and every view of it (through ops' ``view_map``), transitively."""
    result, stack = [], [var]
    while stack:
        v = stack.pop()
        result.append(v)
        for node, i in clients.get(v, []):
            if node == "output":
                continue
            for o, ins in getattr(node.op, "view_map", {}).items():
                if i in ins:
                    stack.append(node.outputs[o])
    return result


def destroy_order(order: list[Apply], clients: dict) -> list[Apply]:
    """Reorder ``order`` so each destroying node runs after all other readers of the buffer it
    overwrites; nodes overwriting ownerless storage (shared variables) run as late as possible."""
    before: dict[Apply, set[Apply]] = {n: {i.owner for i in n.inputs if i.owner is not None} for n in order}
    late = set()
    for node in order:
        for o, ins in getattr(node.op, "destroy_map", {}).items():
            for i in ins:
                var = node.inputs[i]
                if var.owner is None:
                    late.add(node)
                for alias in _aliases(var, clients):
                    for reader, _ in clients.get(alias, []):
                        if reader != "output" and reader is not node:
                            before[node].add(reader)
    nodes = set(order)
    pending = {n: len([p for p in before[n] if p in nodes]) for n in order}
    users: dict[Apply, list[Apply]] = {n: [] for n in order}
    for n in order:
        for p in before[n]:
            if p in nodes:
                users[p].append(n)
    ready = [n for n in order if pending[n] == 0]
    result = []
    position = {n: k for k, n in enumerate(order)}
    while ready:
        ready.sort(key=lambda n: (n in late, position[n]))
        node = ready.pop(0)
        result.append(node)
        for u in users[node]:
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
    if len(result) != len(order):
        raise InconsistentGraphError("in-place operations form a cycle of reads and overwrites")
    return result


def _depends_on(var: Variable, target: Variable) -> bool:
    if var is target:
        return True
    return any(target in n.outputs or target in n.inputs for n in toposort([var]))


def memory_sources(var: Variable) -> set[Variable]:
    """``var`` and every variable whose buffer ``var`` may share: what it views or was
    computed in place into, following the ops' ``view_map`` and ``destroy_map`` back."""
    result, stack = {var}, [var]
    while stack:
        node = stack.pop().owner
        if node is None:
            continue
        for k, out in enumerate(node.outputs):
            if out not in result:
                continue
            for mapping in (getattr(node.op, "view_map", {}), getattr(node.op, "destroy_map", {})):
                for i in mapping.get(k, []):
                    if node.inputs[i] not in result:
                        result.add(node.inputs[i])
                        stack.append(node.inputs[i])
    return result
