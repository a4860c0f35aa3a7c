"""Softmax thunks on the CPU: ``Softmax``, ``LogSoftmax``, ``SoftmaxCrossentropy1Hot`` and
their gradients through ``codegen.c_xent``'s C kernels, over the last axis (float32 and
float64; other dtypes and axes, and empty rows, keep the NumPy ``perform``, which also words
the errors)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...codegen import Program
from ...codegen.c_xent import CTYPES, softmax_program, xent_program
from ...graph import Apply
from ...ops.nnet import (LogSoftmax, LogSoftmaxGrad, Softmax, SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad,
                         SoftmaxGrad)
from . import fastcall, toolchain
from .thunks import LIBRARIES, REGISTRY, Pointers, load_library


class XentThunk:
    def __init__(self, node: Apply, ins: list, outs: list, built: Any) -> None:
        self.node, self.ins, self.outs = node, ins, outs
        self.grad = isinstance(node.op, SoftmaxCrossentropy1HotGrad)
        self.dtype = node.outputs[0].dtype
        self.ptr = Pointers(built[0])
        self.fn = getattr(built[1], f"xent_grad_{self.dtype}" if self.grad else f"xent_{self.dtype}")
        self.bad = np.empty(1, np.int64)
        kinds = ("vml", "m") if self.grad else ("ml", "vm")
        self.call = fastcall.rows_call(ins, kinds[0], outs, kinds[1], self, self.fn, self.dtype, None) or self

    def _perform(self, values: list) -> None:
        storage = [[None] for _ in self.outs]
        self.node.op.perform(self.node, values, storage)
        for cell, value in zip(self.outs, storage):
            cell[0] = value[0]

    def __call__(self) -> None:
        values = [c[0] for c in self.ins]
        scores = values[1] if self.grad else values[0]
        y = values[-1]
        n, k = scores.shape
        if n == 0 or k == 0 or len(y) != n or (self.grad and values[0].shape != (n,)):
            return self._perform(values)  # nothing to compute, or an error perform words
        ptr, dtype, bad = self.ptr, self.dtype, self.bad
        scores = np.ascontiguousarray(scores, dtype=dtype)
        labels = np.ascontiguousarray(y, dtype=np.int64)
        if self.grad:
            out = np.empty((n, k), dtype)
            g = np.ascontiguousarray(values[0], dtype=dtype)
            self.fn(n, k, ptr(g), ptr(scores), ptr(labels), ptr(out), ptr(bad))
            outputs = (out,)
        else:
            nll, sm = np.empty(n, dtype), np.empty((n, k), dtype)
            self.fn(n, k, ptr(scores), ptr(labels), ptr(nll), ptr(sm), ptr(bad))
            outputs = (nll, sm)
        if bad[0] >= 0:
            return self._perform(values)  # raises perform's error naming the labels
        for cell, value in zip(self.outs, outputs):
            cell[0] = value


@LIBRARIES.register(SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad)
def xent_library(node: Apply) -> Program | None:
    dtype = node.outputs[0].dtype
    scores = node.inputs[1] if isinstance(node.op, SoftmaxCrossentropy1HotGrad) else node.inputs[0]
    if dtype not in CTYPES or scores.dtype != dtype:
        return None
    return xent_program(dtype, toolchain.features()[1])


@REGISTRY.register(SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad)
def xent_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    built = load_library(node)
    return None if built is None else XentThunk(node, ins, outs, built)


class SoftmaxThunk:
    """Softmax or log-softmax (``log``), or their gradient (``grad``), over the last axis."""

    def __init__(self, node: Apply, ins: list, outs: list, built: Any) -> None:
        self.node, self.ins, self.out = node, ins, outs[0]
        self.grad = isinstance(node.op, (SoftmaxGrad, LogSoftmaxGrad))
        self.log = int(isinstance(node.op, (LogSoftmax, LogSoftmaxGrad)))
        self.dtype = node.outputs[0].dtype
        self.ptr = Pointers(built[0])
        self.fn = getattr(built[1], f"softmax_grad_{self.dtype}" if self.grad else f"softmax_{self.dtype}")
        self.call = fastcall.rows_call(ins, "mm" if self.grad else "m", outs, "m", self, self.fn, self.dtype,
                                       self.log) or self

    def __call__(self) -> None:
        values = [c[0] for c in self.ins]
        shape = values[-1].shape
        if not shape or 0 in shape or any(v.shape != shape for v in values):
            storage = [[None]]
            self.node.op.perform(self.node, values, storage)  # nothing to compute, or perform's error
            self.out[0] = storage[0][0]
            return
        k = shape[-1]
        n = values[-1].size // k
        arrays = [np.ascontiguousarray(v, dtype=self.dtype) for v in values]
        out = np.empty(shape, self.dtype)
        self.fn(n, k, *[self.ptr(a) for a in arrays], self.ptr(out), self.log)
        self.out[0] = out


@LIBRARIES.register(Softmax, LogSoftmax, SoftmaxGrad, LogSoftmaxGrad)
def softmax_library(node: Apply) -> Program | None:
    dtype = node.outputs[0].dtype
    if dtype not in CTYPES or any(i.dtype != dtype for i in node.inputs) or node.op.axis != node.inputs[-1].ndim - 1:
        return None
    return softmax_program(dtype, toolchain.features()[1])


@REGISTRY.register(Softmax, LogSoftmax, SoftmaxGrad, LogSoftmaxGrad)
def softmax_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    built = load_library(node)
    return None if built is None else SoftmaxThunk(node, ins, outs, built)
