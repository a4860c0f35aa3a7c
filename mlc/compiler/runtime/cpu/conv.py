"""Convolution thunks on the CPU (float32 and float64): ``codegen.c_conv``'s drivers, which
lower one image at a time on mlc's OpenMP threads and call the BLAS themselves; where they
cannot run (no OpenBLAS or no OpenMP found, an empty batch), the ops' own batch-wide
lowering with the C im2col/col2im in place of NumPy's strided copies."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...codegen import Program
from ...codegen.c_conv import CTYPES, conv_program
from ...graph import Apply
from ...ops import conv as ops
from . import blas
from .thunks import LIBRARIES, REGISTRY, Pointers, load_library


class ConvThunk:
    """A convolution op on the CPU."""

    def __init__(self, node: Apply, built: Any, ins: list, outs: list) -> None:
        self.node, self.op, self.ins, self.out = node, node.op, ins, outs[0]
        self.dtype = node.outputs[0].dtype
        self.ptr, self.lib = Pointers(built[0]), built[1]
        found = blas.blas_pointers(built[0])
        self.blas = None if found is None else (found[0][self.dtype], *found[1:])
        self.failed = np.zeros(1, np.int32)
        self.direct = {ops.Conv2d: self.forward, ops.Conv2dGradInputs: self.grad_inputs,
                       ops.Conv2dGradWeights: self.grad_weights}[type(node.op)]

    def __call__(self) -> None:
        inputs = [c[0] for c in self.ins]
        if self.blas is not None and all(a.dtype == self.dtype and a.size for a in inputs[:2]):
            self.out[0] = self.direct(*inputs)
            return
        storage = [[None]]
        self.op.perform(self.node, inputs, storage, self)
        self.out[0] = storage[0][0]

    # -- the per-image drivers ------------------------------------------------------------
    def _run(self, name: str, ishape: Sequence[int], kshape: Sequence[int], *args: Any) -> None:
        p = self.op
        oshape = p.out_shape(ishape, kshape)
        sizes = (*ishape, *kshape[2:], *p.subsample, *p.filter_dilation, *p.pad(kshape[2:]), *oshape[2:])
        gemm, set_threads, get_threads = self.blas
        getattr(self.lib, f"{name}_{self.dtype}")(gemm, set_threads, get_threads(), *sizes, kshape[0], p.num_groups,
                                                  *args, self.ptr(self.failed))
        if self.failed[0]:
            self.failed[0] = 0
            raise MemoryError(f"{type(p).__name__}: no memory for the columns of one image of shape {tuple(ishape[1:])}")

    def _operand(self, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=self.dtype)

    def forward(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        self.op.check(x.shape, w.shape, "conv2d")
        out = np.empty(self.op.out_shape(x.shape, w.shape), self.dtype)
        x, wf = self._operand(x), self._operand(self.op.filters(w))
        self._run("conv_forward", x.shape, w.shape, self.ptr(x), self.ptr(wf), self.ptr(out))
        return out

    def grad_inputs(self, w: np.ndarray, gout: np.ndarray, shape: np.ndarray) -> np.ndarray:
        ishape = tuple(int(s) for s in shape)
        self.op.check_gradient(ishape, w.shape, gout.shape, "conv2d_grad_wrt_inputs")
        gx = np.empty(ishape, self.dtype)
        wf, gout = self._operand(self.op.filters(w)), self._operand(gout)
        self._run("conv_grad_inputs", ishape, w.shape, self.ptr(wf), self.ptr(gout), self.ptr(gx))
        return gx

    def grad_weights(self, x: np.ndarray, gout: np.ndarray, shape: np.ndarray) -> np.ndarray:
        kshape = tuple(int(s) for s in shape)
        self.op.check_gradient(x.shape, kshape, gout.shape, "conv2d_grad_wrt_weights")
        gw = np.empty(kshape, self.dtype)
        x, gout = self._operand(x), self._operand(gout)
        blocks = min(x.shape[0], blas.CORES)  # fixed by the machine, not by the threads that run
        self._run("conv_grad_weights", x.shape, kshape, blocks, self.ptr(x), self.ptr(gout), self.ptr(gw))
        return self.op.filters(gw)

    # -- the batch-wide lowering's C parts (``ops.conv``'s ``lowering``) -----------------
    def _sizes(self, ishape: Sequence[int], kshape: Sequence[int], out_hw: Sequence[int]) -> tuple:
        p = self.op
        return (*ishape, *kshape[2:], *p.subsample, *p.filter_dilation, *p.pad(kshape[2:]), *out_hw)

    def columns(self, p: Any, x: np.ndarray, kshape: Sequence[int]) -> tuple:
        x = self._operand(x)
        out_hw = p.out_shape(x.shape, kshape)[2:]
        cols = np.empty((x.shape[1] * kshape[2] * kshape[3], x.shape[0] * out_hw[0] * out_hw[1]), self.dtype)
        getattr(self.lib, f"im2col_{self.dtype}")(*self._sizes(x.shape, kshape, out_hw), self.ptr(x), self.ptr(cols))
        return cols, out_hw

    def scatter(self, p: Any, cols: np.ndarray, ishape: Sequence[int], kshape: Sequence[int],
                out_hw: Sequence[int]) -> np.ndarray:
        cols = self._operand(cols)
        gx = np.empty(tuple(int(s) for s in ishape), self.dtype)
        getattr(self.lib, f"col2im_{self.dtype}")(*self._sizes(gx.shape, kshape, out_hw), self.ptr(cols), self.ptr(gx))
        return gx

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` through mlc's products (one owner of the cores; see ``blas.gemm``)."""
        if a.dtype != b.dtype or a.dtype.char not in "fd" or a.ndim != 2 or b.ndim != 2:
            return a @ b
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        blas.gemm(1.0, a, b, 0.0, out)
        return out


@LIBRARIES.register(ops.Conv2d, ops.Conv2dGradInputs, ops.Conv2dGradWeights)
def conv_library(node: Apply) -> Program | None:
    dtype = node.outputs[0].dtype
    if dtype not in CTYPES or any(v.dtype != dtype for v in node.inputs[:2]):
        return None
    found = blas.cblas()
    return conv_program(dtype, "int64_t" if found is not None and found[2] else "int")


@REGISTRY.register(ops.Conv2d, ops.Conv2dGradInputs, ops.Conv2dGradWeights)
def conv_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    built = load_library(node)
    return None if built is None else ConvThunk(node, built, ins, outs)

