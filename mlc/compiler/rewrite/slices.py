"""The gradient of a tensor cut into slices: one ``Join``.

Splitting a tensor along an axis (an LSTM's four gates, attention's heads) gives, in the
backward pass, a sum of increments of zeros, one per piece::

    inc(zeros, g0, [:, :256]) + inc(zeros, g1, [:, 256:512]) + ... + inc(zeros, g3, [:, 768:])

Where the slices tile the axis (from 0, each starting where the last stopped, the last one
open-ended) that sum is ``join(1, g0, g1, g2, g3)``: one copy of each piece instead of a
tensor of zeros, a copy of it and a strided increment per piece, and the sum of the copies.
"""
from __future__ import annotations

from ..graph import Constant, Variable
from ..ops.shape import Alloc, Join
from ..ops.subtensor import IncSubtensor
from ..tensor import basic as T
from .engine import WalkingPass, node_rewriter
from .patterns import producer, scalar_constant

_FULL = ("slice", None, None, None)


def _is_zeros(var: Variable) -> bool:
    """``var`` is all zeros: a constant, ``zeros_like`` (a fill with 0) or an Alloc of 0."""
    node = var.owner
    if node is not None and producer(var, "second"):
        return scalar_constant(node.inputs[1]) == 0
    if node is not None and isinstance(node.op, Alloc):
        return scalar_constant(node.inputs[0]) == 0
    return isinstance(var, Constant) and scalar_constant(var) == 0


def _slice_piece(var: Variable) -> tuple[int, int, int | None, Variable] | None:
    """``(axis, start, stop, piece)`` if ``var`` is a piece written into zeros at a constant
    slice of one axis (every other axis whole), and the piece fills the slice without
    broadcasting."""
    node = var.owner
    if node is None or not isinstance(node.op, IncSubtensor) or node.op.advanced or len(node.inputs) != 2:
        return None
    zeros, piece = node.inputs
    cut = [(d, e) for d, e in enumerate(node.op.idx_list) if e != _FULL]
    if len(cut) != 1 or not isinstance(cut[0][1], tuple) or not _is_zeros(zeros):
        return None
    axis, (_, start, stop, step) = cut[0]
    start = 0 if start is None else start
    if (step not in (None, 1) or not isinstance(start, int) or start < 0
            or not (stop is None or (isinstance(stop, int) and stop >= start))):
        return None
    if piece.type != zeros.type or zeros.broadcastable[axis]:
        return None
    return axis, start, stop, piece


@node_rewriter(["add"])
def join_of_slice_increments(fgraph, node):
    """The increments of zeros in a sum whose slices tile one axis → one ``Join`` of the pieces."""
    pieces, others = [], []
    for term in node.inputs:
        found = _slice_piece(term)
        (pieces if found is not None else others).append(found or term)
    if len(pieces) < 2 or len({axis for axis, *_ in pieces}) != 1:
        return None
    pieces.sort(key=lambda p: p[1])
    reach = 0
    for _, start, stop, _ in pieces:
        if start != reach:  # a gap, an overlap, or a slice after an open-ended one
            return None
        reach = stop
    if reach is not None:  # the last slice must run to the end of the axis
        return None
    out = node.outputs[0]
    joined = Join(pieces[0][0])(*[piece for *_, piece in pieces])
    result = T.add(joined, *others) if others else joined
    return [result] if result.type == out.type else None


SLICES = WalkingPass("specialize", [join_of_slice_increments])
