"""Convolution thunks on the CPU: the ops' GEMM lowering with ``codegen.c_conv``'s C
im2col/col2im (OpenMP) in place of NumPy's strided copies (float32 and float64)."""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from ...codegen import Program
from ...codegen.c_conv import CTYPES, conv_program
from ...graph import Apply
from ...ops import conv as ops
from .blas import gemm
from .thunks import LIBRARIES, REGISTRY, Pointers, load_library


def _same_lowering(a: Apply, b: Apply) -> bool:
    """Two nodes whose im2col of their first input is the same array."""
    return a.inputs[0] is b.inputs[0] and a.op._props() == b.op._props()


class ConvThunk:
    """A convolution op on the CPU. In a train step the forward convolution's im2col of its
    input is what the weights' gradient needs again: the forward leaves it (per thread) for
    that later node, which takes it if the input is still the same array."""

    def __init__(self, node: Apply, ins: list, outs: list, built: Any, context: Any) -> None:
        self.node, self.op, self.ins, self.out = node, node.op, ins, outs[0]
        self.dtype = node.outputs[0].dtype
        self.ptr, self.lib = Pointers(built[0]), built[1]
        self.scratch, self.key = context.scratch, id(node.inputs[0])
        others = [n for n in context.nodes if n is not node and _same_lowering(n, node)]
        self.leaves = isinstance(node.op, ops.Conv2d) and any(isinstance(n.op, ops.Conv2dGradWeights) for n in others)
        self.takes = isinstance(node.op, ops.Conv2dGradWeights) and any(isinstance(n.op, ops.Conv2d) for n in others)

    def _sizes(self, ishape: Sequence[int], kshape: Sequence[int], out_hw: Sequence[int]) -> tuple:
        p = self.op
        return (*ishape, *kshape[2:], *p.subsample, *p.filter_dilation, *p.pad(kshape[2:]), *out_hw)

    def columns(self, p: Any, x: np.ndarray, kshape: Sequence[int]) -> tuple:
        key = (self.key, threading.get_ident())
        if self.takes:
            left = self.scratch.pop(key, None)
            if left is not None and left[0] == (x.__array_interface__["data"][0], x.shape, x.strides):
                return left[1]
        made = self._columns(p, x, kshape)
        if self.leaves:
            self.scratch[key] = ((x.__array_interface__["data"][0], x.shape, x.strides), made)
        return made

    def _columns(self, p: Any, x: np.ndarray, kshape: Sequence[int]) -> tuple:
        x = np.ascontiguousarray(x, dtype=self.dtype)
        out_hw = p.out_shape(x.shape, kshape)[2:]
        cols = np.empty((x.shape[1] * kshape[2] * kshape[3], x.shape[0] * out_hw[0] * out_hw[1]), self.dtype)
        getattr(self.lib, f"im2col_{self.dtype}")(*self._sizes(x.shape, kshape, out_hw), self.ptr(x), self.ptr(cols))
        return cols, out_hw

    def scatter(self, p: Any, cols: np.ndarray, ishape: Sequence[int], kshape: Sequence[int],
                out_hw: Sequence[int]) -> np.ndarray:
        cols = np.ascontiguousarray(cols, dtype=self.dtype)
        gx = np.empty(tuple(int(s) for s in ishape), self.dtype)
        getattr(self.lib, f"col2im_{self.dtype}")(*self._sizes(gx.shape, kshape, out_hw), self.ptr(cols), self.ptr(gx))
        return gx

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` through mlc's products (one owner of the cores; see ``blas.gemm``)."""
        if a.dtype != b.dtype or a.dtype.char not in "fd" or a.ndim != 2 or b.ndim != 2:
            return a @ b
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        gemm(1.0, a, b, 0.0, out)
        return out

    def __call__(self) -> None:
        storage = [[None]]
        self.op.perform(self.node, [c[0] for c in self.ins], storage, self)
        self.out[0] = storage[0][0]


@LIBRARIES.register(ops.Conv2d, ops.Conv2dGradInputs, ops.Conv2dGradWeights)
def conv_library(node: Apply) -> Program | None:
    dtype = node.outputs[0].dtype
    if dtype not in CTYPES or any(v.dtype != dtype for v in node.inputs[:2]):
        return None
    return conv_program(dtype)


@REGISTRY.register(ops.Conv2d, ops.Conv2dGradInputs, ops.Conv2dGradWeights)
def conv_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    built = load_library(node)
    return None if built is None else ConvThunk(node, ins, outs, built, context)
