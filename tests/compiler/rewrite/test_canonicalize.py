import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.rewrite.helpers import compare, op_names

NO_FUSION = theano.Mode.get("FAST_RUN").excluding("fusion", "inplace")

CASES = [
    ("x*1", lambda x, y: x * 1, lambda names: names == []),
    ("x+0", lambda x, y: x + 0, lambda names: names == []),
    ("x-0", lambda x, y: x - 0, lambda names: names == []),
    ("x-x", lambda x, y: (x - x) + y, lambda names: "Elemwise{sub}" not in names),
    ("--x", lambda x, y: -(-x), lambda names: names == []),
    ("x/x", lambda x, y: x / x + y, lambda names: "Elemwise{true_div}" not in names),
    ("x/1", lambda x, y: x / 1, lambda names: names == []),
    ("exp(log x)", lambda x, y: T.exp(T.log(x)), lambda names: names == []),
    ("log(exp x)", lambda x, y: T.log(T.exp(x)), lambda names: names == []),
    ("flatten", lambda x, y: (x + y) + (x * 2 + 3), lambda names: names.count("Elemwise{add}") == 1),
    ("constants", lambda x, y: 2 * x * 3 * y, lambda names: names == ["Elemwise{mul}"]),
    ("x+x", lambda x, y: x + x, lambda names: names == ["Elemwise{mul}"]),
    ("sum of sums", lambda x, y: (x.dimshuffle(0, "x") * y).sum(axis=0).sum(),
     lambda names: sum("Reduce" in n for n in names) == 1),
    ("transpose of transpose", lambda x, y: (x.dimshuffle(0, "x") * y).T.T, lambda names: "DimShuffle{1,0}" not in names),
    ("fill", lambda x, y: T.grad((x * y).sum(), x), lambda names: "Elemwise{second}" not in names),
]


@pytest.mark.parametrize("name,build,check", CASES, ids=[c[0] for c in CASES])
def test_canonical_forms(name, build, check, rng):
    x, y = T.dvector("x"), T.dvector("y")
    out = build(x, y)
    values = [rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)]
    compare([x, y], [out], values, wrt=[x], mode=NO_FUSION, on_unused_input="ignore")
    forward = theano.function([x, y], out, mode=NO_FUSION, on_unused_input="ignore")
    assert check(op_names(forward)), op_names(forward)
    before = theano.function([x, y], out, mode="FAST_COMPILE", on_unused_input="ignore")
    assert len(op_names(forward)) <= len(op_names(before))


def test_shape_entries_are_read_off_inputs(rng):
    x = T.dmatrix("x")
    y = T.exp(x) * 2
    f = compare([x], [y.shape[1] + 0.0, T.mean(T.tanh(x))], [rng.normal(size=(3, 4))], mode=NO_FUSION)
    shapes = [n for n in f.maker.fgraph.toposort() if str(n.op) == "Shape"]
    assert all(n.inputs[0] is f.maker.fgraph.inputs[0] for n in shapes)
