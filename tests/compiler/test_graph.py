import pickle

import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.fgraph import FunctionGraph, InconsistentGraphError
from mlc.compiler.graph import clone_replace, graph_inputs, is_same_graph, toposort


def test_toposort_orders_dependencies():
    x = T.dvector("x")
    y = T.exp(x)
    z = y + T.log(y)
    nodes = toposort([z])
    pos = {n: i for i, n in enumerate(nodes)}
    for n in nodes:
        for inp in n.inputs:
            if inp.owner is not None:
                assert pos[inp.owner] < pos[n]


def test_creation_site_is_recorded():
    x = T.dvector()
    y = x * 2
    filename, line, func = y.owner.tag.trace
    assert filename.endswith("test_graph.py") and func == "test_creation_site_is_recorded"


def test_clone_replace():
    x, y = T.dvector("x"), T.dvector("y")
    z = T.exp(x) + 1
    (w,) = clone_replace([z], {x: y})
    assert graph_inputs([w])[0] is y or y in graph_inputs([w])
    assert x not in graph_inputs([w]) and x in graph_inputs([z])
    f = theano.function([y], w)
    np.testing.assert_allclose(f(np.zeros(2)), [2, 2])


def test_is_same_graph():
    x = T.dvector()
    assert is_same_graph(T.exp(x) + 1, T.exp(x) + 1)
    assert not is_same_graph(T.exp(x) + 1, T.exp(x) + 2)


def test_function_graph_replace_and_clients():
    x = T.dvector("x")
    y = T.exp(x)
    z = y * 2
    fg = FunctionGraph([x], [z])
    fg.check_integrity()
    (node,) = [n for n in fg.toposort() if "exp" in str(n.op)]
    fg.replace(node.outputs[0], T.log(x), reason="test")
    fg.check_integrity()
    assert all("exp" not in str(n.op) for n in fg.toposort())
    assert "exp" in str(z.owner.inputs[0].owner.op)  # the user's graph is untouched
    try:
        fg.replace(fg.outputs[0], T.ivector())
    except InconsistentGraphError as err:
        assert "types differ" in str(err)
    else:
        raise AssertionError("expected a type error")


def test_function_graph_order_follows_every_change():
    # the order is remembered between changes: each kind of change must be seen
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x) * 2])
    first = fg.toposort()
    first.reverse()  # a caller's list is its own
    assert [str(n.op) for n in fg.toposort()] == [str(n.op) for n in reversed(first)]
    mul = fg.outputs[0].owner
    fg.change_input(mul, 0, T.log(fg.inputs[0]), reason="test")  # exp pruned, log imported
    ops = [str(n.op) for n in fg.toposort()]
    assert len(ops) == len(first) and "log" in ops[0] and "exp" not in " ".join(ops)
    fg.change_input("output", 0, T.sin(fg.inputs[0]), reason="test")
    assert [str(n.op) for n in fg.toposort()] == ["Elemwise{sin}"]
    fg.check_integrity()


def test_toposort_takes_a_set_of_stops_as_a_list():
    x = T.dvector("x")
    y = T.exp(x)
    z = T.log(y) + y
    assert toposort([z], stop={y}) == toposort([z], stop=[y])
    assert y.owner not in toposort([z], stop={y}) and len(toposort([z], stop={y})) == 2


def test_graphs_pickle():
    x = T.dmatrix("x")
    w = theano.shared(np.ones((2, 2)), "w")
    y = T.nnet.softmax(T.dot(x, w))
    x2, y2 = pickle.loads(pickle.dumps((x, y)))
    f = theano.function([x2], y2)
    np.testing.assert_allclose(f(np.ones((1, 2))), [[0.5, 0.5]])
