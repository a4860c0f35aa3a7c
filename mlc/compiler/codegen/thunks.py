"""Thunks for the VM: compiled C kernels for elementwise and reduction nodes (all kernels of
one function in one translation unit, built once), BLAS for dense products, buffers reused
across calls, and in ``DEBUG`` mode every node checked against its Python ``perform``."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..config import config
from ..fgraph import FunctionGraph, memory_sources
from ..graph import Apply, format_trace
from ..mode import Mode
from ..ops.blas import Dot, Gemm
from ..ops.elemwise import check_broadcast
from ..runtime import blas
from .build import CompileError, warn_once, build, features
from .c_renderer import CRenderer
from .loop_ir import LoopKernel, kernel_for


class Pointers:
    """Turns arrays into C pointers for one cffi library: ``from_buffer`` (fast; refuses
    arrays that are not C-contiguous with ``ValueError``), else the data address."""

    def __init__(self, ffi: Any) -> None:
        self.ffi = ffi
        backend = getattr(ffi, "_backend", None)
        if backend is not None and hasattr(backend, "from_buffer"):
            char_array = ffi._typeof("char[]")
            raw = backend.from_buffer
            self.contiguous = lambda a: raw(char_array, a, False)
        else:
            self.contiguous = ffi.from_buffer

    def __call__(self, a: np.ndarray) -> Any:
        try:
            return self.contiguous(a)
        except ValueError:
            return self.ffi.cast("void*", a.ctypes.data)


def escaping(fgraph: FunctionGraph) -> set:
    """Variables whose buffers may be handed to the caller: the outputs and everything an
    output views or was computed in place into."""
    return set().union(*[memory_sources(out) for out in fgraph.outputs])


class _Buffer:
    """An output array kept between calls when nothing outside the function can see it."""

    def __init__(self, reusable: bool, dtype: str) -> None:
        self.reusable, self.dtype, self.array = reusable, dtype, None

    def get(self, shape: tuple) -> np.ndarray:
        a = self.array
        if a is not None and a.shape == shape:
            return a
        a = np.empty(shape, dtype=self.dtype)
        if self.reusable:
            self.array = a
        return a


def _shape(node: Apply, arrays: list) -> tuple:
    first = arrays[0].shape
    for a in arrays[1:]:
        if a.shape != first:
            check_broadcast(node, arrays)
            return np.broadcast_shapes(*[x.shape for x in arrays])
    return first


def _elem_strides(a: np.ndarray, shape: tuple) -> list:
    item = a.itemsize
    return [0 if a.shape[d] == 1 else a.strides[d] // item for d in range(len(shape))]


class ElemwiseThunk:
    def __init__(self, node: Apply, lib: Any, name: str, kernel: LoopKernel, ins: list, outs: list,
                 reusable: bool, ptr: Pointers) -> None:
        self.node, self.ins, self.out, self.ptr = node, ins, outs[0], ptr
        self.flat, self.strided = getattr(lib, name + "_flat"), getattr(lib, name + "_strided")
        self.scalar = kernel.input_scalar
        full = [k for k, s in enumerate(self.scalar) if not s]
        self.lead, self.others = (full[0] if full else 0), full[1:]
        pattern = getattr(node.op, "inplace_pattern", ())
        self.inplace = pattern[0][1] if pattern else None
        self.buffer = _Buffer(reusable, node.outputs[0].dtype)

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
        if self.inplace is not None:
            out = arrays[self.inplace]
        else:
            out = self.buffer.array
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
            else:
                ptr = self.ptr
                strides = np.array([_elem_strides(a, shape) for a in arrays + [out]], dtype=np.int64)
                dims = np.array(shape, dtype=np.int64)
                self.strided(len(shape), ptr(dims), ptr(strides), *[ptr(a) for a in arrays], ptr(out))
        self.out[0] = out


class ReduceThunk:
    def __init__(self, node: Apply, lib: Any, name: str, kernel: LoopKernel, ins: list, outs: list,
                 reusable: bool, ptr: Pointers) -> None:
        self.node, self.ins, self.out, self.ptr = node, ins, outs[0], ptr
        self.fn = getattr(lib, name + "_reduce")
        self.axes = kernel.reduce_axes
        self.op = kernel.reduce_op
        self.buffer = _Buffer(reusable, node.outputs[0].dtype)
        self.layouts: dict = {}  # loop descriptions by operand shapes and strides (stable across calls)

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
            ptr = self.ptr
            self.fn(*layout[0], *[ptr(a) for a in arrays], ptr(out))
        self.out[0] = out

    def _layout(self, arrays: list, shape: tuple, out: np.ndarray) -> tuple:
        """The kernel's loop arguments (dims and strides, collapsed) and the arrays holding them."""
        axes = self.axes
        out_strides = iter([s // out.itemsize for s in out.strides])
        strides = [_elem_strides(a, shape) for a in arrays]
        strides.append([0 if d in axes else next(out_strides) for d in range(len(shape))])
        dims, strides, reduced = _collapse(shape, strides, [d in axes for d in range(len(shape))])
        kept = [d for d in range(len(dims)) if not reduced[d]]
        axes = [d for d in range(len(dims)) if reduced[d]]
        held = [np.array([dims[d] for d in kept], dtype=np.int64), np.array([dims[d] for d in axes], dtype=np.int64),
                np.array([[s[d] for d in kept] for s in strides], dtype=np.int64),
                np.array([[s[d] for d in axes] for s in strides[:-1]], dtype=np.int64)]
        return (len(kept), len(axes), *[self.ptr(a) for a in held]), held


def _collapse(shape: tuple, strides: list, reduced: list) -> tuple[list, list, list]:
    """Merge neighbouring dims of the same kind (both reduced or both kept) that every
    operand walks as one, and drop size-1 dims, so loops run long and flat."""
    dims, st, red = [], [[] for _ in strides], []
    for d, size in enumerate(shape):
        if size == 1 and len(shape) > 1:
            continue
        if dims and red[-1] == reduced[d] and all(s[-1] == sd[d] * size for s, sd in zip(st, strides)):
            dims[-1] *= size
            for s, sd in zip(st, strides):
                s[-1] = sd[d]
            continue
        dims.append(size)
        red.append(reduced[d])
        for s, sd in zip(st, strides):
            s.append(sd[d])
    if not any(red):  # everything reduced was size 1: reduce over one dummy dim
        dims.append(1)
        red.append(True)
        for s in st:
            s.append(0)
    return dims, st, red


class DotThunk:
    def __init__(self, node: Apply, ins: list, outs: list, reusable: bool) -> None:
        self.ins, self.out = ins, outs[0]
        self.buffer = _Buffer(reusable, node.outputs[0].dtype)
        self.node = node

    def __call__(self) -> None:
        x, y = self.ins[0][0], self.ins[1][0]
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"Dot: shapes {x.shape} and {y.shape} are not aligned ({x.shape[-1]} != {y.shape[0]})")
        dtype = self.buffer.dtype
        shape = x.shape[:-1] + y.shape[1:]
        if x.dtype == dtype and y.dtype == dtype and x.ndim == 2 and y.ndim == 2:
            out = self.buffer.get(shape)
            blas.gemm(1.0, x, y, 0.0, out)
        else:
            out = np.asarray(np.dot(x, y), dtype=dtype)
        self.out[0] = out


class GemmThunk:
    def __init__(self, node: Apply, ins: list, outs: list, reusable: bool) -> None:
        self.node, self.ins, self.out = node, ins, outs[0]
        self.inplace = node.op.inplace
        self.buffer = _Buffer(reusable, node.outputs[0].dtype)

    def __call__(self) -> None:
        z, alpha, x, y, beta = (c[0] for c in self.ins)
        if x.shape[1] != y.shape[0]:
            raise ValueError(f"Gemm: shapes {x.shape} and {y.shape} are not aligned")
        shape = (x.shape[0], y.shape[1])
        if z.shape != shape and np.broadcast_shapes(z.shape, shape) != shape:
            raise ValueError(f"Gemm: z of shape {z.shape} does not fit dot(x, y) of shape {shape}")
        if self.inplace and z.shape == shape and z.flags.c_contiguous:
            out = z
        else:
            out = self.buffer.get(shape)
            out[...] = z
        blas.gemm(float(alpha), x, y, float(beta), out)
        self.out[0] = out


def _compile(kernels: dict) -> tuple[Any, dict]:
    unique: dict = {}
    for k in kernels.values():
        unique.setdefault(k.key(), (f"k{len(unique)}", k))
    _, vector_math = features()
    source, cdefs = CRenderer(config.openmp_elemwise_minsize).module(list(unique.values()), vector_math)
    try:
        built = build(source, cdefs)
    except CompileError as err:
        warn_once("compile-error", f"{err}\nfalling back to Python perform")
        return None, {}
    return built, {node: unique[k.key()][0] for node, k in kernels.items()}


def maker(fgraph: FunctionGraph, mode: Mode) -> Callable | None:
    """A ``make_thunk(node, input_cells, output_cells)`` for the VM (None: plain ``perform``)."""
    nodes = fgraph.toposort()
    kernels = {n: k for n in nodes if (k := kernel_for(n)) is not None}
    built, names = _compile(kernels) if kernels else (None, {})
    ptr = Pointers(built[0]) if built is not None else None
    outside = escaping(fgraph)

    def make_thunk(node: Apply, ins: list, outs: list) -> Callable | None:
        reusable = node.outputs[0] not in outside
        thunk = None
        if built is not None and node in names:
            cls = ReduceThunk if kernels[node].reduce_op else ElemwiseThunk
            thunk = cls(node, built[1], names[node], kernels[node], ins, outs, reusable, ptr)
        elif isinstance(node.op, Gemm):
            thunk = GemmThunk(node, ins, outs, reusable)
        elif isinstance(node.op, Dot):
            thunk = DotThunk(node, ins, outs, reusable)
        if mode.linker == "debug":
            return DebugThunk(node, thunk, ins, outs)
        return thunk
    return make_thunk


class DebugThunk:
    """Runs a node's compiled thunk and its ``perform`` side by side and raises, naming the
    node and the user's line, on a mismatch or on a NaN/Inf its inputs did not have."""

    def __init__(self, node: Apply, thunk: Callable | None, ins: list, outs: list) -> None:
        self.node, self.thunk, self.ins, self.outs = node, thunk, ins, outs

    def __call__(self) -> None:
        node = self.node
        inputs = [c[0] for c in self.ins]
        copies = [np.copy(v) if isinstance(v, np.ndarray) else v for v in inputs]
        reference = [[None] for _ in self.outs]
        node.op.perform(node, [np.copy(v) if isinstance(v, np.ndarray) else v for v in copies], reference)
        if self.thunk is not None:
            self.thunk()
            for k, (cell, ref) in enumerate(zip(self.outs, reference)):
                got, want = cell[0], ref[0]
                if isinstance(want, np.ndarray) and not _close(got, want):
                    raise AssertionError(
                        f"DEBUG mode: compiled {node.op} disagrees with its perform on output {k}: max abs "
                        f"difference {np.nanmax(np.abs(np.asarray(got, float) - np.asarray(want, float)))}\n"
                        f"  the node was created at: {format_trace(node.tag.trace)}")
        else:
            for cell, ref in zip(self.outs, reference):
                cell[0] = ref[0]
        had_bad = any(isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.all(np.isfinite(v)) for v in copies)
        for k, cell in enumerate(self.outs):
            v = cell[0]
            if not had_bad and isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                kind = "NaN" if np.isnan(v).any() else "Inf"
                raise FloatingPointError(f"DEBUG mode: {node.op} produced {kind} in output {k} from finite inputs\n"
                                         f"  the node was created at: {format_trace(node.tag.trace)}")


def _close(got: Any, want: np.ndarray) -> bool:
    got = np.asarray(got)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if want.dtype.kind != "f":
        return bool(np.array_equal(got, want))
    tol = 1e-4 if want.dtype == np.float32 else 1e-9
    return bool(np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True))


