"""pool_2d for every mode, window, stride, padding and border rule against plain NumPy
loops (and PyTorch where installed); gradients by finite differences."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor.signal.pool import pool_2d

CASES = [((2, 2), None, (0, 0), True), ((3, 3), (2, 2), (1, 1), True), ((3, 2), (2, 1), (0, 0), False),
         ((2, 2), None, (0, 0), False), ((1, 3), (1, 2), (0, 1), True)]
MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]


def reference_pool(x, ws, stride, pad, ignore_border, mode):
    stride = stride or ws
    h, w = x.shape[-2:]

    def size(n, k, s, p):
        if ignore_border:
            return (n + 2 * p - k) // s + 1
        return max(0, -(-(n - k) // s)) + 1 if n >= k else 1
    oh, ow = size(h, ws[0], stride[0], pad[0]), size(w, ws[1], stride[1], pad[1])
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for idx in np.ndindex(*x.shape[:-2]):
        for i in range(oh):
            for j in range(ow):
                r0, c0 = i * stride[0] - pad[0], j * stride[1] - pad[1]
                inside = [x[idx + (r, c)] for r in range(max(r0, 0), min(r0 + ws[0], h))
                          for c in range(max(c0, 0), min(c0 + ws[1], w))]
                if mode == "max":
                    out[idx + (i, j)] = max(inside)
                elif mode == "sum":
                    out[idx + (i, j)] = sum(inside)
                elif mode == "average_inc_pad":
                    out[idx + (i, j)] = sum(inside) / (ws[0] * ws[1])
                else:
                    out[idx + (i, j)] = sum(inside) / len(inside)
    return out


@pytest.mark.parametrize("ws,stride,pad,ignore_border", CASES)
@pytest.mark.parametrize("mode", MODES)
def test_pool_2d_equals_plain_loops(rng, ws, stride, pad, ignore_border, mode):
    x = rng.normal(size=(2, 3, 7, 8))
    xs = T.dtensor4("x")
    out = pool_2d(xs, ws, ignore_border, stride, pad, mode)
    got, shape = theano.function([xs], [out, out.shape])(x)
    want = reference_pool(x, ws, stride, pad, ignore_border, mode)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert tuple(shape) == want.shape
    theano.gradient.verify_grad(lambda a: pool_2d(a, ws, ignore_border, stride, pad, mode), [x[:1, :2]], rng=rng)


def test_pool_of_any_leading_dims_and_the_old_names(rng):
    x = rng.normal(size=(5, 6))
    m = T.dmatrix("m")
    assert theano.function([m], T.signal.downsample.max_pool_2d(m, (2, 3), ignore_border=True))(x).shape == (2, 2)
    np.testing.assert_allclose(theano.function([m], pool_2d(m, ds=(5, 6), mode="sum"))(x), [[x.sum()]])


def test_against_pytorch_when_installed(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 3, 9, 9)).astype("float32")
    xs = T.ftensor4("x")
    got = theano.function([xs], [pool_2d(xs, (3, 3), True, (2, 2), (1, 1), "max"),
                                 pool_2d(xs, (3, 3), True, (2, 2), (1, 1), "average_exc_pad")])(x)
    tx = torch.from_numpy(x)
    np.testing.assert_allclose(got[0], torch.nn.functional.max_pool2d(tx, 3, 2, 1).numpy())
    np.testing.assert_allclose(got[1], torch.nn.functional.avg_pool2d(tx, 3, 2, 1, count_include_pad=False).numpy(),
                               rtol=1e-6, atol=1e-7)


def test_bad_pool_arguments_are_named():
    xs = T.dtensor4("x")
    with pytest.raises(ValueError, match="mode must be one of"):
        pool_2d(xs, (2, 2), mode="median")
    with pytest.raises(ValueError, match="padding needs ignore_border=True"):
        pool_2d(xs, (2, 2), ignore_border=False, pad=(1, 1))
