"""Device thunks, for every device API (OpenCL, CUDA): transfers, loop kernels and the
structured kernels, launched with ``launch``'s arithmetic through the backend's API
(``kernel``, ``buffer``, ``int64``, ``view``, ``allocate``). Device values are the API's
array objects (``pyopencl.array.Array``, ``pycuda.gpuarray.GPUArray``)."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ...graph import Apply, Constant
from ...ops.blas import Dot, Gemm
from ...ops.elemwise import DimShuffle, Elemwise, check_broadcast
from ...ops.fused import FusedReduce
from ...ops.nnet import LogSoftmax, Softmax, SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad
from ...ops.random import RandomVariable
from ...ops.reduce import Argmax, Reduce
from ...ops.transfer import ToDevice, ToHost
from ..backend import ThunkRegistry
from ..launch import elementwise_launch, gemm_launch, reduction_launch
from ..layout import elem_strides, reduction_layout

REGISTRY = ThunkRegistry()


class DeviceContext:
    """What one function's device thunks share: the backend, its built program, the kernels."""

    def __init__(self, backend: Any, program: Any, kernels: dict) -> None:
        self.backend, self.program, self.kernels = backend, program, kernels

    def kernel(self, name: str) -> Any:
        return self.backend.kernel(self.program, name)


@REGISTRY.register(ToDevice)
def to_device(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    backend, (cell,), (out,) = context.backend, ins, outs
    if isinstance(node.inputs[0], Constant):  # copied once, not at every call
        value = backend.to_device(node.inputs[0].data)

        def run_constant() -> None:
            out[0] = value
        return run_constant

    def run() -> None:
        out[0] = backend.to_device(cell[0])
    return run


@REGISTRY.register(ToHost)
def to_host(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    backend, (cell,), (out,) = context.backend, ins, outs

    def run() -> None:
        out[0] = backend.to_host(cell[0])
    return run


def _buffer(array: Any, context: DeviceContext) -> Any:
    return context.backend.buffer(array)


class ElementwiseThunk:
    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        name, kernel = context.kernels[node]
        self.node, self.ins, self.out, self.context = node, ins, outs[0], context
        # Each thunk its own kernel objects: a kernel holds its arguments, so one object
        # must not be shared by the instances that threads run.
        self.flat, self.strided = context.kernel(f"{name}_flat"), context.kernel(f"{name}_strided")
        self.scalar = kernel.input_scalar
        pattern = getattr(node.op, "inplace_pattern", ())
        self.inplace = pattern[0][1] if pattern else None
        self.dtype = kernel.out_dtype
        self.layouts: dict = {}

    def prepare(self) -> None:
        """Check the operands' shapes (raising as a call would) without writing anything."""
        arrays = [c[0] for c in self.ins]
        if any(a.shape != arrays[0].shape for a in arrays):
            check_broadcast(self.node, arrays)

    def __call__(self) -> None:
        arrays = [c[0] for c in self.ins]
        shapes = [a.shape for a in arrays]
        shape = shapes[0] if all(s == shapes[0] for s in shapes) else None
        if shape is None:
            check_broadcast(self.node, arrays)
            shape = tuple(np.broadcast_shapes(*shapes))
        target = arrays[self.inplace] if self.inplace is not None else None
        out = target if target is not None and target.shape == shape else \
            self.context.backend.allocate(shape, self.dtype)
        n = int(np.prod(shape, dtype=np.int64))
        if n:
            global_size, local = elementwise_launch(n, self.context.backend.max_local)
            buffers = [_buffer(a, self.context) for a in arrays + [out]]
            if all((s == shape and a.flags.c_contiguous) or (int(np.prod(s)) == 1 and sc)
                   for a, s, sc in zip(arrays, shapes, self.scalar)) and out.flags.c_contiguous:
                self.flat(global_size, local, np.int64(n), *buffers)
            else:
                key = (tuple(shapes), tuple(a.strides for a in arrays + [out]))
                layout = self.layouts.get(key)
                if layout is None:
                    strides = [elem_strides(a, shape) for a in arrays + [out]]
                    layout = self.layouts[key] = (self.context.backend.int64(list(shape)),
                                                  self.context.backend.int64(strides))
                self.strided(global_size, local, np.int32(len(shape)), np.int64(n),
                             *layout, *buffers)
        self.out[0] = out


class ReductionThunk:
    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        name, kernel = context.kernels[node]
        self.node, self.ins, self.out, self.context = node, ins, outs[0], context
        self.fn = context.kernel(f"{name}_reduce")
        self.axes, self.op, self.dtype = kernel.reduce_axes, kernel.reduce_op, kernel.out_dtype
        self.layouts: dict = {}

    def __call__(self) -> None:
        arrays = [c[0] for c in self.ins]
        shapes = [a.shape for a in arrays]
        if any(s != shapes[0] for s in shapes):
            check_broadcast(self.node, arrays)
        shape = tuple(np.broadcast_shapes(*shapes))
        if self.op in ("maximum", "minimum") and any(shape[a] == 0 for a in self.axes):
            raise ValueError(f"{self.node.op}: cannot take the {self.op} over an empty axis (shape {shape})")
        out = self.context.backend.allocate(tuple(s for d, s in enumerate(shape) if d not in self.axes), self.dtype)
        if out.size:
            key = (tuple(shapes), tuple(a.strides for a in arrays))
            layout = self.layouts.get(key)
            if layout is None:
                kept, reduced, kept_strides, reduced_strides = reduction_layout(arrays, shape, out, self.axes)
                outer, inner = int(np.prod(kept, dtype=np.int64)), int(np.prod(reduced, dtype=np.int64))
                layout = self.layouts[key] = (
                    reduction_launch(outer, inner, self.context.backend.max_local),
                    (np.int32(len(kept)), np.int32(len(reduced)), np.int64(outer), np.int64(inner),
                     *[self.context.backend.int64(v) for v in (kept, reduced, kept_strides, reduced_strides)]))
            (global_size, local), args = layout
            self.fn(global_size, local, *args, *[_buffer(a, self.context) for a in arrays + [out]])
        self.out[0] = out


@REGISTRY.register(Elemwise, FusedReduce, Reduce)
def loop_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    name, kernel = context.kernels[node]
    return (ReductionThunk if kernel.is_reduction else ElementwiseThunk)(node, ins, outs, context)


@REGISTRY.register(DimShuffle)
def dimshuffle_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    """A view: the same buffer with permuted strides (broadcast dims get stride 0)."""
    op, (cell,), (out,) = node.op, ins, outs
    order = list(op.new_order)

    def run() -> None:
        x = cell[0]
        for d in op.drop:
            if x.shape[d] != 1:
                raise ValueError(f"{op}: dim {d} has size {x.shape[d]}, not 1, so it cannot be dropped")
        shape = tuple(1 if o == "x" else x.shape[o] for o in order)
        strides = tuple(0 if o == "x" else x.strides[o] for o in order)
        out[0] = context.backend.view(x, shape, strides)
    return run


class GemmThunk:
    """Dense products on the device: ``Dot`` (2-d) and ``Gemm``, through the backend's BLAS
    where it has one (``dense_product``), else the tiled kernel."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        self.node, self.ins, self.out, self.context = node, ins, outs[0], context
        self.dtype = node.outputs[0].dtype
        self.kernel = context.backend.kernel(context.backend.build(context.backend.renderer.gemm(self.dtype)), f"gemm_{self.dtype}")
        self.inplace = isinstance(node.op, Gemm) and node.op.inplace
        if isinstance(node.op, Dot):
            backend = context.backend
            self.one, self.zero = backend.to_device(np.ones(1, self.dtype)), backend.to_device(np.zeros(1, self.dtype))

    def prepare(self) -> tuple:
        cells = [c[0] for c in self.ins]
        z, x, y = (cells[0], cells[2], cells[3]) if len(cells) == 5 else (None, cells[0], cells[1])
        if x.shape[1] != y.shape[0]:
            raise ValueError(f"{self.node.op}: shapes {x.shape} and {y.shape} are not aligned")
        shape = (x.shape[0], y.shape[1])
        if z is not None and z.shape != shape and np.broadcast_shapes(z.shape, shape) != shape:
            raise ValueError(f"Gemm: z of shape {z.shape} does not fit dot(x, y) of shape {shape}")
        return shape

    def __call__(self) -> None:
        cells = [c[0] for c in self.ins]
        shape = self.prepare()
        if len(cells) == 5:
            z, alpha, x, y, beta = cells
        else:
            (x, y), z, alpha, beta = cells, None, self.one, self.zero
        if self.inplace and z.shape == shape and z.flags.c_contiguous:
            out = z
        else:
            out = self.context.backend.allocate(shape, self.dtype)
        M, N, K = shape[0], shape[1], x.shape[1]
        if out.size and not self.context.backend.dense_product(alpha, x, y, beta, z, out):
            item = np.dtype(self.dtype).itemsize
            zs = [0, 0] if z is None else [0 if z.shape[d] == 1 else z.strides[d] // item for d in (0, 1)]
            global_size, local = gemm_launch(M, N)
            c = self.context
            self.kernel(global_size, local, np.int64(M), np.int64(N), np.int64(K),
                        _buffer(alpha, c), _buffer(beta, c),
                        _buffer(x, c), np.int64(x.strides[0] // item), np.int64(x.strides[1] // item),
                        _buffer(y, c), np.int64(y.strides[0] // item), np.int64(y.strides[1] // item),
                        _buffer(out if z is None else z, c), np.int64(zs[0]), np.int64(zs[1]), _buffer(out, c))
        self.out[0] = out


def gemm_supported(node: Apply) -> bool:
    """2-d products whose operands all have the output's float dtype."""
    op, dtype = node.op, node.outputs[0].dtype
    operands = node.inputs if isinstance(op, Dot) else node.inputs[2:4] if isinstance(op, Gemm) else None
    return (operands is not None and dtype in ("float32", "float64") and all(v.ndim == 2 for v in operands)
            and all(v.dtype == dtype for v in node.inputs))


@REGISTRY.register(Dot, Gemm)
def gemm_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return GemmThunk(node, ins, outs, context)


def _int64(array: Any) -> Any:
    return array if array.dtype == np.int64 else array.astype(np.int64)


class CrossentropyThunk:
    """``SoftmaxCrossentropy1Hot`` on the device: one work-group per row."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        self.node, self.ins, self.outs, self.context = node, ins, outs, context
        self.dtype = node.outputs[1].dtype
        program = context.backend.build(context.backend.renderer.softmax_crossentropy(self.dtype))
        self.kernel = context.backend.kernel(program, f"xent_{self.dtype}")
        self.bad = context.backend.allocate((1,), "int32")

    def __call__(self) -> None:
        z, y = self.ins[0][0], self.context.backend.contiguous(self.ins[1][0])
        if len(y) != z.shape[0]:
            raise ValueError(f"SoftmaxCrossentropy1Hot: {z.shape[0]} rows of scores but {len(y)} labels")
        backend, c = self.context.backend, self.context
        nll, sm = backend.allocate((z.shape[0],), self.dtype), backend.allocate(z.shape, self.dtype)
        if z.size:
            self.bad.fill(0)
            item = z.dtype.itemsize
            global_size, local = reduction_launch(z.shape[0], z.shape[1], backend.max_local)
            self.kernel(global_size, local, np.int64(z.shape[0]), np.int64(z.shape[1]), _buffer(z, c),
                        np.int64(z.strides[0] // item), np.int64(z.strides[1] // item), _buffer(_int64(y), c),
                        _buffer(nll, c), _buffer(sm, c), self.context.backend.buffer(self.bad))
            if self.bad.get()[0]:  # a 4-byte read: a label out of range must not pass silently
                raise IndexError(f"SoftmaxCrossentropy1Hot: labels must be in [0, {z.shape[1]})")
        self.outs[0][0], self.outs[1][0] = nll, sm


class CrossentropyGradThunk:
    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        self.node, self.ins, self.out, self.context = node, ins, outs[0], context
        self.dtype = node.outputs[0].dtype
        program = context.backend.build(context.backend.renderer.softmax_crossentropy(self.dtype))
        self.kernel = context.backend.kernel(program, f"xent_grad_{self.dtype}")

    def __call__(self) -> None:
        g, sm, y = (self.context.backend.contiguous(cell[0]) for cell in self.ins)
        c = self.context
        out = c.backend.allocate(sm.shape, self.dtype)
        if out.size:
            global_size, local = elementwise_launch(out.size, c.backend.max_local)
            self.kernel(global_size, local, np.int64(sm.shape[0]), np.int64(sm.shape[1]),
                        _buffer(g, c), _buffer(sm, c), _buffer(_int64(y), c), _buffer(out, c))
        self.out[0] = out


@REGISTRY.register(SoftmaxCrossentropy1Hot)
def crossentropy_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return CrossentropyThunk(node, ins, outs, context)


@REGISTRY.register(SoftmaxCrossentropy1HotGrad)
def crossentropy_grad_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return CrossentropyGradThunk(node, ins, outs, context)


class RowThunk:
    """Softmax, log-softmax, argmax and argmin along the last axis of a matrix."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        self.node, self.ins, self.out, self.context = node, ins, outs[0], context
        op, dtype = node.op, node.inputs[0].dtype
        kind = {Softmax: "softmax", LogSoftmax: "log_softmax"}.get(type(op)) or (
            "argmin" if op.minimum else "argmax")
        self.out_dtype = node.outputs[0].dtype
        program = context.backend.build(context.backend.renderer.row_kernels(dtype))
        self.kernel = context.backend.kernel(program, f"{kind}_{dtype}")
        self.reduces = kind.startswith("arg")

    def __call__(self) -> None:
        z = self.ins[0][0]
        c = self.context
        rows, cols = z.shape
        if self.reduces and cols == 0:
            raise ValueError(f"{self.node.op}: argmax of an empty array (shape {z.shape})")
        out = c.backend.allocate((rows,) if self.reduces else z.shape, self.out_dtype)
        if out.size:
            item = z.dtype.itemsize
            global_size, local = reduction_launch(rows, cols, c.backend.max_local)
            self.kernel(global_size, local, np.int64(rows), np.int64(cols), _buffer(z, c),
                        np.int64(z.strides[0] // item), np.int64(z.strides[1] // item), _buffer(out, c))
        self.out[0] = out


def along_rows(node: Apply) -> bool:
    """A softmax, log-softmax, argmax or argmin along the last axis of a float matrix."""
    op = node.op
    if not node.inputs or node.inputs[0].ndim != 2 or not node.inputs[0].dtype.startswith("float"):
        return False
    return (isinstance(op, (Softmax, LogSoftmax)) and op.axis == 1) or (isinstance(op, Argmax) and op.axis == 1)


@REGISTRY.register(Softmax, LogSoftmax, Argmax)
def row_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return RowThunk(node, ins, outs, context)


class RandomThunk:
    """A ``RandomVariable`` drawn on the device: one draw from the host generator (which
    advances the stream, so checkpoints and seeds work as on the host) keys a counter-based
    sample computed on the device; nothing but that 8-byte key crosses over."""

    def __init__(self, node: Apply, ins: list, outs: list, context: DeviceContext) -> None:
        self.node, self.ins, self.outs, self.context = node, ins, outs, context
        op = node.op
        self.ndim, self.dist, self.dtype = op.ndim, op.dist, op.dtype
        program = context.backend.build(context.backend.renderer.random(op.dtype))
        self.kernel = context.backend.kernel(program, f"{op.dist}_{op.dtype}")

    def __call__(self) -> None:
        rng, size, *params = (cell[0] for cell in self.ins)
        if any(np.size(p) != 1 for p in params):
            raise ValueError(f"{self.node.op}: on a device, distribution parameters must be scalars")
        new_rng = copy.deepcopy(rng)
        key = int(new_rng.integers(0, 2 ** 63 - 1))
        shape = tuple(int(s) for s in size) if np.size(size) or self.ndim == 0 else ()
        out = self.context.backend.allocate(shape, self.dtype)
        if out.size:
            first, second = (np.asarray(p).item() for p in params)
            second_arg = np.float64(second)
            first_arg = np.int64(first) if self.dist == "binomial" else np.float64(first)
            global_size, local = elementwise_launch(out.size, self.context.backend.max_local)
            self.kernel(global_size, local, np.int64(out.size), np.uint64(key), first_arg, second_arg,
                        _buffer(out, self.context))
        self.outs[0][0], self.outs[1][0] = new_rng, out


def random_supported(node: Apply) -> bool:
    """Uniform, normal and binomial draws with scalar parameters, into a number dtype."""
    op = node.op
    return (isinstance(op, RandomVariable) and op.dist in ("uniform", "normal", "binomial")
            and all(all(v.broadcastable) for v in node.inputs[2:]) and op.dtype != "bool")


@REGISTRY.register(RandomVariable)
def random_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    return RandomThunk(node, ins, outs, context)


from . import conv, indexing  # noqa: E402,F401  (register their thunks)
