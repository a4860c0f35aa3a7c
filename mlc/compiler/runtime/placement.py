"""Placement: after the rewrites, each node goes to the device when the device's backend
can run it, else to the host, with explicit ``ToDevice``/``ToHost`` copies between them
(one per variable and direction), so ``debugprint`` shows every transfer."""
from __future__ import annotations

from typing import Callable

from ..fgraph import FunctionGraph
from ..graph import Apply, Variable
from ..ops.transfer import ToDevice, ToHost


def place(fgraph: FunctionGraph, device: str, supports: Callable[[Apply], bool]) -> FunctionGraph:
    """A new graph computing ``fgraph``'s outputs with the nodes ``supports`` accepts on
    ``device``. Its ``device_nodes`` are those nodes and the transfers; its ``resident`` are
    the shared variables that live on the device (those a device node reads): their
    updates stay there, every other output comes back to the host."""
    from ..sharedvalue import SharedVariable
    from ..types import TensorType
    nodes = fgraph.toposort()
    supported = {n for n in nodes if supports(n)}
    resident = {v for v in fgraph.inputs if isinstance(v, SharedVariable) and isinstance(v.type, TensorType)
                and any(c != "output" and c in supported for c, _ in fgraph.clients.get(v, []))}
    on_host: dict[Variable, Variable] = {v: v for v in fgraph.inputs if v not in resident}
    on_device: dict[Variable, Variable] = {v: v for v in resident}
    to_device, to_host = ToDevice(device), ToHost()
    device_nodes = set()

    def host(v: Variable) -> Variable:
        if v not in on_host:
            if v in on_device:
                on_host[v] = to_host(on_device[v])
                device_nodes.add(on_host[v].owner)
            else:
                on_host[v] = v  # constants live on the host
        return on_host[v]

    def dev(v: Variable) -> Variable:
        if v not in on_device:
            on_device[v] = to_device(host(v))
            device_nodes.add(on_device[v].owner)
        return on_device[v]

    for node in nodes:
        where = node in supported
        new = node.clone_with_new_inputs([dev(v) if where else host(v) for v in node.inputs])
        new.tag = node.tag
        (on_device if where else on_host).update(zip(node.outputs, new.outputs))
        if where:
            device_nodes.add(new)
    targets = getattr(fgraph, "update_targets", {})
    outputs = [dev(o) if targets.get(k) in resident else host(o) for k, o in enumerate(fgraph.outputs)]
    placed = FunctionGraph(fgraph.inputs, outputs, clone=False)
    placed.update_targets = targets
    placed.device_nodes = device_nodes
    placed.resident = resident
    return placed
