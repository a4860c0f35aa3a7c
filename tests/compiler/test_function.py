import pickle

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.function import MissingInputError, UnusedInputError


def test_outputs_as_variable_list_dict():
    x = T.dscalar("x")
    assert theano.function([x], x * 2)(3) == 6
    assert theano.function([x], [x, x + 1])(1) == [1, 2]
    assert theano.function([x], {"double": x * 2, "sq": x ** 2})(3) == {"double": 6, "sq": 9}
    assert theano.function([x], [], updates=[], on_unused_input="ignore")(1) == []


def test_updates_are_simultaneous():
    a, b = theano.shared(1.0, "a"), theano.shared(2.0, "b")
    swap = theano.function([], [], updates=[(a, b), (b, a)])
    swap()
    assert (a.get_value(), b.get_value()) == (2.0, 1.0)
    inc = theano.function([], a + b, updates={a: a + 10, b: a * 100})
    assert inc() == 3.0
    assert (a.get_value(), b.get_value()) == (12.0, 200.0)


def test_givens_minibatch_slice_of_shared_data():
    data = theano.shared(np.arange(20.0).reshape(10, 2), "data")
    labels = theano.shared(np.arange(10), "labels")
    x, y, i = T.dmatrix("x"), T.lvector("y"), T.lscalar("i")
    bs = 3
    f = theano.function([i], [x.sum(), y.sum()], givens={x: data[i * bs:(i + 1) * bs],
                                                       y: labels[i * bs:(i + 1) * bs]})
    for k in range(3):
        s, t = f(k)
        assert s == np.arange(20.0).reshape(10, 2)[k * bs:(k + 1) * bs].sum()
        assert t == np.arange(10)[k * bs:(k + 1) * bs].sum()


def test_shared_get_set_borrow():
    v = np.ones(3)
    s = theano.shared(v, "s")
    v[0] = 5
    assert s.get_value()[0] == 1  # copied at creation
    got = s.get_value()
    got[1] = 7
    assert s.get_value()[1] == 1  # get_value copies
    s.set_value(np.zeros(3))
    assert not s.get_value().any()
    assert theano.shared(0.).dtype == "float64" and theano.shared(0.).ndim == 0
    assert theano.shared(np.float32(1)).dtype == "float32"
    with pytest.raises(TypeError, match=r"'s'.*dimensions"):
        s.set_value(np.zeros((2, 2)))
    f32 = theano.shared(np.zeros(2, dtype="float32"), "f32")
    with pytest.raises(TypeError, match="f32.*lose precision"):
        f32.set_value(np.array([1.0, 2.0]))


def test_returned_outputs_do_not_alias_shared_or_inputs():
    s = theano.shared(np.zeros(3), "s")
    x = T.dvector()
    f = theano.function([x], [s, x])
    out_s, out_x = f(np.ones(3))
    out_s[0] = 9
    assert s.get_value()[0] == 0
    v = np.ones(3)
    assert not np.shares_memory(theano.function([x], x)(v), v)


def test_wrong_ndim_and_lossy_dtype_name_the_input():
    x, y = T.dmatrix("x"), T.fvector("y")
    f = theano.function([x, y], x.sum() + y.sum(), name="f")
    with pytest.raises(TypeError, match=r"input 'x' \(position 0\).*expected 2.*got 1"):
        f(np.zeros(3), np.zeros(3, dtype="float32"))
    with pytest.raises(TypeError, match=r"input 'y' \(position 1\).*float32.*float64"):
        f(np.zeros((2, 2)), np.zeros(3))
    with theano.config.change(floatX="float32"):  # Python floats may be narrowed to floatX
        assert f(np.zeros((2, 2)), [1.5, 2.5]) == 4.0
    g = theano.function([x, y], x.sum() + y.sum(), allow_input_downcast=True)
    assert g(np.zeros((2, 2)), np.ones(3)) == 3.0
    with pytest.raises(TypeError, match="takes 2 inputs"):
        f(1, 2, 3)
    with pytest.raises(TypeError, match="missing input 'y'"):
        f(np.zeros((2, 2)))


def test_failed_call_changes_no_shared_variable():
    w = theano.shared(np.ones(3), "w")
    c = theano.shared(0.0, "count")
    x = T.dmatrix("x")
    f = theano.function([x], T.dot(x, w), updates=[(w, w * 2), (c, c + 1)])
    with pytest.raises(ValueError, match="Dot"):
        f(np.ones((2, 4)))
    assert w.get_value().tolist() == [1, 1, 1] and c.get_value() == 0
    f(np.ones((2, 3)))
    assert w.get_value().tolist() == [2, 2, 2] and c.get_value() == 1


def test_unused_and_missing_inputs():
    x, y = T.dscalar("x"), T.dscalar("y")
    with pytest.raises(UnusedInputError, match=r"'y' \(position 1\)"):
        theano.function([x, y], x * 2)
    with pytest.warns(UserWarning):
        theano.function([x, y], x * 2, on_unused_input="warn")
    with pytest.raises(MissingInputError, match="y"):
        theano.function([x], x * y)
    with pytest.raises(TypeError, match="shared variable"):
        theano.function([theano.shared(1.0)], x, on_unused_input="ignore")


def test_update_type_errors():
    w = theano.shared(np.zeros(3, dtype="float32"), "w")
    with pytest.raises(TypeError, match="'float32'"):
        theano.function([], [], updates=[(w, w * np.float64(2))])
    with pytest.raises(TypeError, match="not a shared variable"):
        theano.function([], [], updates=[(T.dvector(), 1.0)])
    with pytest.raises(TypeError, match="1-d"):
        theano.function([], [], updates=[(w, w.sum())])


def test_in_defaults_and_keyword_calls():
    x, y = T.dscalar("x"), T.dscalar("y")
    f = theano.function([x, theano.In(y, value=10.0)], x + y)
    assert f(1) == 11 and f(1, 2) == 3 and f(x=1, y=5) == 6


def test_pickle_function_with_shared_state():
    w = theano.shared(np.array([1.0, 2.0]), "w")
    x = T.dvector("x")
    f = theano.function([x], T.dot(x, w), updates=[(w, w + 1)])
    g, w2 = pickle.loads(pickle.dumps((f, w)))
    assert g(np.ones(2)) == 3.0
    assert w2.get_value().tolist() == [2.0, 3.0]
    assert w.get_value().tolist() == [1.0, 2.0]


def test_maker_fgraph_exposes_nodes():
    x = T.dvector()
    f = theano.function([x], T.exp(x).sum())
    ops = [type(n.op).__name__ for n in f.maker.fgraph.toposort()]
    assert "Reduce" in ops or "Fused" in " ".join(ops)


def test_intermediate_variable_as_input():
    x = T.dscalar("x")
    y = x * 2
    f = theano.function([y], y + 1)
    assert f(5.0) == 6.0


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "DEBUG"])
def test_modes_agree(mode):
    x = T.dvector()
    f = theano.function([x], T.tanh(x).sum(), mode=mode)
    assert np.isclose(f(np.arange(3.0)), np.tanh(np.arange(3.0)).sum())


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_a_python_int_index_becomes_an_array_of_the_inputs_dtype_or_the_filters_error(dtype):
    """Out of range is refused (2**63 into int64 once wrapped to -2**63 and passed)."""
    i = T.scalar("i", dtype=dtype)
    f = theano.function([i], i * 2)
    seen = []
    g = theano.function([i], i, mode=theano.Mode(linker="py"))
    for value in (0, 7, 100):
        got = f(value)
        assert got.dtype == dtype and got == value * 2
        seen.append(g(value))
    assert all(v.dtype == dtype and v.shape == () for v in seen)
    too_big = int(np.iinfo(dtype).max) + 1
    with pytest.raises(TypeError, match=f"expected dtype {dtype}, got u?int64; converting would lose precision"):
        f(too_big)
    with pytest.raises(TypeError, match="expected dtype"):
        theano.function([theano.In(i, strict=True)], i)(3 if dtype != "int64" else np.int32(3))
    assert f(True) == 2  # a bool is not an int here: it takes the filter's path
