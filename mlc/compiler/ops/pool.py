"""2-d pooling over the last two axes (Theano's ``theano.tensor.signal.pool``): ``Pool``
with mode ``max``, ``sum``, ``average_inc_pad`` (the padding counts in the divisor) or
``average_exc_pad`` (it does not), and its gradient ``PoolGrad``. Windows are strided views
of the padded input; the gradient adds each window tap's share back, one strided add per
tap (a max window sends its gradient to its first maximum, as NumPy's argmax picks it)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _T():
    from ..tensor import basic
    return basic


def _pair(v: Any, what: str) -> tuple[int, int]:
    v = (v, v) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"pool_2d: {what} must be a pair, got {v}")
    return v


def pooled_size(size: int, ws: int, stride: int, pad: int, ignore_border: bool) -> int:
    if ignore_border:
        return max(0, (size + 2 * pad - ws) // stride + 1)
    return max(0, (size + 2 * pad - ws + stride - 1) // stride + 1) if size + 2 * pad >= ws else 1


class Pool(Op):
    """Pool windows ``ws`` moved by ``stride`` over the last two axes, zero-``pad``-ded
    (``pad`` needs ``ignore_border=True``, as in Theano). ``ignore_border=False`` keeps the
    partial windows at the end."""

    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")

    def __init__(self, ws: Any, ignore_border: bool = True, stride: Any = None, pad: Any = (0, 0),
                 mode: str = "max") -> None:
        if mode not in MODES:
            raise ValueError(f"pool_2d: mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.ws = _pair(ws, "ws")
        self.stride = _pair(stride, "stride") if stride is not None else self.ws
        self.pad, self.ignore_border, self.mode = _pair(pad, "pad"), bool(ignore_border), mode
        if min(self.ws) < 1 or min(self.stride) < 1 or min(self.pad) < 0:
            raise ValueError(f"pool_2d: ws and stride must be >= 1 and pad >= 0, got ws={self.ws}, "
                             f"stride={self.stride}, pad={self.pad}")
        if any(self.pad) and not self.ignore_border:
            raise ValueError("pool_2d: padding needs ignore_border=True")
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise ValueError(f"pool_2d: pad {self.pad} must be smaller than the window {self.ws}")

    def out_shape(self, shape: tuple) -> tuple:
        return tuple(shape[:-2]) + tuple(pooled_size(shape[-2 + d], self.ws[d], self.stride[d], self.pad[d],
                                                     self.ignore_border) for d in range(2))

    def padded(self, x: np.ndarray) -> np.ndarray:
        """The input padded for the windows: ``pad`` on each side, and room for the partial
        windows at the end (``ignore_border=False``); -inf for max pooling (never chosen), else 0."""
        out = self.out_shape(x.shape)
        ph, pw = self.pad
        eh = max(0, (out[-2] - 1) * self.stride[0] + self.ws[0] - x.shape[-2] - 2 * ph)
        ew = max(0, (out[-1] - 1) * self.stride[1] + self.ws[1] - x.shape[-1] - 2 * pw)
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph + eh), (pw, pw + ew)]
        if not any(sum(w) for w in widths):
            return x
        return np.pad(x, widths, constant_values=-np.inf if self.mode == "max" else 0)

    def taps(self, shape: tuple) -> list[tuple]:
        """For each window position (i, j), the strided slice of the padded input it reads."""
        (sh, sw), (oh, ow) = self.stride, self.out_shape(shape)[-2:]
        return [(Ellipsis, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
                for i in range(self.ws[0]) for j in range(self.ws[1])]

    def counts(self, shape: tuple) -> np.ndarray:
        """Per window, how many entries are inside the (unpadded) input (``average_exc_pad``)."""
        out = self.out_shape(shape)
        sizes = []
        for d in range(2):
            start = np.arange(out[-2 + d]) * self.stride[d] - self.pad[d]
            end = np.minimum(start + self.ws[d], shape[-2 + d])
            sizes.append(end - np.maximum(start, 0))
        return np.outer(*sizes)

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if x.ndim < 2:
            raise TypeError(f"pool_2d: the input needs at least 2 dimensions, got {x.ndim}")
        return Apply(self, [x], [TensorType(x.dtype, x.broadcastable[:-2] + (False, False))()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        xp = self.padded(x)
        out = None
        for tap in self.taps(x.shape):  # one strided pass per window position: fast for small windows
            part = xp[tap]
            if out is None:
                out = np.array(part, dtype=np.result_type(x, np.float32) if self.mode != "max" else x.dtype)
            elif self.mode == "max":
                np.maximum(out, part, out=out)
            else:
                out += part
        if self.mode == "average_inc_pad":
            out = out / (self.ws[0] * self.ws[1])
        elif self.mode == "average_exc_pad":
            out = out / self.counts(x.shape)
        output_storage[0][0] = np.asarray(out, dtype=x.dtype)

    def infer_shape(self, node, input_shapes):
        return [self.out_shape(tuple(input_shapes[0]))] if all(isinstance(s, int) for s in input_shapes[0][-2:]) \
            else [self._symbolic_shape(input_shapes[0])]

    def _symbolic_shape(self, shape: tuple) -> tuple:
        T = _T()
        sizes = []
        for d in range(2):
            n = shape[-2 + d] + 2 * self.pad[d] - self.ws[d]
            if self.ignore_border:
                sizes.append(T.maximum(n // self.stride[d] + 1, 0))
            else:
                sizes.append(T.switch(T.ge(n, 0), (n + self.stride[d] - 1) // self.stride[d] + 1, 1))
        return tuple(shape[:-2]) + tuple(sizes)

    def grad(self, inputs, output_grads):
        (x,) = inputs
        return [PoolGrad(*self._props())(x, output_grads[0])]


class PoolGrad(Pool):
    """The input's gradient of ``Pool``, given the input and the output's gradient."""

    def make_node(self, x: Any, gout: Any) -> Apply:
        T = _T()
        x, gout = T.as_tensor_variable(x), T.as_tensor_variable(gout)
        return Apply(self, [x, gout], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, gout = inputs
        if gout.shape != self.out_shape(x.shape):
            raise ValueError(f"pool_2d gradient: output gradient of shape {gout.shape}, expected "
                             f"{self.out_shape(x.shape)} for an input of shape {x.shape}")
        xp = self.padded(x)
        gx = np.zeros(xp.shape, dtype=np.result_type(x, gout))
        taps = self.taps(x.shape)
        if self.mode == "max":
            best = xp[taps[0]].copy()
            for tap in taps[1:]:
                np.maximum(best, xp[tap], out=best)
            taken, hit = np.zeros(best.shape, dtype=bool), np.empty(best.shape, dtype=bool)
            for tap in taps:  # the first maximum of each window, in row-major window order
                np.equal(xp[tap], best, out=hit)
                np.greater(hit, taken, out=hit)  # and not taken by an earlier tap
                np.add(gx[tap], gout, out=gx[tap], where=hit)
                taken |= hit
        else:
            share = gout / (self.ws[0] * self.ws[1]) if self.mode == "average_inc_pad" else (
                gout / self.counts(x.shape) if self.mode == "average_exc_pad" else gout)
            for tap in taps:
                gx[tap] += share
        ph, pw = self.pad
        output_storage[0][0] = np.ascontiguousarray(gx[..., ph:ph + x.shape[-2], pw:pw + x.shape[-1]])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("the second derivative of pooling is not supported")
