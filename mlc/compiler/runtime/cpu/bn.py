"""Batch-normalization thunks on the CPU: ``BatchNormTrain`` and its gradient through
``codegen.c_bn``'s kernels when the kept axes are one contiguous block (float32/float64);
otherwise the ops' NumPy performs."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...codegen import Program
from ...codegen.c_bn import CTYPES, bn_program
from ...graph import Apply
from ...ops.bn import BatchNormTrain, BatchNormTrainGrad
from .thunks import LIBRARIES, REGISTRY, Pointers, load_library


def blocks(shape: tuple, axes: tuple) -> tuple | None:
    """``(A, C, B)`` when the kept axes are contiguous (normalized axes before and after)."""
    kept = [d for d in range(len(shape)) if d not in axes]
    if not kept or kept != list(range(kept[0], kept[-1] + 1)):
        return None
    prod = lambda dims: int(np.prod(dims, dtype=np.int64))  # noqa: E731
    return prod(shape[:kept[0]]), prod(shape[kept[0]:kept[-1] + 1]), prod(shape[kept[-1] + 1:])


class BatchNormThunk:
    def __init__(self, node: Apply, ins: list, outs: list, built: Any) -> None:
        self.node, self.op, self.ins, self.outs = node, node.op, ins, outs
        self.dtype = node.outputs[0].dtype
        self.ptr, self.lib = Pointers(built[0]), built[1]
        self.train = isinstance(node.op, BatchNormTrain)

    def __call__(self) -> None:
        values = [np.ascontiguousarray(c[0], dtype=self.dtype) for c in self.ins]
        x = values[0]
        dims = blocks(x.shape, self.op.axes)
        stat_shape = tuple(1 if d in self.op.axes else s for d, s in enumerate(x.shape))
        params_fit = all(v.size == (dims[1] if dims else -1) for v in values[1:4 if self.train else 4])
        if dims is None or x.size == 0 or not params_fit:
            storage = [[None] for _ in self.outs]
            self.op.perform(self.node, [c[0] for c in self.ins], storage)
            for cell, value in zip(self.outs, storage):
                cell[0] = value[0]
            return
        ptr, results = self.ptr, [np.empty(x.shape, self.dtype), np.empty(stat_shape, self.dtype),
                                  np.empty(stat_shape, self.dtype)]
        if self.train:
            getattr(self.lib, f"bn_train_{self.dtype}")(*dims, self.op.epsilon, *[ptr(v) for v in values],
                                                        *[ptr(r) for r in results])
        else:
            if values[4].shape != x.shape:
                raise ValueError(f"{self.op}: output gradient of shape {values[4].shape}, expected {x.shape}")
            getattr(self.lib, f"bn_grad_{self.dtype}")(*dims, *[ptr(v) for v in values], *[ptr(r) for r in results])
        for cell, value in zip(self.outs, results):
            cell[0] = value


@LIBRARIES.register(BatchNormTrain, BatchNormTrainGrad)
def batch_norm_library(node: Apply) -> Program | None:
    dtype = node.outputs[0].dtype
    if dtype not in CTYPES or any(v.dtype != dtype for v in node.inputs):
        return None
    return bn_program(dtype)


@REGISTRY.register(BatchNormTrain, BatchNormTrainGrad)
def batch_norm_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    built = load_library(node)
    return None if built is None else BatchNormThunk(node, ins, outs, built)
