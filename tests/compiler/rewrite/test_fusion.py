import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn
from tests.compiler.rewrite.helpers import compare, op_names


def test_expression_fuses_to_one_node(rng):
    x, y = T.fvector("x"), T.fvector("y")
    out = T.exp(-x * x) * T.sin(y) + T.tanh(x * y)
    f = compare([x, y], [out], [rng.normal(size=50).astype("float32"), rng.normal(size=50).astype("float32")],
                rtol=1e-6)
    assert len(f.maker.fgraph.toposort()) == 1
    (node,) = f.maker.fgraph.toposort()
    assert "Composite" in str(node.op)
    text = theano.debugprint(f, file="str")
    assert "exp" in text and "sin" in text and "tanh" in text


def test_elemwise_chain_into_reduction(rng):
    x = T.dmatrix("x")
    f = compare([x], [(x ** 2).sum(axis=1)], [rng.normal(size=(4, 5))])
    assert len(f.maker.fgraph.toposort()) == 1 and "FusedReduce" in op_names(f)[0]


def test_mlp_train_step_elemwise_work_is_a_handful_of_fused_nodes():
    x, y = T.matrix("x"), T.lvector("y")
    model = nn.MLP(20, [15], 5, seed=0)
    cost = nn.losses.negative_log_likelihood(model(x), y) + nn.regularizers.l2(model, 1e-4)
    updates = nn.SGD(0.01).get_updates(cost, model.get_params())
    f = theano.function([x, y], cost, updates=updates)
    elementwise = [str(n.op) for n in f.maker.fgraph.toposort()
                   if str(n.op).startswith("Elemwise") and n.outputs[0].ndim > 0]  # not scalar bookkeeping
    assert len(elementwise) <= 8, elementwise
    slow = theano.function([x, y], cost, updates=updates, mode="FAST_COMPILE")
    unfused = [n for n in slow.maker.fgraph.toposort() if str(n.op).startswith("Elemwise") and n.outputs[0].ndim > 0]
    assert len(unfused) >= 3 * len(elementwise)


def test_fused_node_error_names_user_line(rng):
    x, y = T.dvector("x"), T.dvector("y")
    z = T.exp(x) * T.tanh(y)  # FUSED LINE
    f = theano.function([x, y], z + 1)
    with pytest.raises(ValueError) as info:
        f(np.zeros(3), np.zeros(4))
    assert "FUSED LINE" in str(info.value) or "test_fusion.py" in str(info.value)
