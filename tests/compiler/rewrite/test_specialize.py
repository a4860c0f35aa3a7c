import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.rewrite.helpers import compare, op_names

NO_FUSION = theano.Mode.get("FAST_RUN").excluding("fusion")


def test_pow_specializations(rng):
    x = T.dvector("x")
    f = compare([x], [x ** 2, x ** 0.5, x ** 1 + 1, x ** -1], [rng.uniform(0.5, 2, 5)], wrt=[x], mode=NO_FUSION)
    names = op_names(f)
    assert not any("pow" in n for n in names)
    assert any("sqr" in n for n in names) and any("sqrt" in n for n in names)


def test_gemm_from_dot_plus_bias(rng):
    x, W = T.dmatrix("x"), T.dmatrix("W")
    b = T.dvector("b")
    f = compare([x, W, b], [T.dot(x, W) + b], [rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)],
                wrt=[x, W, b], mode=NO_FUSION)
    assert "Gemm" in " ".join(op_names(f))


def test_gemm_for_shared_update_happens_in_place(rng):
    W = theano.shared(rng.normal(size=(4, 3)), name="W")
    a, g = T.dmatrix("a"), T.dmatrix("g")
    f = theano.function([a, g], [], updates=[(W, W - 0.1 * T.dot(a, g))])
    assert "Gemm{inplace}" in op_names(f)
    A, G = rng.normal(size=(4, 5)), rng.normal(size=(5, 3))
    before = W.get_value()
    storage = W.get_value(borrow=True)
    f(A, G)
    np.testing.assert_allclose(W.get_value(), before - 0.1 * A @ G)
    assert W.get_value(borrow=True) is storage  # updated in the shared storage itself


def test_weight_decay_folds_into_the_gemms_beta_in_place(rng):
    # the gradient of l2 * sum(W ** 2) is 2 * l2 * W ** 1: after the powers, W - lr * (dot + c * W)
    # collects into one Gemm scaling W by beta, in W's own storage (no copy of W per step)
    W = theano.shared(rng.normal(size=(4, 3)), name="W")
    a, g = T.dmatrix("a"), T.dmatrix("g")
    cost = T.sum(T.dot(a, W) * g) + 1e-3 * (W ** 2).sum()
    f = theano.function([a, g], cost, updates=[(W, W - 0.1 * T.grad(cost, W))])
    nodes = f.maker.fgraph.toposort()
    gemm = [n for n in nodes if str(n.op) == "Gemm{inplace}"]
    assert len(gemm) == 1 and gemm[0].inputs[0] is W and float(gemm[0].inputs[4].data) == 1 - 0.1 * 2e-3
    assert not any(str(n.op).startswith("Elemwise") and n.outputs[0].ndim == 2 for n in nodes)  # no scaled copy
    A, G = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    before = W.get_value()
    storage = W.get_value(borrow=True)
    want_cost = np.sum(A @ before * G) + 1e-3 * (before ** 2).sum()
    np.testing.assert_allclose(f(A, G), want_cost, rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), before - 0.1 * (A.T @ G + 2e-3 * before), rtol=1e-12)
    assert W.get_value(borrow=True) is storage


def test_argmax_of_softmax_takes_the_scores_and_drops_the_exponentials(rng):
    from mlc.compiler.ops.nnet import LogSoftmax, Softmax
    z = T.dmatrix("z")
    outputs = [T.argmax(T.nnet.softmax(z), axis=1), T.argmax(LogSoftmax(1)(z), axis=-1),
               T.argmin(Softmax(-1)(z), axis=1)]
    values = rng.normal(size=(50, 10)) * 3
    f = compare([z], outputs, [values])
    assert not any("Softmax" in n for n in op_names(f))
    np.testing.assert_array_equal(f(values)[0], np.argmax(values, axis=1))


def test_argmax_across_the_softmax_axis_keeps_the_softmax(rng):
    z = T.dmatrix("z")
    f = compare([z], [T.argmax(T.nnet.softmax(z), axis=0), T.argmax(T.nnet.softmax(z), axis=None)],
                [rng.normal(size=(6, 5))])
    assert sum("Softmax" in n for n in op_names(f)) == 1
