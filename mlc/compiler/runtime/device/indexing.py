"""Integer indexing on the device: ``x[idx]`` (rows), ``x[rows, cols]`` (pairs, as losses
index their predictions) and its gradient ``inc_subtensor(zeros[rows, cols], g)``. An
index out of range raises ``IndexError`` as on the host (one 4-byte read back per call)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...graph import Apply
from ...ops.subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from ..launch import elementwise_launch
from .thunks import REGISTRY, DeviceContext, _buffer


def _int_vector(v: Any) -> bool:
    return v.ndim == 1 and v.dtype.startswith(("int", "uint"))


def takes_rows(node: Apply) -> bool:
    """``x[idx]`` with one integer index vector over the first axis."""
    op = node.op
    return (isinstance(op, AdvancedSubtensor) and op.idx_list == ("a",) and len(node.inputs) == 2
            and _int_vector(node.inputs[1]))


def takes_pairs(node: Apply) -> bool:
    """``x[rows, cols]`` of a matrix with two integer index vectors."""
    op = node.op
    return (isinstance(op, AdvancedSubtensor) and op.idx_list == ("a", "a") and node.inputs[0].ndim == 2
            and all(_int_vector(v) for v in node.inputs[1:]))


def adds_at_pairs(node: Apply) -> bool:
    """``x[rows, cols] += y`` (or ``=``) on a matrix, ``y`` a vector or a scalar."""
    op = node.op
    return (isinstance(op, AdvancedIncSubtensor) and op.idx_list == ("a", "a") and node.inputs[0].ndim == 2
            and node.inputs[1].ndim <= 1 and all(_int_vector(v) for v in node.inputs[2:]))


class _Indexing:
    """Shared by the indexing thunks: the kernel, the out-of-range flag, index vectors as int64."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext, kind: str) -> None:
        self.node, self.ins, self.out, self.context = node, ins, outs[0], context
        self.dtype = node.outputs[0].dtype
        backend = context.backend
        self.kernel = backend.kernel(backend.build(getattr(backend.renderer, kind)(self.dtype)), f"{kind}_{self.dtype}")
        self.bad = backend.allocate((1,), "int32")

    def index(self, k: int) -> Any:
        v = self.context.backend.contiguous(self.ins[k][0])
        return v if v.dtype == np.int64 else v.astype(np.int64)

    def check(self, shape: tuple, what: str = "an index pair is out of range") -> None:
        if self.bad.get()[0]:  # out-of-range indices must not pass silently
            raise IndexError(f"{self.node.op}: {what} (indexed shape {shape})")

    def pair_length(self, rows: Any, cols: Any) -> int:
        n = max(len(rows), len(cols))
        if len(rows) not in (1, n) or len(cols) not in (1, n):
            raise IndexError(f"{self.node.op}: index vectors of lengths {len(rows)} and {len(cols)} do not broadcast")
        return n


class TakeRowsThunk(_Indexing):
    """``x[idx]``: rows of a C-contiguous array picked by an int64 vector."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        super().__init__(node, ins, outs, context, "take_rows")

    def __call__(self) -> None:
        backend = self.context.backend
        x, index = backend.contiguous(self.ins[0][0]), self.index(1)
        row = int(np.prod(x.shape[1:], dtype=np.int64))
        out = backend.allocate((index.shape[0],) + tuple(x.shape[1:]), self.dtype)
        n = out.size
        if n:
            if x.size == 0:
                raise IndexError(f"{self.node.op}: index into an empty axis (indexed shape {x.shape})")
            self.bad.fill(0)
            global_size, local = elementwise_launch(n, backend.max_local)
            self.kernel(global_size, local, np.int64(n), np.int64(row), np.int64(x.shape[0]), _buffer(x, self.context),
                        _buffer(index, self.context), _buffer(out, self.context), backend.buffer(self.bad))
            self.check(x.shape, f"an index is out of range for axis 0 of size {x.shape[0]}")
        self.out[0] = out


class TakePairsThunk(_Indexing):
    """``x[rows, cols]``: one element per pair of indices."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        super().__init__(node, ins, outs, context, "take_pairs")

    def __call__(self) -> None:
        backend, c = self.context.backend, self.context
        x, rows, cols = backend.contiguous(self.ins[0][0]), self.index(1), self.index(2)
        n = self.pair_length(rows, cols)
        out = backend.allocate((n,), self.dtype)
        if n:
            self.bad.fill(0)
            global_size, local = elementwise_launch(n, backend.max_local)
            self.kernel(global_size, local, np.int64(n), np.int64(x.shape[0]), np.int64(x.shape[1]), _buffer(x, c),
                        _buffer(rows, c), np.int64(len(rows) > 1), _buffer(cols, c), np.int64(len(cols) > 1),
                        _buffer(out, c), backend.buffer(self.bad))
            self.check(x.shape)
        self.out[0] = out


class AddAtPairsThunk(_Indexing):
    """``x[rows, cols] += y`` (``set_subtensor``: ``=``), repeated pairs accumulating."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        super().__init__(node, ins, outs, context, "add_at_pairs")

    def __call__(self) -> None:
        backend, c, op = self.context.backend, self.context, self.node.op
        x, y = self.ins[0][0], backend.contiguous(self.ins[1][0])
        rows, cols = self.index(2), self.index(3)
        n = self.pair_length(rows, cols)
        if y.ndim == 1 and y.shape[0] not in (1, n):
            raise ValueError(f"{op}: {y.shape[0]} values for {n} index pairs")
        out = x if op.inplace and x.flags.c_contiguous else backend.contiguous(x).copy()
        if n:
            self.bad.fill(0)
            self.kernel((1,), (1,), np.int64(n), np.int64(x.shape[0]), np.int64(x.shape[1]), _buffer(out, c),
                        _buffer(y, c), np.int64(y.size > 1), _buffer(rows, c), np.int64(len(rows) > 1),
                        _buffer(cols, c), np.int64(len(cols) > 1), np.int32(op.set_instead_of_inc),
                        backend.buffer(self.bad))
            self.check(x.shape)
        self.out[0] = out


@REGISTRY.register(AdvancedSubtensor)
def advanced_subtensor_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return (TakePairsThunk if takes_pairs(node) else TakeRowsThunk)(node, ins, outs, context)


@REGISTRY.register(AdvancedIncSubtensor)
def advanced_inc_subtensor_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return AddAtPairsThunk(node, ins, outs, context)
