"""``theano.compile``: its names, the checking modes (NanGuardMode, MonitorMode, DebugMode),
profiling, ``as_op``, input states (``In(update=...)``) and ``Function.copy``, run as the
Theano tutorials show them with only the imports changed."""
import io

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.compile.nanguardmode import NanGuardMode


def test_the_namespace_lasagne_and_ported_scripts_use():
    c = theano.compile
    assert c.SharedVariable is theano.SharedVariable and isinstance(theano.shared(1.0), c.SharedVariable)
    assert c.function is theano.function and c.get_default_mode() == c.get_mode("FAST_RUN")
    assert c.get_mode("DebugMode").check and isinstance(c.DebugMode(check_py_code=False), c.Mode)
    for name in ("In", "Out", "Mode", "ProfileStats", "NanGuardMode", "MonitorMode"):
        assert hasattr(c, name)
    assert c.ops.as_op is c.as_op


def test_nanguardmode_names_the_node_that_made_the_nan_and_the_line():
    x = T.dmatrix("x")
    w = theano.shared(np.random.default_rng(0).normal(size=(5, 7)))
    y = T.dot(x, w)
    fun = theano.function([x], T.log(y - y.max() - 1) * 0 + T.sqrt(y - 1e3),
                          mode=NanGuardMode(nan_is_error=True, inf_is_error=True, big_is_error=True))
    with pytest.raises(AssertionError, match=r"(?s)NanGuardMode: .*produced NaN in output 0.*test_compile.py"):
        fun(np.ones((3, 5)))
    big = theano.function([x], x * 1e12, mode=NanGuardMode())
    with pytest.raises(AssertionError, match=r"big value"):
        big(np.ones((1, 1)))
    assert theano.function([x], x * 2, mode=NanGuardMode())(np.ones((1, 1))).tolist() == [[2.0]]


def test_monitormode_calls_back_around_every_node_the_tutorials_detect_nan():
    seen = []

    def detect_nan(i, node, fn):
        for output in fn.outputs:
            if isinstance(output[0], np.ndarray) and np.isnan(output[0]).any():
                seen.append((i, str(node.op), [inp[0] for inp in fn.inputs]))
                break
    x = T.dscalar("x")
    f = theano.function([x], [T.log(x) * x],
                        mode=theano.compile.MonitorMode(post_func=detect_nan).excluding("local_elemwise_fusion",
                                                                                         "inplace"))
    f(0)  # log(0) * 0 = nan
    assert seen and "mul" in seen[0][1]
    before = []
    g = theano.function([x], T.exp(x) + 1, mode=theano.compile.MonitorMode(pre_func=lambda i, n, fn: before.append(i)))
    g(1.0)
    assert before == list(range(len(g.maker.fgraph.toposort())))


def test_debugmode_checks_every_node_against_its_perform():
    x = T.dvector("x")
    f = theano.function([x], T.exp(x) * 2 + 1, mode=theano.compile.DebugMode())
    np.testing.assert_allclose(f(np.zeros(3)), [3.0] * 3)
    assert f.maker.mode.check


def test_profile_records_each_node_and_prints_theanos_tables():
    x = T.dmatrix("x")
    f = theano.function([x], T.exp(T.dot(x, x)).sum(), profile=True)
    for _ in range(4):
        f(np.ones((30, 30)))
    p = f.profile
    assert p.fct_callcount == 4 and p.compile_time > 0
    assert all(calls == 4 for _, _, calls in p.top_nodes())
    out = io.StringIO()
    p.summary(file=out)
    text = out.getvalue()
    for title in ("Function profiling", "Class\n-----", "Ops\n---", "Apply\n------", "input shapes: (30, 30), (30, 30)"):
        assert title in text
    with theano.config.change(profile=True):
        assert theano.function([x], x + 1).profile is not None


def test_as_op_wraps_a_numpy_function():
    @theano.compile.ops.as_op(itypes=[T.dmatrix], otypes=[T.dmatrix])
    def numpy_dot(a):
        return np.dot(a, a)
    x = T.dmatrix("x")
    f = theano.function([x], numpy_dot(x) + 1)
    assert f(np.eye(2) * 2).tolist() == [[5.0, 1.0], [1.0, 5.0]]
    with pytest.raises(TypeError, match=r"input 0 is float64 vector, expected float64 matrix"):
        numpy_dot(T.dvector())


def test_an_input_with_an_update_is_state_kept_by_the_function():
    from mlc.compiler.function import In
    state, inc = T.dscalar("state"), T.dscalar("inc")
    accumulator = theano.function([inc, In(state, value=0.0, update=state + inc)], state)
    assert [float(accumulator(1.0)) for _ in range(3)] == [0.0, 1.0, 2.0] and accumulator[state] == 3.0
    accumulator[state] = -10.0
    assert accumulator(1.0) == -10.0 and accumulator["state"] == -9.0


def test_copy_with_swapped_shared_variables_and_without_updates():
    state, new_state = theano.shared(0), theano.shared(0)
    inc = T.iscalar("inc")
    accumulator = theano.function([inc], state, updates=[(state, state + inc)])
    accumulator(10)
    swapped = accumulator.copy(swap={state: new_state})
    swapped(100)
    assert state.get_value() == 10 and new_state.get_value() == 100
    frozen = accumulator.copy(delete_updates=True)
    frozen(5)
    assert state.get_value() == 10
    with pytest.raises(TypeError, match="same type"):
        accumulator.copy(swap={state: theano.shared(0.5)})
