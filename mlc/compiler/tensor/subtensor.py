"""``x[index]``, ``set_subtensor`` and ``inc_subtensor``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Variable
from ..ops.subtensor import (AdvancedIncSubtensor, AdvancedSubtensor, IncSubtensor, Subtensor,
                             consumed_dims)
from .variable import TensorVariable, as_tensor_variable, constant

__all__ = ["getitem", "set_subtensor", "inc_subtensor"]


def _scalar_part(p: Any, inputs: list) -> Any:
    if p is None:
        return None
    if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        return int(p)
    v = as_tensor_variable(p)
    if v.ndim != 0 or not v.dtype.startswith(("int", "uint")):
        raise IndexError(f"slice bounds must be integer scalars, got {v.type}")
    inputs.append(v)
    return "s"


def parse_index(x: TensorVariable, index: Any) -> tuple[tuple, list, bool]:
    """``(idx_list, index_inputs, advanced)`` for a user index of ``x``."""
    if not isinstance(index, tuple):
        index = (index,)
    idx_list: list = []
    inputs: list = []
    advanced = False
    for entry in index:
        if entry is Ellipsis:
            idx_list.append(Ellipsis)
        elif entry is None:
            idx_list.append(None)
        elif isinstance(entry, slice):
            idx_list.append(("slice",) + tuple(_scalar_part(p, inputs) for p in
                                               (entry.start, entry.stop, entry.step)))
        elif isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
            idx_list.append(int(entry))
        else:
            v = entry if isinstance(entry, Variable) else constant(np.asarray(entry))
            v = as_tensor_variable(v)
            if v.ndim == 0 and v.dtype != "bool":
                idx_list.append(_scalar_part(v, inputs))
            else:
                idx_list.append("a")
                inputs.append(v)
                advanced = True
    if Ellipsis in idx_list:
        if idx_list.count(Ellipsis) > 1:
            raise IndexError("an index can have only one ellipsis (...)")
        at = idx_list.index(Ellipsis)
        rest = [e for e in idx_list if e is not Ellipsis]
        used = consumed_dims(rest, inputs)
        idx_list[at:at + 1] = [("slice", None, None, None)] * (x.ndim - used)
    return tuple(idx_list), inputs, advanced


def getitem(x: Any, index: Any) -> TensorVariable:
    """``x[index]`` with NumPy semantics: ints, slices (symbolic bounds allowed), ``None``,
    ``...``, integer arrays (``x[T.arange(n), y]``) and boolean masks."""
    x = as_tensor_variable(x)
    idx_list, inputs, advanced = parse_index(x, index)
    if not advanced and all(e == ("slice", None, None, None) for e in idx_list) and len(idx_list) <= x.ndim:
        return x
    op = AdvancedSubtensor(idx_list) if advanced else Subtensor(idx_list)
    return op(x, *inputs)


def _write(x_sub: Any, y: Any, set_instead_of_inc: bool, name: str) -> TensorVariable:
    node = getattr(x_sub, "owner", None)
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"{name}: the first argument must be an indexed tensor such as x[2:5] or "
                        f"x[idx], got {x_sub}")
    x, *inputs = node.inputs
    cls = AdvancedIncSubtensor if isinstance(node.op, AdvancedSubtensor) else IncSubtensor
    return cls(node.op.idx_list, set_instead_of_inc)(x, y, *inputs)


def set_subtensor(x_sub: Any, y: Any) -> TensorVariable:
    """A copy of ``x`` with ``x[index]`` replaced by ``y``: ``set_subtensor(x[2:5], y)``."""
    return _write(x_sub, y, True, "set_subtensor")


def inc_subtensor(x_sub: Any, y: Any) -> TensorVariable:
    """A copy of ``x`` with ``y`` added to ``x[index]`` (repeated indices add up)."""
    return _write(x_sub, y, False, "inc_subtensor")
