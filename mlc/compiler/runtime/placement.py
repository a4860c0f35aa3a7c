"""Placement: after the rewrites, each node goes to the device when the device's backend
can run it, else to the host, with explicit ``ToDevice``/``ToHost`` copies between them
(one per variable and direction), so ``debugprint`` shows every transfer."""
from __future__ import annotations

from typing import Callable

from ..fgraph import FunctionGraph
from ..graph import Apply, Variable
from ..ops.transfer import ToDevice, ToHost


Where = tuple  # (input places, output places, device thunk?) with places "device", "host", "any"


def place(fgraph: FunctionGraph, device: str, where: Callable[[Apply], "Where | None"]) -> FunctionGraph:
    """A new graph computing ``fgraph``'s outputs with each node where ``where`` puts it
    (None: on the host). Its ``device_nodes`` are the nodes the device's thunks run, with
    the transfers; its ``resident`` are the shared variables that live on the device (those a
    device node reads): their updates stay there, every other output comes back to the host.
    An input place ``"any"`` takes a value where it is (``Shape`` needs no copy)."""
    from ..sharedvalue import SharedVariable
    from ..types import TensorType
    nodes = fgraph.toposort()
    places = {n: where(n) for n in nodes}
    resident = {v for v in fgraph.inputs if isinstance(v, SharedVariable) and isinstance(v.type, TensorType)
                and any(c != "output" and places.get(c) is not None and places[c][0][i] == "device"
                        for c, i in fgraph.clients.get(v, []))}
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

    def wherever(v: Variable) -> Variable:
        return on_device[v] if v in on_device and v not in on_host else host(v)

    pick = {"device": dev, "host": host, "any": wherever}
    for node in nodes:
        ins, outs, on_device_thunk = places[node] or (["host"] * len(node.inputs), ["host"] * len(node.outputs),
                                                      False)
        new = node.clone_with_new_inputs([pick[p](v) for p, v in zip(ins, node.inputs)])
        new.tag = node.tag
        for p, old, out in zip(outs, node.outputs, new.outputs):
            (on_device if p == "device" else on_host)[old] = out
        if on_device_thunk:
            device_nodes.add(new)
    targets = getattr(fgraph, "update_targets", {})
    outputs = [dev(o) if targets.get(k) in resident else host(o) for k, o in enumerate(fgraph.outputs)]
    placed = FunctionGraph(fgraph.inputs, outputs, clone=False)
    placed.update_targets = targets
    placed.device_nodes = device_nodes
    placed.resident = resident
    return placed
