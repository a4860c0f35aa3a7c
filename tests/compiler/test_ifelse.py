"""``ifelse``: only the branch taken runs (checked with ops that count their runs or fail),
several outputs, nesting, values shared with the rest of the graph, and the gradient."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.graph import Apply, Op
from mlc.compiler.ifelse import ifelse


class Counted(Op):
    """Identity that counts its runs (an 'expensive' computation) or fails on demand."""
    __props__ = ("tag",)

    def __init__(self, tag, fail=False):
        self.tag, self.fail, self.runs = tag, fail, 0

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        self.runs += 1
        if self.fail:
            raise RuntimeError(f"branch {self.tag} ran")
        out[0][0] = inputs[0] * 1


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "DEBUG"])
def test_only_the_branch_taken_runs(mode):
    a, x = T.dscalar("a"), T.dvector("x")
    cheap, failing = Counted("then"), Counted("else", fail=True)
    f = theano.function([a, x], ifelse(T.gt(a, 0), cheap(T.exp(x)).sum(), failing(T.log(x)).sum()), mode=mode)
    assert np.isclose(f(1.0, np.zeros(3)), 3.0) and cheap.runs == 1
    with pytest.raises(RuntimeError, match="branch else ran") as info:
        f(-1.0, np.ones(3))
    assert "test_ifelse.py" in str(info.value)  # the failing node is named, with the user's line


def test_several_outputs_and_nesting():
    a, b, x = T.dscalar("a"), T.dscalar("b"), T.dvector("x")
    never = Counted("never", fail=True)
    inner = ifelse(T.gt(b, 0), [x * 2, x.sum()], [x * 3, never(x).sum()])
    outer = ifelse(T.gt(a, 0), inner, [x * 0, x.max()])
    f = theano.function([a, b, x], outer)
    got = f(1.0, 1.0, np.array([1.0, 2.0]))
    assert got[0].tolist() == [2.0, 4.0] and got[1] == 3.0
    got = f(-1.0, -1.0, np.array([1.0, 2.0]))  # the inner condition is never evaluated: its else neither
    assert got[0].tolist() == [0.0, 0.0] and got[1] == 2.0 and never.runs == 0


def test_a_value_used_outside_the_branch_is_computed_anyway():
    a, x = T.dscalar("a"), T.dvector("x")
    shared_part = T.exp(x)
    f = theano.function([a, x], [ifelse(T.gt(a, 0), shared_part.sum(), x.sum()), shared_part])
    got, e = f(-1.0, np.zeros(2))
    assert got == 0.0 and e.tolist() == [1.0, 1.0]


def test_gradient_flows_into_the_branch_taken_only(rng):
    a, x, y = T.dscalar("a"), T.dvector("x"), T.dvector("y")
    out = ifelse(T.gt(a, 0), (x ** 2).sum(), (y ** 3).sum())
    f = theano.function([a, x, y], theano.grad(out, [x, y]))
    xs, ys = rng.normal(size=3), rng.normal(size=3)
    gx, gy = f(1.0, xs, ys)
    np.testing.assert_allclose(gx, 2 * xs)
    np.testing.assert_array_equal(gy, 0)
    gx, gy = f(-1.0, xs, ys)
    np.testing.assert_array_equal(gx, 0)
    np.testing.assert_allclose(gy, 3 * ys ** 2)


def test_ifelse_refuses_branches_of_different_types():
    a, x, m = T.dscalar("a"), T.dvector("x"), T.dmatrix("m")
    with pytest.raises(TypeError, match="output 0: the then branch gives float64 vector but the else branch float64 matrix"):
        ifelse(a, x, m)
    with pytest.raises(TypeError, match="condition must be a scalar"):
        ifelse(x, x, x)
