"""``scan`` against plain NumPy loops: taps, outputs not fed back, shared-variable updates,
random streams inside, ``until``, the shorthands, and the gradient through the loop checked
by finite differences on recurrent cells."""
import pickle

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.scan_module import until
from mlc.compiler.scan_module.op import Scan


def test_power_by_repeated_multiplication_with_a_symbolic_step_count():
    k, A = T.iscalar("k"), T.dvector("A")
    result, updates = theano.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    f = theano.function([A, k], [result, result[-1]], updates=updates)
    every, last = f(np.array([1.0, 2.0, 3.0]), 4)
    np.testing.assert_array_equal(every, [[1, 2, 3], [1, 4, 9], [1, 8, 27], [1, 16, 81]])
    np.testing.assert_array_equal(last, [1, 16, 81])
    assert theano.function([A, k], result)(np.array([2.0, 1.0]), 0).shape == (0, 2)


def test_polynomial_from_two_sequences_of_different_lengths_and_its_gradient():
    c, x = T.dvector("c"), T.dscalar("x")
    terms, _ = theano.scan(lambda ci, power, x: ci * x ** power, sequences=[c, T.arange(1000)], non_sequences=x)
    f = theano.function([c, x], [terms.sum(), *theano.grad(terms.sum(), [c, x])])
    value, dc, dx = f(np.array([1.0, 0.0, 2.0]), 3.0)
    assert value == 19.0 and dc.tolist() == [1.0, 3.0, 9.0] and dx == 12.0


def test_taps_on_sequences_and_on_outputs():
    x = T.dvector("x")
    init = T.dvector("init")
    # out[t] = x[t-1] + x[t+1] - out[t-2] * out[t-1] / 10, over x's interior points
    out, _ = theano.scan(lambda xm, xp, o2, o1: xm + xp - o2 * o1 / 10,
                         sequences=dict(input=x, taps=[-1, 1]), outputs_info=dict(initial=init, taps=[-2, -1]))
    f = theano.function([x, init], out)
    xs, start = np.arange(7.0) ** 1.5, np.array([0.5, -1.0])
    buf = list(start)
    for t in range(1, 6):
        buf.append(xs[t - 1] + xs[t + 1] - buf[-2] * buf[-1] / 10)
    np.testing.assert_allclose(f(xs, start), buf[2:], rtol=1e-14)
    theano.gradient.verify_grad(lambda x, i: theano.scan(
        lambda xm, xp, o2, o1: xm + xp - o2 * o1 / 10, sequences=dict(input=x, taps=[-1, 1]),
        outputs_info=dict(initial=i, taps=[-2, -1]))[0], [xs, start], rng=np.random.default_rng(1))


def test_several_outputs_some_not_fed_back_in_the_order_given():
    x = T.dvector("x")
    (total, square, count), _ = theano.scan(lambda v, acc, n: (acc + v, v ** 2, n + 1), sequences=x,
                                            outputs_info=[T.constant(0.0), None, T.constant(np.int64(0))])
    f = theano.function([x], [total, square, count])
    got = f(np.array([1.0, 2.0, 3.0]))
    assert [g.tolist() for g in got] == [[1.0, 3.0, 6.0], [1.0, 4.0, 9.0], [1, 2, 3]]


def test_a_shared_counter_updated_inside_the_loop_returns_its_update():
    counter = theano.shared(np.int64(0), "counter")
    values, updates = theano.scan(lambda: (counter * 2, {counter: counter + 1}), n_steps=4)
    assert list(updates) == [counter]
    f = theano.function([], values, updates=updates)
    assert f().tolist() == [0, 2, 4, 6] and counter.get_value() == 4
    assert f().tolist() == [8, 10, 12, 14] and counter.get_value() == 8


def test_random_draws_inside_the_loop_differ_per_step_and_reproduce_from_the_seed():
    srng = T.shared_randomstreams.RandomStreams(seed=3)
    noise = srng.uniform(size=(2,))
    draws, updates = theano.scan(lambda: noise, n_steps=3)
    f = theano.function([], draws, updates=updates)
    first, second = f(), f()
    assert first.shape == (3, 2) and len({tuple(r) for r in first}) == 3 and not np.array_equal(first, second)
    srng.seed(3)
    np.testing.assert_array_equal(f(), first)


def test_until_stops_after_the_step_where_the_condition_holds():
    x = T.dscalar("x")
    powers, _ = theano.scan(lambda p, x: (p * x, until(p * x > 50)), outputs_info=T.constant(1.0),
                            non_sequences=x, n_steps=100)
    f = theano.function([x], powers)
    assert f(2.0).tolist() == [2, 4, 8, 16, 32, 64]
    assert f(1.0).shape == (100,)


def test_map_reduce_foldl_foldr_and_go_backwards():
    x = T.dvector("x")
    squares, _ = theano.map(lambda v: v ** 2, x)
    total, _ = theano.reduce(lambda v, acc: acc + v, x, T.constant(0.0))
    left, _ = theano.foldl(lambda v, acc: acc * 2 + v, x, T.constant(0.0))
    right, _ = theano.foldr(lambda v, acc: acc * 2 + v, x, T.constant(0.0))
    backwards, _ = theano.scan(lambda v: v, sequences=x, go_backwards=True)
    got = theano.function([x], [squares, total, left, right, backwards])(np.array([1.0, 2.0, 3.0]))
    assert [np.asarray(g).tolist() for g in got] == [[1, 4, 9], 6, 11, 17, [3, 2, 1]]


def _elman(x, h0, W, U, b):
    hs, _ = theano.scan(lambda xt, h, W, U, b: T.tanh(T.dot(xt, W) + T.dot(h, U) + b), sequences=x,
                        outputs_info=h0, non_sequences=[W, U, b])
    return hs


def _lstm(x, h0, c0, W, U, b):
    n = h0.shape[-1]

    def step(xt, h, c, W, U, b):
        z = T.dot(xt, W) + T.dot(h, U) + b
        i, f, o = T.nnet.sigmoid(z[:, :n]), T.nnet.sigmoid(z[:, n:2 * n]), T.nnet.sigmoid(z[:, 2 * n:3 * n])
        c_new = f * c + i * T.tanh(z[:, 3 * n:])
        return o * T.tanh(c_new), c_new
    (hs, cs), _ = theano.scan(step, sequences=x, outputs_info=[h0, c0], non_sequences=[W, U, b])
    return hs


def test_elman_rnn_forward_equals_numpy_and_its_gradient_passes_verify_grad(rng):
    x, h0 = rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4))
    W, U, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    syms = [T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")]
    got = theano.function(syms, _elman(*syms))(x, h0, W, U, b)
    h, want = h0, []
    for t in range(5):
        h = np.tanh(x[t] @ W + h @ U + b)
        want.append(h)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    theano.gradient.verify_grad(_elman, [x, h0, W, U, b], rng=rng)


def test_lstm_gradient_passes_verify_grad_through_two_fed_back_states(rng):
    n = 3
    values = [rng.normal(size=(4, 2, 2)), rng.normal(size=(2, n)), rng.normal(size=(2, n)),
              rng.normal(size=(2, 4 * n)), rng.normal(size=(n, 4 * n)) * 0.5, rng.normal(size=4 * n)]
    theano.gradient.verify_grad(_lstm, values, rng=rng)


def test_gradient_through_a_loop_reading_a_shared_weight_it_was_not_given(rng):
    W = theano.shared(rng.normal(size=(3, 3)) * 0.5, "W")
    x = T.dmatrix("x")
    hs, _ = theano.scan(lambda xt, h: T.tanh(xt + T.dot(h, W)), sequences=x, outputs_info=T.zeros((3,), "float64"))
    cost = (hs ** 2).sum()
    gW = theano.function([x], theano.grad(cost, W))
    xs = rng.normal(size=(4, 3))
    f = theano.function([x], cost)

    def numeric(k):
        old = W.get_value()
        bumped = old.copy()
        bumped.flat[k] += 1e-6
        W.set_value(bumped)
        up = f(xs)
        bumped.flat[k] -= 2e-6
        W.set_value(bumped)
        down = f(xs)
        W.set_value(old)
        return (up - down) / 2e-6
    np.testing.assert_allclose(gW(xs).ravel(), [numeric(k) for k in range(9)], rtol=1e-6, atol=1e-8)


def test_truncated_gradient_flows_back_only_the_last_steps(rng):
    x, W = T.dmatrix("x"), T.dmatrix("W")

    def last_state(truncate):
        hs, _ = theano.scan(lambda xt, h: T.tanh(xt + T.dot(h, W)), sequences=x,
                            outputs_info=T.zeros((3,), "float64"), truncate_gradient=truncate)
        return theano.grad(hs[-1].sum(), x)
    xs, Ws = rng.normal(size=(6, 3)), rng.normal(size=(3, 3))
    full = theano.function([x, W], last_state(-1))(xs, Ws)
    cut = theano.function([x, W], last_state(2))(xs, Ws)
    np.testing.assert_allclose(cut[4:], full[4:], rtol=1e-13)
    assert not cut[:4].any() and full[:4].any()


def test_the_body_is_rewritten_and_compiled_once_then_only_run(monkeypatch):
    import mlc.compiler.rewrite as rewrite
    calls = []
    original = rewrite.optimize
    monkeypatch.setattr(rewrite, "optimize", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = T.dmatrix("x")
    hs, _ = theano.scan(lambda xt, h: T.tanh(xt * 2 + h) * T.exp(-h), sequences=x, outputs_info=T.zeros((3,), "float64"))
    f = theano.function([x], hs)
    before = len(calls)
    for _ in range(3):
        f(np.ones((20, 3)))
    assert len(calls) - before == 1  # the inner graph, once; nothing per step or per call
    scan_node = next(n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan))
    inner = scan_node.op.compiled().function
    assert any("Composite" in str(n.op) for n in inner.maker.fgraph.toposort())  # fused: one C kernel


def test_loop_invariant_outer_values_are_computed_once_outside_the_loop():
    x, W = T.dmatrix("x"), T.dmatrix("W")
    WT = T.exp(W.T)  # built outside, read inside: an input of the loop, not part of its body
    hs, _ = theano.scan(lambda xt: T.dot(WT, xt), sequences=x)
    node = next(n for n in theano.function([x, W], hs).maker.fgraph.toposort() if isinstance(n.op, Scan))
    assert not any("exp" in str(n.op) for n in node.op.compiled().function.maker.fgraph.toposort())


def test_a_function_with_a_scan_pickles_and_runs():
    x = T.dvector("x")
    total, _ = theano.scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0))
    f = pickle.loads(pickle.dumps(theano.function([x], total)))
    assert f(np.array([1.0, 2.0])).tolist() == [1.0, 3.0]


def test_errors_name_the_output_and_what_was_expected():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"output 0 .* dtype float32 but its initial value \(outputs_info\[0\]\) has dtype float64"):
        theano.scan(lambda v, acc: (acc + v).astype("float32"), sequences=x, outputs_info=T.constant(0.0))
    with pytest.raises(ValueError, match="returned 2 outputs but outputs_info has 1"):
        theano.scan(lambda v, acc: (acc + v, v), sequences=x, outputs_info=[T.constant(0.0)])
    grow, _ = theano.scan(lambda h: T.concatenate([h, h]), outputs_info=x, n_steps=2)
    with pytest.raises(ValueError, match=r"recurrent output 0 has shape \(4,\) at step 1, expected \(2,\)"):
        theano.function([x], grow)(np.ones(2))
    with pytest.raises(ValueError, match="give n_steps"):
        theano.function([x], theano.scan(lambda h: h * 2, outputs_info=x)[0])(np.ones(2))


def test_debugprint_shows_the_compiled_inner_graph_with_its_fused_kernels():
    x = T.dmatrix("x")
    hs, _ = theano.scan(lambda xt, h: T.tanh(xt + h * 2), sequences=x, outputs_info=T.zeros((3,), "float64"),
                        name="rnn")
    text = theano.printing.debugprint(theano.function([x], hs), file="str")
    inner = text.split("Inner graphs:")[1]
    assert "Scan{rnn}" in inner and "Composite{tanh(" in inner and "2.0" in inner  # the constant stays inside


def test_the_backward_loop_reads_saved_activations_and_the_forward_runs_once(rng):
    from mlc.compiler.scan_module.grad import ScanGrad
    x, W = T.dmatrix("x"), T.dmatrix("W")
    hs, _ = theano.scan(lambda xt, h, W: T.tanh(xt + T.dot(h, W)), sequences=x,
                        outputs_info=T.zeros((3,), "float64"), non_sequences=W)
    cost = (hs ** 2).sum()
    f = theano.function([x, W], [cost, theano.grad(cost, W)])
    nodes = f.maker.fgraph.toposort()
    loops = [n for n in nodes if isinstance(n.op, Scan)]
    assert len(loops) == 1 and loops[0].op.augments is not None  # scan_merge: one forward loop, saving values
    backward = next(n.op for n in nodes if isinstance(n.op, ScanGrad))
    inner = [str(n.op) for n in backward.compiled().function.maker.fgraph.toposort()]
    assert not any("tanh" in op for op in inner)  # the activation is read, not recomputed
    xs, Ws = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) * 0.5
    want = theano.function([x, W], theano.grad(cost, W), mode="FAST_COMPILE")(xs, Ws)
    np.testing.assert_allclose(f(xs, Ws)[1], want, rtol=1e-12)


def _elman_bptt(x, h0, W, U, b, first=0):
    """The gradients of sum(hs) for W and U, by hand, backpropagating from step ``first`` on."""
    hs, h = [], h0
    for t in range(len(x)):
        h = np.tanh(x[t] @ W + h @ U + b)
        hs.append(h)
    dW, dU, carried = np.zeros_like(W), np.zeros_like(U), np.zeros_like(h0)
    for t in reversed(range(first, len(x))):
        dz = (1 + carried) * (1 - hs[t] ** 2)
        dW += x[t].T @ dz
        dU += (hs[t - 1] if t else h0).T @ dz
        carried = dz @ U.T
    return dW, dU


@pytest.mark.parametrize("budget, truncate", [(32 << 20, -1), (600, -1), (600, 3)])
def test_recurrent_weight_gradients_are_products_of_stacked_steps(rng, monkeypatch, budget, truncate):
    """``dot(h.T, dz)`` of each step is not added step by step: the steps' factors are stacked
    and multiplied once per chunk (600 bytes: chunks of two steps, and a last odd one)."""
    from mlc.compiler.scan_module import grad as scan_grad
    monkeypatch.setattr(scan_grad.StackedProducts.__init__, "__defaults__", (budget,))
    x, h0 = rng.normal(size=(7, 3, 4)), rng.normal(size=(3, 5))
    W, U, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 5)) * 0.5, rng.normal(size=5)
    syms = [T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")]
    hs, _ = theano.scan(lambda xt, h, W, U, b: T.tanh(T.dot(xt, W) + T.dot(h, U) + b), sequences=syms[0],
                        outputs_info=syms[1], non_sequences=syms[2:], truncate_gradient=truncate)
    f = theano.function(syms, theano.grad(hs.sum(), syms[2:4]))
    backward = [n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, scan_grad.ScanGrad)]
    assert len(backward) == 1 and sum(backward[0].stacked) == 2  # W and U: both are products of step values
    got = f(x, h0, W, U, b)
    for g, w in zip(got, _elman_bptt(x, h0, W, U, b, first=0 if truncate < 0 else len(x) - truncate)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_stacked_products_equal_the_sum_of_the_steps_products(rng):
    from mlc.compiler.scan_module.grad import StackedProducts
    steps = [(rng.normal(size=(3, 4)), rng.normal(size=(3, 2))) for _ in range(5)]
    steps.insert(2, (rng.normal(size=(6, 4)), rng.normal(size=(6, 2))))  # another shape: added alone
    target = rng.normal(size=(4, 2))
    want = target + sum(a.T @ b for a, b in steps)
    stacked = StackedProducts(target, len(steps), budget=2 * (12 + 6) * 8)  # two steps a chunk
    for a, b in steps:
        stacked.add(a, b)
    stacked.flush()
    np.testing.assert_allclose(target, want, rtol=1e-13)
    assert len(stacked.a) == 2
    few = StackedProducts(np.zeros((4, 2)), 3)  # never more room than the loop's steps
    few.add(*steps[0])
    assert len(few.a) == 3
