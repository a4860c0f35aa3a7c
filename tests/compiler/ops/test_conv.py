"""conv2d for every border mode, stride, dilation, group count and filter flip against a
plain-loop NumPy reference written here (and PyTorch's where installed); its two gradient
ops by finite differences, and as the transposed convolution they are."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor.nnet import abstract_conv

CASES = [("valid", (1, 1), (1, 1), 1), ("full", (1, 1), (1, 1), 1), ("half", (1, 1), (1, 1), 1),
         (1, (2, 2), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ("valid", (1, 1), (2, 2), 1),
         ("half", (2, 1), (2, 1), 2), ("full", (1, 1), (1, 1), 4), (0, (3, 2), (1, 1), 2)]


def reference_conv(x, w, border_mode, subsample, dilation, groups, flip):
    """Convolution by its definition, one output element at a time."""
    n, c, h, width = x.shape
    o, cg, kh, kw = w.shape
    if flip:
        w = w[:, :, ::-1, ::-1]
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    pad = {"valid": (0, 0), "full": (eh - 1, ew - 1), "half": (eh // 2, ew // 2)}.get(border_mode, border_mode) \
        if isinstance(border_mode, str) else ((border_mode, border_mode) if isinstance(border_mode, int) else border_mode)
    xp = np.zeros((n, c, h + 2 * pad[0], width + 2 * pad[1]))
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + width] = x
    oh = (xp.shape[2] - eh) // subsample[0] + 1
    ow = (xp.shape[3] - ew) // subsample[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for b in range(n):
        for k in range(o):
            g = k // og
            for i in range(oh):
                for j in range(ow):
                    total = 0.0
                    for ci in range(cg):
                        for a in range(kh):
                            for e in range(kw):
                                total += w[k, ci, a, e] * xp[b, g * cg + ci, i * subsample[0] + a * dilation[0],
                                                              j * subsample[1] + e * dilation[1]]
                    out[b, k, i, j] = total
    return out


@pytest.mark.parametrize("border_mode,subsample,dilation,groups", CASES)
@pytest.mark.parametrize("flip", [True, False])
def test_conv2d_equals_the_definition(rng, border_mode, subsample, dilation, groups, flip):
    x, w = rng.normal(size=(2, 4, 7, 6)), rng.normal(size=(4, 4 // groups, 3, 2))
    xs, ws = T.dtensor4("x"), T.dtensor4("w")
    out = T.nnet.conv2d(xs, ws, border_mode=border_mode, subsample=subsample, filter_dilation=dilation,
                        num_groups=groups, filter_flip=flip)
    f = theano.function([xs, ws], [out, out.shape])
    got, shape = f(x, w)
    want = reference_conv(x, w, border_mode, subsample, dilation, groups, flip)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert tuple(shape) == want.shape  # shape inference


@pytest.mark.parametrize("border_mode,subsample,dilation,groups", CASES[:3] + CASES[6:])
def test_conv2d_gradients_pass_verify_grad(rng, border_mode, subsample, dilation, groups):
    x, w = rng.normal(size=(2, 4, 5, 5)), rng.normal(size=(4, 4 // groups, 3, 2))
    theano.gradient.verify_grad(lambda a, b: T.nnet.conv2d(a, b, border_mode=border_mode, subsample=subsample,
                                                           filter_dilation=dilation, num_groups=groups), [x, w], rng=rng)


def test_the_gradient_ops_are_the_transposed_convolutions(rng):
    x, w, g = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(5, 3, 3, 3)), rng.normal(size=(2, 5, 4, 4))
    xs, ws, gs = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("g")
    out = T.nnet.conv2d(xs, ws)
    gx, gw = theano.grad((out * gs).sum(), [xs, ws])
    explicit = [abstract_conv.conv2d_grad_wrt_inputs(gs, ws, xs.shape),
                abstract_conv.conv2d_grad_wrt_weights(xs, gs, ws.shape)]
    got = theano.function([xs, ws, gs], [gx, gw] + explicit)(x, w, g)
    np.testing.assert_allclose(got[0], got[2])
    np.testing.assert_allclose(got[1], got[3])
    # the input gradient is the full convolution of g with the filters, channels swapped
    full = reference_conv(g, w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1], "full", (1, 1), (1, 1), 1, True)
    np.testing.assert_allclose(got[0], full, rtol=1e-12, atol=1e-12)
    theano.gradient.verify_grad(lambda a, b: abstract_conv.conv2d_grad_wrt_inputs(a, b, (2, 3, 6, 6)), [g, w], rng=rng)
    theano.gradient.verify_grad(lambda a, b: abstract_conv.conv2d_grad_wrt_weights(a, b, (5, 3, 3, 3)), [x, g], rng=rng)


def test_against_pytorch_when_installed(rng):
    torch = pytest.importorskip("torch")
    x, w = rng.normal(size=(3, 4, 10, 9)).astype("float32"), rng.normal(size=(6, 2, 3, 3)).astype("float32")
    xs, ws = T.ftensor4("x"), T.ftensor4("w")
    got = theano.function([xs, ws], T.nnet.conv2d(xs, ws, border_mode=1, subsample=(2, 1), filter_dilation=(1, 2),
                                                  num_groups=2, filter_flip=False))(x, w)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=(2, 1), padding=1,
                                      dilation=(1, 2), groups=2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_legacy_conv_and_clear_errors():
    xs, ws = T.dtensor4("x"), T.dtensor4("w")
    f = theano.function([xs, ws], T.nnet.conv.conv2d(xs, ws, border_mode="full"))
    assert f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2))).shape == (1, 1, 3, 3)
    g = theano.function([xs, ws], T.nnet.conv2d(xs, ws))
    with pytest.raises(ValueError, match=r"input of shape \(1, 3, 5, 5\) \(channels 3\) does not fit filters"):
        g(np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        g(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="border_mode must be"):
        T.nnet.conv2d(xs, ws, border_mode="same")
