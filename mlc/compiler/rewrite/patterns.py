"""Small helpers for matching graph shapes in rewriters."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Constant, Variable
from ..ops.elemwise import DimShuffle, Elemwise


def is_elem(node: Apply | None, *names: str) -> bool:
    """``node`` is an ``Elemwise`` of one of the scalar ops ``names``."""
    return (node is not None and isinstance(node.op, Elemwise) and not node.op.inplace_pattern
            and node.op.scalar_op.name in names)


def producer(var: Variable, *names: str) -> Apply | None:
    """The node making ``var`` if it is an Elemwise of one of ``names``."""
    return var.owner if is_elem(var.owner, *names) else None


def scalar_constant(var: Variable) -> Any:
    """The single value of a constant whose elements are all equal (through dimshuffles), else None."""
    while var.owner is not None and isinstance(var.owner.op, DimShuffle):
        var = var.owner.inputs[0]
    if not isinstance(var, Constant) or not isinstance(var.data, np.ndarray) or var.data.size == 0:
        return None
    flat = var.data.ravel()
    first = flat[0]
    return first.item() if np.all(flat == first) else None


def is_constant_value(var: Variable, value: float) -> bool:
    c = scalar_constant(var)
    return c is not None and c == value


def single_client(fgraph, var: Variable) -> bool:
    """Only one node reads ``var`` (and it is not a graph output)."""
    clients = fgraph.clients.get(var, [])
    return len(clients) == 1 and clients[0][0] != "output"
