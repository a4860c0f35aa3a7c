"""Loop layouts every backend shares: element strides of operands broadcast to a shape,
and the collapsing of a reduction's dims into long, flat loops."""
from __future__ import annotations

from typing import Any


def elem_strides(a: Any, shape: tuple) -> list:
    """``a``'s strides in elements over ``shape`` (0 where it broadcasts)."""
    item = a.dtype.itemsize
    return [0 if a.shape[d] == 1 else a.strides[d] // item for d in range(len(shape))]


def collapse(shape: tuple, strides: list, reduced: list) -> tuple[list, list, list]:
    """Merge neighbouring dims of the same kind (both reduced or both kept) that every
    operand walks as one, and drop size-1 dims, so loops run long and flat."""
    dims, st, red = [], [[] for _ in strides], []
    for d, size in enumerate(shape):
        if size == 1 and len(shape) > 1:
            continue
        if dims and red[-1] == reduced[d] and all(s[-1] == sd[d] * size for s, sd in zip(st, strides)):
            dims[-1] *= size
            for s, sd in zip(st, strides):
                s[-1] = sd[d]
            continue
        dims.append(size)
        red.append(reduced[d])
        for s, sd in zip(st, strides):
            s.append(sd[d])
    if not any(red):  # everything reduced was size 1: reduce over one dummy dim
        dims.append(1)
        red.append(True)
        for s in st:
            s.append(0)
    return dims, st, red


def reduction_layout(arrays: list, shape: tuple, out: Any, axes: tuple) -> tuple[list, list, list, list]:
    """``(kept dims, reduced dims, kept strides per operand + out, reduced strides per
    operand)`` of a reduction of ``arrays`` (broadcast to ``shape``) over ``axes`` into ``out``."""
    out_strides = iter([s // out.dtype.itemsize for s in out.strides])
    strides = [elem_strides(a, shape) for a in arrays]
    strides.append([0 if d in axes else next(out_strides) for d in range(len(shape))])
    dims, strides, reduced = collapse(shape, strides, [d in axes for d in range(len(shape))])
    kept = [d for d in range(len(dims)) if not reduced[d]]
    red = [d for d in range(len(dims)) if reduced[d]]
    return ([dims[d] for d in kept], [dims[d] for d in red], [[s[d] for d in kept] for s in strides],
            [[s[d] for d in red] for s in strides[:-1]])
