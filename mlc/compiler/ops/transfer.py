"""Explicit copies between the host and a device, inserted by the placement pass so that
``debugprint`` shows where data moves. On the host (``perform``) both are the identity."""
from __future__ import annotations

from typing import Any

from ..graph import Apply, Op


class _Transfer(Op):
    view_map = {0: [0]}  # as perform runs it on the host: the same array

    def make_node(self, x: Any) -> Apply:
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def grad(self, inputs, output_grads):
        return output_grads

    def infer_shape(self, node, input_shapes):
        return input_shapes


class ToDevice(_Transfer):
    """Copy a host array to ``device``."""

    __props__ = ("device",)

    def __init__(self, device: str) -> None:
        self.device = device

    def __str__(self) -> str:
        return f"ToDevice{{{self.device}}}"


class ToHost(_Transfer):
    """Copy a device array back to the host (a NumPy array)."""

    __props__ = ()
