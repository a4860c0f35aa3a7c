"""Pooling thunks on the CPU: ``Pool`` and ``PoolGrad`` through ``codegen.c_pool``'s C
kernels (float32 and float64; other dtypes keep the NumPy ``perform``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...codegen import Program
from ...codegen.c_pool import CTYPES, pool_program
from ...graph import Apply
from ...ops.pool import Pool, PoolGrad
from .thunks import LIBRARIES, REGISTRY, Pointers, load_library

_MODES = {"sum": 0, "average_inc_pad": 1, "average_exc_pad": 2}


class PoolThunk:
    """Both directions: ``grad`` False runs the pooling, True its gradient (the max variant
    first finds each window's maximum again)."""

    def __init__(self, node: Apply, ins: list, outs: list, built: Any, grad: bool) -> None:
        self.node, self.op, self.ins, self.out, self.grad = node, node.op, ins, outs[0], grad
        self.dtype = node.outputs[0].dtype
        self.ptr, self.lib = Pointers(built[0]), built[1]

    def _sizes(self, x: np.ndarray) -> tuple:
        op = self.op
        oh, ow = op.out_shape(x.shape)[-2:]
        planes = int(np.prod(x.shape[:-2], dtype=np.int64))
        return (planes, x.shape[-2], x.shape[-1], oh, ow, *op.ws, *op.stride, *op.pad)

    def __call__(self) -> None:
        op, ptr, lib, dtype = self.op, self.ptr, self.lib, self.dtype
        x = np.ascontiguousarray(self.ins[0][0])
        sizes = self._sizes(x)
        out_shape = op.out_shape(x.shape)
        if 0 in x.shape[-2:] or 0 in out_shape[-2:]:
            storage = [[None]]
            op.perform(self.node, [c[0] for c in self.ins], storage)
            self.out[0] = storage[0][0]
            return
        if not self.grad:
            out = np.empty(out_shape, dtype)
            if op.mode == "max":
                getattr(lib, f"pool_max_{dtype}")(*sizes, ptr(x), ptr(out))
            else:
                getattr(lib, f"pool_sum_{dtype}")(*sizes, _MODES[op.mode], ptr(x), ptr(out))
            self.out[0] = out
            return
        g = np.ascontiguousarray(self.ins[1][0], dtype=dtype)
        if g.shape != out_shape:
            raise ValueError(f"pool_2d gradient: output gradient of shape {g.shape}, expected {out_shape} for an "
                             f"input of shape {x.shape}")
        gx = np.empty(x.shape, dtype)
        if op.mode == "max":
            getattr(lib, f"pool_max_grad_{dtype}")(*sizes, ptr(x), ptr(g), ptr(gx))
        else:
            getattr(lib, f"pool_sum_grad_{dtype}")(*sizes, _MODES[op.mode], ptr(g), ptr(gx))
        self.out[0] = gx


@LIBRARIES.register(Pool, PoolGrad)
def pool_library(node: Apply) -> Program | None:
    dtype = node.outputs[0].dtype
    return pool_program(dtype) if dtype in CTYPES and node.inputs[0].dtype == dtype else None


@REGISTRY.register(Pool, PoolGrad)
def pool_thunk(node: Apply, ins: list, outs: list, context: Any) -> Any:
    built = load_library(node)
    return None if built is None else PoolThunk(node, ins, outs, built, isinstance(node.op, PoolGrad))
