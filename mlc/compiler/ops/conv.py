"""2-d convolution (NCHW) as Theano's abstract convolution: ``Conv2d`` and the two ops of
its gradient, ``Conv2dGradInputs`` (a transposed convolution) and ``Conv2dGradWeights``.
Each is a lowering to matrix products through BLAS: the input's patches are laid out as
columns (im2col: one strided block copy per filter tap), multiplied by the filters; the
input gradient scatters the patch gradients back (col2im: one strided add per tap). This
NumPy lowering is each op's ``perform``; the CPU backend passes C im2col/col2im kernels
(``runtime/cpu/conv.py``) into the same functions.

Parameters as Theano's: ``border_mode`` ``'valid'``, ``'full'``, ``'half'``, an int or a
pair (zero padding); ``subsample`` (strides); ``filter_flip`` (True: convolution, the
filters flipped; False: cross-correlation); ``filter_dilation``; ``num_groups``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType


def _T():
    from ..tensor import basic
    return basic


def _pair(v: Any, what: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"conv2d: {what} must be an int or a pair, got {v}")
    return v


def padding(border_mode: Any, kshape: Sequence[int], dilation: tuple) -> tuple[int, int]:
    """Zero padding of each spatial side for ``border_mode`` and (dilated) kernel ``kshape``."""
    if border_mode == "valid":
        return 0, 0
    extent = [(k - 1) * d + 1 for k, d in zip(kshape, dilation)]
    if border_mode == "full":
        return extent[0] - 1, extent[1] - 1
    if border_mode == "half":
        return extent[0] // 2, extent[1] // 2
    pad = _pair(border_mode, "border_mode")
    if min(pad) < 0:
        raise ValueError(f"conv2d: border_mode padding must be >= 0, got {pad}")
    return pad


def output_size(size: int, k: int, pad: int, stride: int, dilation: int) -> int:
    return (size + 2 * pad - ((k - 1) * dilation + 1)) // stride + 1


class ConvParams:
    """The props the three ops share, normalized."""

    __props__ = ("border_mode", "subsample", "filter_flip", "filter_dilation", "num_groups")

    def __init__(self, border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
                 filter_dilation: Any = (1, 1), num_groups: int = 1) -> None:
        if isinstance(border_mode, str) and border_mode not in ("valid", "full", "half"):
            raise ValueError(f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a pair, got {border_mode!r}")
        self.border_mode = border_mode if isinstance(border_mode, str) else _pair(border_mode, "border_mode")
        self.subsample, self.filter_dilation = _pair(subsample, "subsample"), _pair(filter_dilation, "filter_dilation")
        self.filter_flip, self.num_groups = bool(filter_flip), int(num_groups)
        if min(self.subsample) < 1 or min(self.filter_dilation) < 1 or self.num_groups < 1:
            raise ValueError("conv2d: subsample, filter_dilation and num_groups must be >= 1")

    def pad(self, kshape: Sequence[int]) -> tuple[int, int]:
        return padding(self.border_mode, kshape, self.filter_dilation)

    def out_shape(self, ishape: Sequence[int], kshape: Sequence[int]) -> tuple:
        pad = self.pad(kshape[2:])
        return (ishape[0], kshape[0]) + tuple(output_size(ishape[2 + d], kshape[2 + d], pad[d], self.subsample[d],
                                                          self.filter_dilation[d]) for d in range(2))

    def check(self, ishape: Sequence[int], kshape: Sequence[int], what: str) -> None:
        g = self.num_groups
        if ishape[1] != kshape[1] * g or kshape[0] % g:
            raise ValueError(f"{what}: input of shape {tuple(ishape)} (channels {ishape[1]}) does not fit filters of "
                             f"shape {tuple(kshape)} with num_groups={g} (input channels must be "
                             f"{kshape[1]} × {g}, output channels a multiple of {g})")
        if min(self.out_shape(ishape, kshape)[2:]) < 1:
            raise ValueError(f"{what}: filters of shape {tuple(kshape)} (dilation {self.filter_dilation}) are larger "
                             f"than the padded input of shape {tuple(ishape)}")

    def check_gradient(self, ishape: Sequence[int], kshape: Sequence[int], gshape: Sequence[int], what: str) -> None:
        """``check``, and that the output's gradient has the output's shape."""
        self.check(ishape, kshape, what)
        expected = self.out_shape(ishape, kshape)
        if tuple(gshape) != expected:
            raise ValueError(f"{what}: output gradient of shape {tuple(gshape)} does not fit an input of shape "
                             f"{tuple(ishape)} and filters {tuple(kshape)} (expected {expected})")

    def filters(self, w: np.ndarray) -> np.ndarray:
        return w[:, :, ::-1, ::-1] if self.filter_flip else w


def _taps(p: ConvParams, kshape: Sequence[int], out_hw: Sequence[int]) -> list[tuple]:
    """For each filter tap (i, j): its index in the flattened kernel, and the strided slice of
    the padded input it reads for every output position."""
    (sh, sw), (dh, dw), (oh, ow) = p.subsample, p.filter_dilation, out_hw
    kh, kw = kshape[2:]
    return [(i * kw + j, (slice(None), slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                          slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)))
            for i in range(kh) for j in range(kw)]


def _columns(p: ConvParams, x: np.ndarray, kshape: Sequence[int]) -> tuple[np.ndarray, tuple]:
    """im2col as ``(C * KH * KW, N * OH * OW)``: each filter tap's input block copied as one
    strided slice, so every product below is one large GEMM."""
    ph, pw = p.pad(kshape[2:])
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    n, c = x.shape[:2]
    kh, kw = kshape[2:]
    oh, ow = (output_size(xp.shape[2 + d], kshape[2 + d], 0, p.subsample[d], p.filter_dilation[d]) for d in range(2))
    cols = np.empty((c, kh * kw, n, oh, ow), dtype=x.dtype)
    for tap, window in _taps(p, kshape, (oh, ow)):
        cols[:, tap] = xp[window].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow), (oh, ow)


def _scatter(p: ConvParams, cols: np.ndarray, ishape: Sequence[int], kshape: Sequence[int],
             out_hw: Sequence[int]) -> np.ndarray:
    """col2im: the ``(C * KH * KW, N * OH * OW)`` patch gradients added back into ``(N, C, H, W)``."""
    n, c, h, width = (int(s) for s in ishape)
    kh, kw = kshape[2:]
    ph, pw = p.pad(kshape[2:])
    cols = cols.reshape(c, kh * kw, n, *out_hw)
    gx = np.zeros((c, n, h + 2 * ph, width + 2 * pw), dtype=cols.dtype)
    for tap, window in _taps(p, kshape, out_hw):
        gx[window] += cols[:, tap]
    return np.ascontiguousarray(gx[:, :, ph:ph + h, pw:pw + width].transpose(1, 0, 2, 3))


def _by_channel(a: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` as ``(C, N * H * W)`` (one transposing copy)."""
    n, c = a.shape[:2]
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(c, -1)


def _forward(p: ConvParams, x: np.ndarray, w: np.ndarray, columns: Any = _columns, matmul: Any = np.matmul
             ) -> np.ndarray:
    g, (o, cg, kh, kw) = p.num_groups, w.shape
    cols, (oh, ow) = columns(p, x, w.shape)
    og, k = o // g, cg * kh * kw
    wf = p.filters(w).reshape(o, k)
    out = np.concatenate([matmul(wf[i * og:(i + 1) * og], cols[i * k:(i + 1) * k]) for i in range(g)]) if g > 1 \
        else matmul(wf, cols)
    out = out.reshape(o, x.shape[0], oh, ow).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out, dtype=np.result_type(x, w))


def _grad_weights(p: ConvParams, x: np.ndarray, gout: np.ndarray, kshape: Sequence[int],
                  columns: Any = _columns, matmul: Any = np.matmul) -> np.ndarray:
    g, (o, cg, kh, kw) = p.num_groups, tuple(kshape)
    cols, _ = columns(p, x, kshape)
    og, k = o // g, cg * kh * kw
    gflat = _by_channel(gout)
    gw = np.concatenate([matmul(gflat[i * og:(i + 1) * og], cols[i * k:(i + 1) * k].T) for i in range(g)]) if g > 1 \
        else matmul(gflat, cols.T)
    gw = gw.reshape(o, cg, kh, kw).astype(np.result_type(x, gout), copy=False)
    return gw[:, :, ::-1, ::-1] if p.filter_flip else gw


def _grad_inputs(p: ConvParams, w: np.ndarray, gout: np.ndarray, ishape: Sequence[int],
                 scatter: Any = _scatter, matmul: Any = np.matmul) -> np.ndarray:
    g, (o, cg, kh, kw) = p.num_groups, w.shape
    og, k = o // g, cg * kh * kw
    wf = p.filters(w).reshape(o, k)
    gflat = _by_channel(gout)
    cols = np.concatenate([matmul(wf[i * og:(i + 1) * og].T, gflat[i * og:(i + 1) * og]) for i in range(g)]) if g > 1 \
        else matmul(wf.T, gflat)
    return scatter(p, cols.astype(np.result_type(w, gout), copy=False), ishape, w.shape, gout.shape[2:])


class _ConvOp(ConvParams, Op):
    def _args(self) -> dict:
        return {k: getattr(self, k) for k in ConvParams.__props__}

    def _shape_vector(self, shape: Any) -> Any:
        from ..tensor.shape import make_vector
        T = _T()
        if isinstance(shape, (list, tuple)):
            return make_vector([T.as_tensor_variable(s) if not isinstance(s, (int, np.integer)) else int(s)
                                for s in shape])
        return T.cast(T.as_tensor_variable(shape), "int64")


class Conv2d(_ConvOp):
    """``conv2d(input (N, C, H, W), filters (O, C / groups, KH, KW)) → (N, O, OH, OW)``."""

    def make_node(self, x: Any, w: Any) -> Apply:
        T = _T()
        x, w = T.as_tensor_variable(x), T.as_tensor_variable(w)
        if x.ndim != 4 or w.ndim != 4:
            raise TypeError(f"conv2d: input and filters must be 4-d (NCHW, OIHW), got {x.ndim}-d and {w.ndim}-d")
        dtype = np.result_type(x.dtype, w.dtype).name
        bcast = (x.broadcastable[0], w.broadcastable[0], False, False)
        return Apply(self, [x, w], [TensorType(dtype, bcast)()])

    def perform(self, node, inputs, output_storage, lowering: Any = None):
        x, w = inputs
        self.check(x.shape, w.shape, "conv2d")
        output_storage[0][0] = _forward(self, x, w, *((lowering.columns, lowering.matmul) if lowering else ()))

    def infer_shape(self, node, input_shapes):
        return [self.out_shape(*input_shapes)]

    def grad(self, inputs, output_grads):
        x, w = inputs
        (g,) = output_grads
        T = _T()
        gx = Conv2dGradInputs(**self._args())(w, g, T.shape(x))
        gw = Conv2dGradWeights(**self._args())(x, g, T.shape(w))
        return [gx, gw]


class Conv2dGradWeights(_ConvOp):
    """The filters' gradient of ``Conv2d``, given the input, the output's gradient and the filters' shape."""

    def make_node(self, x: Any, gout: Any, shape: Any) -> Apply:
        T = _T()
        x, gout = T.as_tensor_variable(x), T.as_tensor_variable(gout)
        return Apply(self, [x, gout, self._shape_vector(shape)],
                     [TensorType(np.result_type(x.dtype, gout.dtype).name, (False,) * 4)()])

    def perform(self, node, inputs, output_storage, lowering: Any = None):
        x, gout, shape = inputs
        kshape = tuple(int(s) for s in shape)
        self.check_gradient(x.shape, kshape, gout.shape, "conv2d_grad_wrt_weights")
        output_storage[0][0] = _grad_weights(self, x, gout, kshape,
                                             *((lowering.columns, lowering.matmul) if lowering else ()))

    def infer_shape(self, node, input_shapes):
        shape = node.inputs[2]
        return [tuple(shape[i] for i in range(4))]

    def grad(self, inputs, output_grads):
        x, gout, _ = inputs
        (gw,) = output_grads
        T = _T()
        gx = Conv2dGradInputs(**self._args())(gw, gout, T.shape(x))
        ggout = Conv2d(**self._args())(x, gw)
        return [gx, ggout, None]


class Conv2dGradInputs(_ConvOp):
    """The input's gradient of ``Conv2d`` (a transposed convolution), given the filters, the
    output's gradient and the input's shape."""

    def make_node(self, w: Any, gout: Any, shape: Any) -> Apply:
        T = _T()
        w, gout = T.as_tensor_variable(w), T.as_tensor_variable(gout)
        return Apply(self, [w, gout, self._shape_vector(shape)],
                     [TensorType(np.result_type(w.dtype, gout.dtype).name, (gout.broadcastable[0], False, False, False))()])

    def perform(self, node, inputs, output_storage, lowering: Any = None):
        w, gout, shape = inputs
        ishape = tuple(int(s) for s in shape)
        self.check_gradient(ishape, w.shape, gout.shape, "conv2d_grad_wrt_inputs")
        output_storage[0][0] = _grad_inputs(self, w, gout, ishape,
                                            *((lowering.scatter, lowering.matmul) if lowering else ()))

    def infer_shape(self, node, input_shapes):
        shape = node.inputs[2]
        return [tuple(shape[i] for i in range(4))]

    def grad(self, inputs, output_grads):
        w, gout, shape = inputs
        (gx,) = output_grads
        T = _T()
        gw = Conv2dGradWeights(**self._args())(gx, gout, T.shape(w))
        ggout = Conv2d(**self._args())(gx, w)
        return [gw, ggout, None]
