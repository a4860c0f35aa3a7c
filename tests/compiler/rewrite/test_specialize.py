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
