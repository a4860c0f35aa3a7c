"""CPU calls for the views a training step takes on every call: ``DimShuffle`` (a transpose,
new broadcastable dims), ``Subtensor`` with a constant index (a column slice, ``shape[0]``)
and the minibatch window of the tutorials' ``givens`` (``x[i * n:(i + 1) * n]``).
Each is one NumPy indexing step worked out when the function is made; ``perform`` would
rebuild it from the op's description on every call (2–4 µs, as much as a small kernel)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...graph import Apply
from ...ops.elemwise import DimShuffle
from ...ops.subtensor import Subtensor, build_index
from .thunks import REGISTRY


class ViewCall:
    """A node whose output is ``view(input)``; the VM calls ``call``."""

    def __init__(self, call: Callable[[], None]) -> None:
        self.call = call

    def __call__(self) -> None:
        self.call()


@REGISTRY.register(DimShuffle)
def dimshuffle_call(node: Apply, ins: list, outs: list, context: Any) -> ViewCall | None:
    op = node.op
    if op.drop or not op.new_order:  # dropping a dim checks that it has length 1 (perform's
        return None                   # reshape does); a 0-d result must stay an array
    cell, out = ins[0], outs[0]
    order = op.shuffle
    index = tuple(None if d == "x" else slice(None) for d in op.new_order)
    if order == tuple(range(len(order))):
        def call() -> None:
            out[0] = cell[0][index]
    elif not op.augment:
        def call() -> None:
            out[0] = cell[0].transpose(order)
    else:
        def call() -> None:
            out[0] = cell[0].transpose(order)[index]
    return ViewCall(call)


@REGISTRY.register(Subtensor)
def subtensor_call(node: Apply, ins: list, outs: list, context: Any) -> ViewCall | None:
    if type(node.op) is not Subtensor:
        return None
    if len(node.inputs) != 1:
        return _window_call(node, ins, outs)
    cell, out = ins[0], outs[0]
    index = build_index(node.op.idx_list, [])
    if node.outputs[0].ndim == 0:  # an element: NumPy gives a scalar, the graph a 0-d array
        def call() -> None:
            out[0] = np.asarray(cell[0][index])
    else:
        def call() -> None:
            out[0] = cell[0][index]
    return ViewCall(call)


def _window_call(node: Apply, ins: list, outs: list) -> ViewCall | None:
    """``x[a:b:c]`` along the first axis with scalar inputs among its bounds (a minibatch
    window, ``x[i * n:(i + 1) * n]``); other symbolic indices keep ``perform``."""
    (entry,) = node.op.idx_list if len(node.op.idx_list) == 1 else (None,)
    if not isinstance(entry, tuple):
        return None
    cell, out, scalars = ins[0], outs[0], iter(ins[1:])
    parts = [next(scalars) if p == "s" else p for p in entry[1:]]  # a cell, or the constant bound
    if any(isinstance(p, list) for p in parts[2:]):  # a symbolic step: rare, perform checks it
        return None
    start, stop, step = parts
    if isinstance(start, list) and isinstance(stop, list):
        def call() -> None:
            out[0] = cell[0][int(start[0]):int(stop[0]):step]
    elif isinstance(start, list):
        def call() -> None:
            out[0] = cell[0][int(start[0]):stop:step]
    elif isinstance(stop, list):
        def call() -> None:
            out[0] = cell[0][start:int(stop[0]):step]
    else:
        return None
    return ViewCall(call)
