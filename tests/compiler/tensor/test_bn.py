"""Batch normalization against NumPy: batch statistics per activation and per channel
(spatial), running averages (unbiased variance), the test-time form, and gradients."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor.nnet import bn


@pytest.mark.parametrize("axes,keep", [("per-activation", (0,)), ("spatial", (0, 2, 3)), ((0, 3), (0, 3))])
def test_train_mode_statistics_output_and_running_averages(rng, axes, keep):
    x = rng.normal(size=(5, 3, 4, 2)) * 2 + 1
    shape = tuple(1 if d in keep else s for d, s in enumerate(x.shape))
    gamma, beta = rng.normal(size=shape), rng.normal(size=shape)
    rm, rv = rng.normal(size=shape), rng.random(size=shape) + 0.5
    xs = T.dtensor4("x")
    gs, bs, rms, rvs = (T.tensor("float64", [n == 1 for n in shape], name=k) for k in ("g", "b", "rm", "rv"))
    out, mean, invstd, new_rm, new_rv = bn.batch_normalization_train(xs, gs, bs, axes, 1e-4, 0.1, rms, rvs)
    got = theano.function([xs, gs, bs, rms, rvs], [out, mean, invstd, new_rm, new_rv])(x, gamma, beta, rm, rv)
    m, v = x.mean(axis=keep, keepdims=True), x.var(axis=keep, keepdims=True)
    count = np.prod([x.shape[a] for a in keep])
    np.testing.assert_allclose(got[0], (x - m) / np.sqrt(v + 1e-4) * gamma + beta, rtol=1e-10)
    np.testing.assert_allclose(got[1], m)
    np.testing.assert_allclose(got[2], 1 / np.sqrt(v + 1e-4))
    np.testing.assert_allclose(got[3], 0.9 * rm + 0.1 * m)
    np.testing.assert_allclose(got[4], 0.9 * rv + 0.1 * v * count / (count - 1))
    test_out = theano.function([xs, gs, bs, rms, rvs], bn.batch_normalization_test(xs, gs, bs, rms, rvs, axes))
    np.testing.assert_allclose(test_out(x, gamma, beta, rm, rv), (x - rm) / np.sqrt(rv + 1e-4) * gamma + beta)


def test_vector_params_per_channel_and_gradients(rng):
    x = rng.normal(size=(4, 3, 2, 2))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    theano.gradient.verify_grad(lambda a, g, b: bn.batch_normalization_train(a, g, b, "spatial")[0],
                                [x, gamma, beta], rng=rng)
    xs, ms = T.dmatrix("x"), T.dvector("m")
    plain = bn.batch_normalization(xs, 2.0, 1.0, ms, 4.0)
    assert theano.function([xs, ms], plain)(np.ones((1, 2)) * 5, np.ones(2)).tolist() == [[3.0, 3.0]]
    with pytest.raises(ValueError, match="axes"):
        bn.batch_normalization_train(xs, ms, ms, axes=(5,))


@pytest.mark.parametrize("axes,shape", [("spatial", (4, 3, 5, 2)), ("per-activation", (6, 5)), ((1, 2), (3, 4, 2))])
def test_the_op_and_its_c_kernels_against_perform_and_gradients_of_every_output(rng, axes, shape):
    x = rng.normal(size=shape)
    ax = bn._axes(axes, len(shape))
    pshape = tuple(1 if d in ax else s for d, s in enumerate(shape))
    gamma, beta = rng.normal(size=pshape), rng.normal(size=pshape)

    def everything(a, g, b):
        out, mean, invstd = bn.batch_normalization_train(a, T.patternbroadcast(g, [n == 1 for n in pshape]),
                                                         T.patternbroadcast(b, [n == 1 for n in pshape]), axes)
        return (out * out).sum() + 3 * mean.sum() + (invstd ** 2).sum()
    theano.gradient.verify_grad(everything, [x, gamma, beta], rng=rng)
    syms = [T.tensor("float64", [False] * len(s), name=n) for s, n in ((shape, "x"), (pshape, "g"), (pshape, "b"))]
    outs = [everything(*syms), *theano.grad(everything(*syms), syms)]
    fast = theano.function(syms, outs)(x, gamma, beta)
    checked = theano.function(syms, outs, mode="DEBUG")(x, gamma, beta)  # each C thunk against perform
    for a, b in zip(fast, checked):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
