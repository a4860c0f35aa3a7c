"""OpenCL thunks: transfers, and loop kernels launched with ``launch``'s arithmetic.
Device values are ``pyopencl.array.Array`` objects, C-contiguous (this backend makes them)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...graph import Apply
from ...ops.elemwise import Elemwise, check_broadcast
from ...ops.fused import FusedReduce
from ...ops.reduce import Reduce
from ...ops.transfer import ToDevice, ToHost
from ..backend import ThunkRegistry
from ..launch import elementwise_launch, reduction_launch
from ..layout import elem_strides, reduction_layout

REGISTRY = ThunkRegistry()


class DeviceContext:
    """What one function's device thunks share: the backend, its built program, the kernels."""

    def __init__(self, backend: Any, program: Any, kernels: dict) -> None:
        self.backend, self.program, self.kernels = backend, program, kernels
        self.queue = backend.queue

    def kernel(self, name: str) -> Any:
        import pyopencl as cl
        return cl.Kernel(self.program, name)

    def int64_buffer(self, values: list) -> Any:
        """A small read-only device array of int64 (shapes, strides); never empty."""
        import pyopencl as cl
        data = np.array(values or [0], dtype=np.int64).ravel()
        if not data.size:
            data = np.zeros(1, np.int64)
        return cl.Buffer(self.backend.context, cl.mem_flags.READ_ONLY | cl.mem_flags.COPY_HOST_PTR, hostbuf=data)


@REGISTRY.register(ToDevice)
def to_device(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    backend, (cell,), (out,) = context.backend, ins, outs

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
    if array.size == 0:  # OpenCL has no empty buffers; the kernel reads none of it
        return context.int64_buffer([0])
    return array.base_data if array.offset == 0 else array.data


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
            if all(s == shape or int(np.prod(s)) == 1 and sc for s, sc in zip(shapes, self.scalar)):
                self.flat(self.context.queue, global_size, local, np.int64(n), *buffers)
            else:
                key = tuple(shapes)
                layout = self.layouts.get(key)
                if layout is None:
                    strides = [elem_strides(a, shape) for a in arrays + [out]]
                    layout = self.layouts[key] = (self.context.int64_buffer(list(shape)),
                                                  self.context.int64_buffer(strides))
                self.strided(self.context.queue, global_size, local, np.int32(len(shape)), np.int64(n),
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
            key = tuple(shapes)
            layout = self.layouts.get(key)
            if layout is None:
                kept, reduced, kept_strides, reduced_strides = reduction_layout(arrays, shape, out, self.axes)
                outer, inner = int(np.prod(kept, dtype=np.int64)), int(np.prod(reduced, dtype=np.int64))
                layout = self.layouts[key] = (
                    reduction_launch(outer, inner, self.context.backend.max_local),
                    (np.int32(len(kept)), np.int32(len(reduced)), np.int64(outer), np.int64(inner),
                     *[self.context.int64_buffer(v) for v in (kept, reduced, kept_strides, reduced_strides)]))
            (global_size, local), args = layout
            self.fn(self.context.queue, global_size, local, *args, *[_buffer(a, self.context) for a in arrays + [out]])
        self.out[0] = out


@REGISTRY.register(Elemwise, FusedReduce, Reduce)
def loop_thunk(node: Apply, ins: list, outs: list, context: DeviceContext) -> Any:
    name, kernel = context.kernels[node]
    return (ReductionThunk if kernel.is_reduction else ElementwiseThunk)(node, ins, outs, context)
