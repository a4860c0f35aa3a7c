import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.rewrite.helpers import compare, op_names


def test_merge_computes_exp_once(rng):
    x = T.dvector("x")
    f = compare([x], [T.exp(x) + 1, T.exp(x) * 2], [rng.normal(size=4)], mode=theano.Mode.get("FAST_RUN").excluding("fusion"))
    assert sum("exp" in n for n in op_names(f)) == 1
    g = theano.function([x], [T.exp(x) + 1, T.exp(x) * 2], mode="FAST_COMPILE")
    assert sum("exp" in n for n in op_names(g)) == 1  # merge runs in FAST_COMPILE too


def test_constant_folding(rng):
    x = T.dvector("x")
    c = T.constant(np.arange(3.0))
    f = compare([x], [x + T.exp(c) * 2], [rng.normal(size=3)], mode="FAST_COMPILE")
    names = op_names(f)
    assert not any("exp" in n for n in names) and len(names) == 1


def test_dead_code_and_modes_excluding(rng):
    x = T.dvector("x")
    f = theano.function([x], T.exp(x) * 1, mode=theano.Mode.get("FAST_RUN").excluding("canonicalize", "fusion"))
    assert any("mul" in n for n in op_names(f))
    with theano.config.change(optimizer_excluding="canonicalize:fusion"):
        g = theano.function([x], T.exp(x) * 1)
    assert any("mul" in n for n in op_names(g))
    h = theano.function([x], T.exp(x) * 1)
    assert not any("mul" in n for n in op_names(h))
