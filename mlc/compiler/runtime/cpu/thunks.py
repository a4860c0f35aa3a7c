"""CPU thunks for compiled loop kernels: elementwise (flat or strided entry point) and
(fused) reductions, over buffers kept between calls when nothing outside can see them."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...graph import Apply
from ...ops.elemwise import Elemwise, check_broadcast
from ...ops.fused import FusedReduce
from ...ops.reduce import Reduce
from ...codegen.loop_ir import LoopKernel
from ..backend import ThunkRegistry
from ..layout import elem_strides, reduction_layout
from . import fastcall

REGISTRY = ThunkRegistry()
# The fixed C library a node's thunk calls (one per op family and dtype, shared by every
# function), by op type: ``program(node) -> Program | None``. A function's libraries are
# compiled at the same time as its own kernels (see ``FunctionContext``).
LIBRARIES = ThunkRegistry()


def library_program(node: Apply) -> Any:
    """The ``Program`` of the library ``node``'s thunk calls; None when none applies to it
    (its op or its dtypes)."""
    find = LIBRARIES.lookup(node.op)
    return find(node) if find is not None else None


def load_library(node: Apply) -> Any:
    """``(ffi, lib)`` of the library ``node``'s thunk calls; None when none applies to it or
    when it cannot be built."""
    program = library_program(node)
    if program is None:
        return None
    from . import CPU
    return CPU.build(program)


class Pointers:
    """Turns arrays into C pointers for one cffi library: ``from_buffer`` (fast; refuses
    arrays that are not C-contiguous with ``ValueError``), else the data address."""

    def __init__(self, ffi: Any) -> None:
        import _cffi_backend
        self.ffi = ffi
        char_array, raw = ffi.typeof("char[]"), _cffi_backend.from_buffer
        self.contiguous = lambda a: raw(char_array, a, False)

    def __call__(self, a: np.ndarray) -> Any:
        try:
            return self.contiguous(a)
        except ValueError:
            return self.ffi.cast("void*", a.__array_interface__["data"][0])  # far cheaper than a.ctypes


class Buffer:
    """An output array kept between calls when nothing outside the function can see it."""

    def __init__(self, reusable: bool, dtype: str) -> None:
        self.reusable, self.dtype = reusable, dtype
        self.cell = [None]  # a cell, so that the C fast path keeps the same array

    def get(self, shape: tuple) -> np.ndarray:
        a = self.cell[0]
        if a is not None and a.shape == shape:
            return a
        a = np.empty(shape, dtype=self.dtype)
        if self.reusable:
            self.cell[0] = a
        return a


def _shape(node: Apply, arrays: list) -> tuple:
    first = arrays[0].shape
    for a in arrays[1:]:
        if a.shape != first:
            check_broadcast(node, arrays)
            return np.broadcast_shapes(*[x.shape for x in arrays])
    return first


class ElemwiseThunk:
    def __init__(self, node: Apply, lib: Any, name: str, kernel: LoopKernel, ins: list, outs: list,
                 reusable: bool, ptr: Pointers, deferred: Any = None) -> None:
        self.node, self.ins, self.out, self.ptr = node, ins, outs[0], ptr
        # The strided loop is built at the first call that needs it, by ``deferred(name)``
        # (a 0-d kernel has none: its one element is contiguous in every layout).
        self.flat, self.strided = getattr(lib, name + "_flat"), getattr(lib, name + "_strided", None)
        self.strided_name, self.deferred = name + "_strided", deferred
        self.scalar = kernel.input_scalar
        full = [k for k, s in enumerate(self.scalar) if not s]
        self.lead, self.others = (full[0] if full else 0), full[1:]
        pattern = getattr(node.op, "inplace_pattern", ())
        self.inplace = pattern[0][1] if pattern else None
        self.buffer = Buffer(reusable, node.outputs[0].dtype)
        self.layouts: dict = {}  # strided loop descriptions by shape and strides (kept alive with their pointers)
        # What the VM calls: the C fast path where there is one, falling back to __call__.
        self.call = fastcall.flat_call(ins, self.out, self.buffer.cell if reusable else None, self.__call__,
                                       self.flat, self.scalar, self.lead, self.inplace, node.outputs[0].dtype) or self

    def prepare(self) -> None:
        """Check the operands' shapes (raising as a call would) without writing anything."""
        _shape(self.node, [c[0] for c in self.ins])

    def __call__(self) -> None:
        arrays = [c[0] for c in self.ins]
        shape = arrays[self.lead].shape
        same = True
        for k in self.others:
            if arrays[k].shape != shape:
                same = False
                break
        if not same:
            shape = _shape(self.node, arrays)
        target = arrays[self.inplace] if self.inplace is not None else None
        if target is not None and target.shape == shape and target.flags.writeable:
            out = target
        else:  # broadcasting grew the result past the buffer it was to overwrite: a new one
            out = self.buffer.cell[0]
            if out is None or out.shape != shape:
                out = self.buffer.get(shape)
        size = out.size
        if size:
            flat = None
            if same:
                contiguous = self.ptr.contiguous
                try:
                    flat = [contiguous(a) for a in arrays]
                    flat.append(contiguous(out))
                except ValueError:
                    flat = None
            if flat is not None:
                self.flat(size, *flat)
            elif self.strided is None and not self._build_strided():
                self._through_copies(arrays, shape, out)
            else:
                ptr = self.ptr
                key = (shape, out.strides, *[a.strides for a in arrays])
                layout = self.layouts.get(key)
                if layout is None:  # views keep their strides from call to call (a loop's slices)
                    strides = np.array([elem_strides(a, shape) for a in arrays + [out]], dtype=np.int64)
                    dims = np.array(shape, dtype=np.int64)
                    if len(self.layouts) > 32:
                        self.layouts.clear()
                    layout = self.layouts[key] = (ptr(dims), ptr(strides), dims, strides)
                if self.call is not self:  # the C fast path takes this layout's calls from now on
                    fastcall.remember_strided(self.call, self.strided, shape, arrays, out, layout[2:])
                self.strided(len(shape), layout[0], layout[1], *[ptr(a) for a in arrays], ptr(out))
        self.out[0] = out

    def _build_strided(self) -> bool:
        self.strided = self.deferred(self.strided_name) if self.deferred is not None else None
        self.deferred = None  # one try: a build that failed is not retried at every call
        return self.strided is not None

    def _through_copies(self, arrays: list, shape: tuple, out: np.ndarray) -> None:
        """The flat loop on contiguous copies: where the strided loop could not be built."""
        ins = [a if scalar else np.ascontiguousarray(np.broadcast_to(a, shape)) for a, scalar in zip(arrays, self.scalar)]
        dest = out if out.flags.c_contiguous else np.empty(shape, out.dtype)
        self.flat(out.size, *[self.ptr(a) for a in ins], self.ptr(dest))
        if dest is not out:
            out[...] = dest


class ReduceThunk:
    def __init__(self, node: Apply, lib: Any, name: str, kernel: LoopKernel, ins: list, outs: list,
                 reusable: bool, ptr: Pointers) -> None:
        self.node, self.ins, self.out, self.ptr = node, ins, outs[0], ptr
        self.fn = getattr(lib, name + "_reduce")
        self.axes = kernel.reduce_axes
        self.op = kernel.reduce_op
        self.buffer = Buffer(reusable, node.outputs[0].dtype)
        self.layouts: dict = {}  # loop descriptions by operand shapes and strides (stable across calls)
        # What the VM calls: the C fast path, which runs the layouts this Python path
        # remembers for it (C-contiguous inputs of one shape), falling back to __call__.
        self.fast = fastcall.reduce_call(ins, self.out, self.buffer.cell if reusable else None, self.__call__,
                                         self.fn, node.outputs[0].dtype)
        self.call = self.fast or self

    def __call__(self) -> None:
        arrays = [c[0] for c in self.ins]
        shape = _shape(self.node, arrays) if len(arrays) > 1 else arrays[0].shape
        axes = self.axes
        if self.op in ("maximum", "minimum") and any(shape[a] == 0 for a in axes):
            raise ValueError(f"{self.node.op}: cannot take the {self.op} over an empty axis (shape {shape})")
        kept = [d for d in range(len(shape)) if d not in axes]
        out = self.buffer.get(tuple(shape[d] for d in kept))
        if out.size:
            key = (shape, tuple(a.strides for a in arrays), out.strides)
            layout = self.layouts.get(key)
            if layout is None:
                if len(self.layouts) > 16:
                    self.layouts.clear()
                layout = self.layouts[key] = self._layout(arrays, shape, out)
            if self.fast is not None and out.flags.c_contiguous and all(
                    a.shape == shape and a.flags.c_contiguous and type(a) is np.ndarray for a in arrays):
                # the fast path takes the calls with this shape from now on (another shape
                # came through here since it last did: a last, smaller minibatch)
                self.fast.remember(shape, out.shape, layout[0][0], layout[0][1], tuple(layout[1]))
            ptr = self.ptr
            self.fn(*layout[0], *[ptr(a) for a in arrays], ptr(out))
        self.out[0] = out

    def _layout(self, arrays: list, shape: tuple, out: np.ndarray) -> tuple:
        """The kernel's loop arguments (dims and strides, collapsed) and the arrays holding them."""
        kept, reduced, kept_strides, reduced_strides = reduction_layout(arrays, shape, out, self.axes)
        held = [np.array(kept, dtype=np.int64), np.array(reduced, dtype=np.int64),
                np.array(kept_strides, dtype=np.int64), np.array(reduced_strides, dtype=np.int64)]
        return (len(kept), len(reduced), *[self.ptr(a) for a in held]), held


@REGISTRY.register(Elemwise, FusedReduce, Reduce)
def loop_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    """The compiled thunk of a node the function's library has a kernel for."""
    if node not in context.kernels:
        return None
    name, kernel = context.kernels[node]
    if kernel.is_reduction:
        return ReduceThunk(node, context.lib, name, kernel, ins, outs, context.reusable(node), context.pointers)
    return ElemwiseThunk(node, context.lib, name, kernel, ins, outs, context.reusable(node), context.pointers,
                         context.deferred_function)
