"""Convolution and pooling on the device: the CPU's lowering with ``codegen/gpu_conv.py``'s
kernels — im2col, one GEMM (the backend's BLAS, else the tiled kernel; transposed operands
as strided views, never copies), ``swap01`` for the NCHW ↔ CNHW layouts, col2im — and the
pooling kernels. One group only (``num_groups > 1`` stays on the host). ``Reshape`` is a
view of a contiguous device array."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...graph import Apply
from ...ops import conv as ops
from ...ops.bn import BatchNormTrain, BatchNormTrainGrad
from ...ops.pool import Pool, PoolGrad
from ...ops.shape import Reshape
from ..launch import elementwise_launch, gemm_launch
from .thunks import REGISTRY, DeviceContext, _buffer

POOL_MODES = {"sum": 0, "average_inc_pad": 1, "average_exc_pad": 2}


def conv_supported(node: Apply) -> bool:
    return (isinstance(node.op, (ops.Conv2d, ops.Conv2dGradInputs, ops.Conv2dGradWeights)) and node.op.num_groups == 1
            and node.outputs[0].dtype in ("float32", "float64") and all(v.dtype == node.outputs[0].dtype
                                                                          for v in node.inputs[:2]))


def pool_supported(node: Apply) -> bool:
    return (isinstance(node.op, (Pool, PoolGrad)) and node.outputs[0].dtype in ("float32", "float64")
            and all(v.dtype == node.outputs[0].dtype for v in node.inputs))


class _DeviceOp:
    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext, program: str) -> None:
        self.node, self.op, self.ins, self.out, self.context = node, node.op, ins, outs[0], context
        self.dtype = node.outputs[0].dtype
        backend = self.backend = context.backend
        self.module = backend.build(getattr(backend.renderer, program)(self.dtype))

    def launch(self, name: str, n: int, *args: Any) -> None:
        global_size, local = elementwise_launch(n, self.backend.max_local)
        self.backend.kernel(self.module, f"{name}_{self.dtype}")(global_size, local, *args)

    def buf(self, array: Any) -> Any:
        return _buffer(array, self.context)


class ConvThunk(_DeviceOp):
    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        super().__init__(node, ins, outs, context, "conv_kernels")
        backend = self.backend
        self.gemm_kernel = backend.kernel(backend.build(backend.renderer.gemm(self.dtype)), f"gemm_{self.dtype}")
        self.one, self.zero = backend.to_device(np.ones(1, self.dtype)), backend.to_device(np.zeros(1, self.dtype))

    def sizes(self, ishape: tuple, kshape: tuple, out_hw: tuple) -> list:
        p = self.op
        return [np.int64(v) for v in (*ishape, *kshape[2:], *p.subsample, *p.filter_dilation, *p.pad(kshape[2:]),
                                      *out_hw)]

    def matmul(self, a: Any, b: Any, out: Any) -> None:
        """``out = a @ b`` (2-d; ``a``, ``b`` any strides, ``out`` contiguous)."""
        backend = self.backend
        (M, K), N = a.shape, b.shape[1]
        if backend.dense_product(self.one, a, b, self.zero, None, out):
            return
        item = np.dtype(self.dtype).itemsize
        st = lambda v: [np.int64(s // item) for s in v.strides]  # noqa: E731
        global_size, local = gemm_launch(M, N)
        self.gemm_kernel(global_size, local, np.int64(M), np.int64(N), np.int64(K), self.buf(self.one),
                         self.buf(self.zero), self.buf(a), *st(a), self.buf(b), *st(b), self.buf(out), np.int64(0),
                         np.int64(0), self.buf(out))

    def columns(self, x: Any, kshape: tuple, out_hw: tuple) -> Any:
        n, c = x.shape[:2]
        cols = self.backend.allocate((c * kshape[2] * kshape[3], n * out_hw[0] * out_hw[1]), self.dtype)
        self.launch("im2col", cols.size, *self.sizes(x.shape, kshape, out_hw), np.int32(self.op.filter_flip),
                    self.buf(x), self.buf(cols))
        return cols

    def swap01(self, src: Any, a: int, b: int, p: int) -> Any:
        """``(b, a, p)`` → ``(a, b, p)``."""
        dst = self.backend.allocate((a, b, p), self.dtype)
        self.launch("swap01", a * b * p, np.int64(a), np.int64(b), np.int64(p), self.buf(src), self.buf(dst))
        return dst

    def transposed(self, m: Any) -> Any:
        item = np.dtype(self.dtype).itemsize
        return self.backend.view(m, (m.shape[1], m.shape[0]), (item, m.shape[1] * item))

    def __call__(self) -> None:
        backend, op = self.backend, self.op
        values = [backend.contiguous(c[0]) for c in self.ins[:2]]
        if isinstance(op, ops.Conv2d):
            x, w = values
            op.check(x.shape, w.shape, "conv2d")
            (n, o, oh, ow) = op.out_shape(x.shape, w.shape)
            cols = self.columns(x, w.shape, (oh, ow))
            flat = backend.allocate((o, n * oh * ow), self.dtype)
            self.matmul(backend.view(w, (o, int(np.prod(w.shape[1:]))), (w.strides[0], w.dtype.itemsize)), cols, flat)
            self.out[0] = backend.view(self.swap01(flat, n, o, oh * ow), (n, o, oh, ow), _strides((n, o, oh, ow), w))
            return
        shape = tuple(int(s) for s in self.ins[2][0])
        if isinstance(op, ops.Conv2dGradWeights):
            x, g = values
            op.check(x.shape, shape, "conv2d_grad_wrt_weights")
            (n, o, oh, ow) = g.shape
            cols = self.columns(x, shape, (oh, ow))
            g_by_channel = self.swap01(g, o, n, oh * ow)
            gw = backend.allocate(shape, self.dtype)
            self.matmul(backend.view(g_by_channel, (o, n * oh * ow), (n * oh * ow * g.dtype.itemsize, g.dtype.itemsize)),
                        self.transposed(cols), backend.view(gw, (o, int(np.prod(shape[1:]))),
                                                            (gw.strides[0], gw.dtype.itemsize)))
            self.out[0] = gw
            return
        w, g = values
        op.check(shape, w.shape, "conv2d_grad_wrt_inputs")
        if g.shape != op.out_shape(shape, w.shape):
            raise ValueError(f"conv2d_grad_wrt_inputs: output gradient of shape {g.shape} does not fit an input of "
                             f"shape {shape} and filters {w.shape}")
        (n, o, oh, ow), k = g.shape, int(np.prod(w.shape[1:]))
        g_by_channel = self.swap01(g, o, n, oh * ow)
        cols = backend.allocate((k, n * oh * ow), self.dtype)
        item = w.dtype.itemsize
        self.matmul(backend.view(w, (k, o), (item, k * item)),
                    backend.view(g_by_channel, (o, n * oh * ow), (n * oh * ow * item, item)), cols)
        gx = backend.allocate(shape, self.dtype)
        self.launch("col2im", gx.size, *self.sizes(shape, w.shape, (oh, ow)), np.int32(op.filter_flip),
                    self.buf(cols), self.buf(gx))
        self.out[0] = gx


def _strides(shape: tuple, like: Any) -> tuple:
    item, strides, step = like.dtype.itemsize, [], 1
    for s in reversed(shape):
        strides.append(step * item)
        step *= s
    return tuple(reversed(strides))


class PoolThunk(_DeviceOp):
    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        super().__init__(node, ins, outs, context, "pool_kernels")

    def __call__(self) -> None:
        backend, op = self.backend, self.op
        x = backend.contiguous(self.ins[0][0])
        out_shape = op.out_shape(x.shape)
        planes = int(np.prod(x.shape[:-2], dtype=np.int64))
        sizes = [np.int64(v) for v in (planes, x.shape[-2], x.shape[-1], *out_shape[-2:], *op.ws, *op.stride, *op.pad)]
        if 0 in out_shape or x.size == 0:
            self.out[0] = backend.to_device(np.zeros(out_shape if not isinstance(op, PoolGrad) else x.shape, self.dtype))
            return
        pooled = backend.allocate(out_shape, self.dtype)
        if not isinstance(op, PoolGrad):
            if op.mode == "max":
                arg = backend.allocate(out_shape, "int64")
                self.launch("pool_max", pooled.size, *sizes, self.buf(x), self.buf(pooled), self.buf(arg))
            else:
                self.launch("pool_sum", pooled.size, *sizes, np.int32(POOL_MODES[op.mode]), self.buf(x), self.buf(pooled))
            self.out[0] = pooled
            return
        g = backend.contiguous(self.ins[1][0])
        if tuple(g.shape) != tuple(out_shape):
            raise ValueError(f"pool_2d gradient: output gradient of shape {g.shape}, expected {out_shape}")
        gx = backend.allocate(x.shape, self.dtype)
        if op.mode == "max":
            arg = backend.allocate(out_shape, "int64")
            self.launch("pool_max", pooled.size, *sizes, self.buf(x), self.buf(pooled), self.buf(arg))
            self.launch("pool_max_grad", gx.size, *sizes, self.buf(arg), self.buf(g), self.buf(gx))
        else:
            self.launch("pool_sum_grad", gx.size, *sizes, np.int32(POOL_MODES[op.mode]), self.buf(g), self.buf(gx))
        self.out[0] = gx


class BatchNormThunk(_DeviceOp):
    """``BatchNormTrain`` and its gradient when the kept axes are one block (``blocks``)."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        super().__init__(node, ins, outs, context, "bn_kernels")
        self.outs = outs

    def __call__(self) -> None:
        from ..cpu.bn import blocks
        backend, op = self.backend, self.op
        values = [backend.contiguous(c[0]) for c in self.ins]
        x = values[0]
        dims = blocks(tuple(x.shape), op.axes)
        n = len(values) - 1 if isinstance(op, BatchNormTrain) else 4
        if any(v.size != dims[1] for v in values[1:n]):
            raise ValueError(f"{op}: parameters of sizes {[v.size for v in values[1:n]]} do not fit {dims[1]} channels")
        stat_shape = tuple(1 if d in op.axes else s for d, s in enumerate(x.shape))
        a, c, b = (np.int64(v) for v in dims)
        if isinstance(op, BatchNormTrain):
            _, gamma, beta = values
            mean, inv = backend.allocate(stat_shape, self.dtype), backend.allocate(stat_shape, self.dtype)
            out = backend.allocate(tuple(x.shape), self.dtype)
            self.launch("bn_stats", dims[1], a, c, b, np.dtype(self.dtype).type(op.epsilon), self.buf(x),
                        self.buf(mean), self.buf(inv))
            self.launch("bn_apply", x.size, a, c, b, *[self.buf(v) for v in (x, gamma, beta, mean, inv, out)])
            results = (out, mean, inv)
        else:
            _, gamma, mean, inv, dy = values
            dg, db = backend.allocate(stat_shape, self.dtype), backend.allocate(stat_shape, self.dtype)
            dx = backend.allocate(tuple(x.shape), self.dtype)
            self.launch("bn_sums", dims[1], a, c, b, *[self.buf(v) for v in (x, mean, inv, dy, dg, db)])
            self.launch("bn_dx", x.size, a, c, b, *[self.buf(v) for v in (x, gamma, mean, inv, dy, dg, db, dx)])
            results = (dx, dg, db)
        for cell, value in zip(self.outs, results):
            cell[0] = value


def bn_supported(node: Apply) -> bool:
    from ..cpu.bn import blocks
    if not isinstance(node.op, (BatchNormTrain, BatchNormTrainGrad)) or node.outputs[0].dtype not in ("float32",
                                                                                                      "float64"):
        return False
    x = node.inputs[0]
    kept = [d for d in range(x.ndim) if d not in node.op.axes]
    return all(v.dtype == x.dtype for v in node.inputs) and blocks((2,) * x.ndim, node.op.axes) is not None and \
        bool(kept)


@REGISTRY.register(BatchNormTrain, BatchNormTrainGrad)
def batch_norm_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return BatchNormThunk(node, ins, outs, context)


@REGISTRY.register(Reshape)
def reshape_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    """A view of the contiguous array with the new shape (the shape argument is on the host),
    as images go from rows to ``(N, C, H, W)`` and back."""
    backend = context.backend

    def run() -> None:
        x = backend.contiguous(ins[0][0])
        shape = [int(s) for s in ins[1][0]]
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1]))
            shape[shape.index(-1)] = x.size // known if known else 0
        if int(np.prod(shape)) != x.size:
            raise ValueError(f"Reshape: cannot reshape an array of shape {tuple(x.shape)} (size {x.size}) into shape "
                             f"{tuple(int(s) for s in ins[1][0])}")
        outs[0][0] = backend.view(x, tuple(shape), _strides(tuple(shape), x))
    return run


@REGISTRY.register(ops.Conv2d, ops.Conv2dGradInputs, ops.Conv2dGradWeights)
def conv_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return ConvThunk(node, ins, outs, context)


@REGISTRY.register(Pool, PoolGrad)
def pool_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return PoolThunk(node, ins, outs, context)
