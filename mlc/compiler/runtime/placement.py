"""Placement: after the rewrites, each node goes to the device when the device's backend
can run it, else to the host, with explicit ``ToDevice``/``ToHost`` copies between them
(one per variable and direction), so ``debugprint`` shows every transfer."""
from __future__ import annotations

from typing import Callable

from ..fgraph import FunctionGraph
from ..graph import Apply, Variable
from ..ops.transfer import ToDevice, ToHost


def place(fgraph: FunctionGraph, device: str, supports: Callable[[Apply], bool]) -> FunctionGraph:
    """A new graph computing ``fgraph``'s outputs (on the host) with the nodes ``supports``
    accepts on ``device``; its ``device_nodes`` is the set of those nodes."""
    on_host: dict[Variable, Variable] = {v: v for v in fgraph.inputs}
    on_device: dict[Variable, Variable] = {}
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

    for node in fgraph.toposort():
        where = supports(node)
        new = node.clone_with_new_inputs([dev(v) if where else host(v) for v in node.inputs])
        new.tag = node.tag
        (on_device if where else on_host).update(zip(node.outputs, new.outputs))
        if where:
            device_nodes.add(new)
    placed = FunctionGraph(fgraph.inputs, [host(o) for o in fgraph.outputs], clone=False)
    placed.update_targets = getattr(fgraph, "update_targets", {})
    placed.device_nodes = device_nodes
    return placed
