"""2-d convolution (NCHW) as Theano's abstract convolution: ``Conv2d`` and the two ops of
its gradient, ``Conv2dGradInputs`` (a transposed convolution) and ``Conv2dGradWeights``.
Each is a lowering to one matrix product per group through BLAS: the input's patches are
laid out as rows (im2col, a strided view copied once), multiplied by the filters; the
input gradient scatters the patch gradients back (col2im, one strided add per filter tap).

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

    def patches(self, x: np.ndarray, kshape: Sequence[int]) -> np.ndarray:
        """``(N, OH, OW, C, KH, KW)`` view of the zero-padded input's patches."""
        ph, pw = self.pad(kshape[2:])
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        n, c, h, w = xp.shape
        kh, kw = kshape[2:]
        (sh, sw), (dh, dw) = self.subsample, self.filter_dilation
        oh, ow = output_size(h, kh, 0, sh, dh), output_size(w, kw, 0, sw, dw)
        s = xp.strides
        return np.lib.stride_tricks.as_strided(xp, (n, oh, ow, c, kh, kw),
                                               (s[0], s[2] * sh, s[3] * sw, s[1], s[2] * dh, s[3] * dw), writeable=False)

    def filters(self, w: np.ndarray) -> np.ndarray:
        return w[:, :, ::-1, ::-1] if self.filter_flip else w


def _forward(p: ConvParams, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    g, (o, cg, kh, kw) = p.num_groups, w.shape
    cols = p.patches(x, w.shape)
    n, oh, ow = cols.shape[:3]
    wf = p.filters(w)
    out = np.empty((n, o, oh, ow), dtype=np.result_type(x, w))
    og = o // g
    for k in range(g):
        part = np.ascontiguousarray(cols[:, :, :, k * cg:(k + 1) * cg]).reshape(n * oh * ow, cg * kh * kw)
        res = part @ wf[k * og:(k + 1) * og].reshape(og, -1).T
        out[:, k * og:(k + 1) * og] = res.reshape(n, oh, ow, og).transpose(0, 3, 1, 2)
    return out


def _grad_weights(p: ConvParams, x: np.ndarray, gout: np.ndarray, kshape: Sequence[int]) -> np.ndarray:
    g, (o, cg, kh, kw) = p.num_groups, tuple(kshape)
    cols = p.patches(x, kshape)
    n, oh, ow = cols.shape[:3]
    og = o // g
    gw = np.empty(tuple(kshape), dtype=np.result_type(x, gout))
    for k in range(g):
        part = np.ascontiguousarray(cols[:, :, :, k * cg:(k + 1) * cg]).reshape(n * oh * ow, cg * kh * kw)
        gk = gout[:, k * og:(k + 1) * og].transpose(0, 2, 3, 1).reshape(n * oh * ow, og)
        gw[k * og:(k + 1) * og] = (gk.T @ part).reshape(og, cg, kh, kw)
    return gw[:, :, ::-1, ::-1] if p.filter_flip else gw


def _grad_inputs(p: ConvParams, w: np.ndarray, gout: np.ndarray, ishape: Sequence[int]) -> np.ndarray:
    g, (o, cg, kh, kw) = p.num_groups, w.shape
    n, c, h, width = (int(s) for s in ishape)
    ph, pw = p.pad(w.shape[2:])
    (sh, sw), (dh, dw) = p.subsample, p.filter_dilation
    oh, ow = gout.shape[2:]
    og = o // g
    wf = p.filters(w)
    gx = np.zeros((n, c, h + 2 * ph, width + 2 * pw), dtype=np.result_type(w, gout))
    for k in range(g):
        gk = gout[:, k * og:(k + 1) * og].transpose(0, 2, 3, 1).reshape(n * oh * ow, og)
        cols = (gk @ wf[k * og:(k + 1) * og].reshape(og, -1)).reshape(n, oh, ow, cg, kh, kw)
        target = gx[:, k * cg:(k + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
                cols_ = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
                target[:, :, rows, cols_] += cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gx[:, :, ph:ph + h, pw:pw + width]


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

    def perform(self, node, inputs, output_storage):
        x, w = inputs
        self.check(x.shape, w.shape, "conv2d")
        output_storage[0][0] = _forward(self, x, w)

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

    def perform(self, node, inputs, output_storage):
        x, gout, shape = inputs
        kshape = tuple(int(s) for s in shape)
        self.check(x.shape, kshape, "conv2d_grad_wrt_weights")
        output_storage[0][0] = _grad_weights(self, x, gout, kshape)

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

    def perform(self, node, inputs, output_storage):
        w, gout, shape = inputs
        ishape = tuple(int(s) for s in shape)
        self.check(ishape, w.shape, "conv2d_grad_wrt_inputs")
        expected = self.out_shape(ishape, w.shape)
        if gout.shape != expected:
            raise ValueError(f"conv2d_grad_wrt_inputs: output gradient of shape {gout.shape} does not fit an input of "
                             f"shape {ishape} and filters {w.shape} (expected {expected})")
        output_storage[0][0] = _grad_inputs(self, w, gout, ishape)

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
