"""What a compiled function promises: a failed call changes no shared variable, whatever
the order of updates, in place or not, on every mode; calls from several threads are right."""
import threading

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T

MODES = ["FAST_RUN", "FAST_COMPILE", "DEBUG", "PY"]


def _shared(name, shape, dtype="float64"):
    return theano.shared(np.arange(np.prod(shape), dtype=dtype).reshape(shape) + 1.0, name=name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", ["good-first", "bad-first"])
def test_a_failed_call_applies_no_update(mode, order):
    a, b = _shared("a", (5,)), _shared("b", (5,))
    x = T.dvector("x")
    pairs = [(a, a * 2), (b, b + x)]
    f = theano.function([x], [], updates=pairs if order == "good-first" else pairs[::-1], mode=mode)
    before = a.get_value(), b.get_value()
    with pytest.raises(ValueError):
        f(np.ones(3))  # b + x cannot broadcast
    np.testing.assert_array_equal(a.get_value(), before[0])
    np.testing.assert_array_equal(b.get_value(), before[1])
    f(np.ones(5))  # and the function still works
    np.testing.assert_array_equal(a.get_value(), before[0] * 2)


@pytest.mark.parametrize("mode", MODES)
def test_an_inplace_gemm_update_is_undone_when_a_later_update_fails(mode):
    W, c = _shared("W", (4, 3)), _shared("c", (3,))
    u, v, x = T.dmatrix("u"), T.dmatrix("v"), T.dvector("x")
    f = theano.function([u, v, x], [], updates=[(W, W - 0.1 * T.dot(u, v)), (c, c * x)], mode=mode)
    if mode == "FAST_RUN":
        assert any("Gemm{inplace}" in str(n.op) for n in f.maker.fgraph.toposort())
    before = W.get_value(), c.get_value()
    with pytest.raises(ValueError):
        f(np.ones((4, 2)), np.ones((2, 3)), np.ones(2))
    np.testing.assert_array_equal(W.get_value(), before[0])
    np.testing.assert_array_equal(c.get_value(), before[1])
    with pytest.raises(ValueError):  # now the gemm is the one that fails
        f(np.ones((4, 2)), np.ones((5, 3)), np.ones(3))
    np.testing.assert_array_equal(W.get_value(), before[0])
    np.testing.assert_array_equal(c.get_value(), before[1])


def test_four_threads_share_one_function():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = theano.function([x, y], T.tanh(T.dot(x, y)) * 2 + T.exp(-x.sum()))
    wrong, raised = [], []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(300):
            a, b = rng.normal(size=(7, 5)) * 0.1, rng.normal(size=(5, 6))
            try:
                got = f(a, b)
            except Exception as err:  # noqa: BLE001  (counted, then asserted)
                raised.append(err)
                continue
            if not np.allclose(got, np.tanh(a @ b) * 2 + np.exp(-a.sum())):
                wrong.append(seed)
    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not raised and not wrong, (raised[:3], len(wrong))


def test_threads_updating_one_shared_variable_lose_no_update():
    count = theano.shared(np.zeros(3), name="count")
    step = T.dvector("step")
    f = theano.function([step], count.sum(), updates=[(count, count + step)])

    def work():
        for _ in range(200):
            f(np.ones(3))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(count.get_value(), [800.0, 800.0, 800.0])


@pytest.mark.parametrize("value, message", [
    (None, "got None; expected a float64 2-d array"),
    (3.0, "got a Python float (3.0), a 0-d value; expected a float64 2-d array"),
    ("abc", "holding str"),
    ([[1, 2], [3]], "cannot make an array of the list"),
])
def test_bad_values_say_what_was_passed_and_what_was_expected(value, message):
    x = T.dmatrix("x")
    f = theano.function([x], x * 2)
    with pytest.raises(TypeError, match="input 'x'") as info:
        f(value)
    assert message in str(info.value)


def test_a_symbolic_variable_as_a_value_is_named():
    x = T.dmatrix("x")
    f = theano.function([x], x * 2)
    with pytest.raises(TypeError, match="got the symbolic variable x; a compiled function takes values"):
        f(T.dmatrix("x"))
