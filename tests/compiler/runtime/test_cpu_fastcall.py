"""The C fast path of elementwise kernels: it is built here, it is what the VM calls, it
gives the Python path's results on every layout (handing over the ones it does not take),
and it neither leaks nor holds on to arrays."""
import sys
import threading

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.runtime.cpu import fastcall

PY = theano.Mode(linker="py")


def _fast(f):
    return [call for call in f.maker.linked.instance().vm.calls if type(call).__name__ == "FlatCall"]


def test_the_extension_builds_with_this_python_and_the_vm_calls_it():
    assert fastcall.available()  # built by the install (a silent fallback would hide a broken build)
    x = T.fvector("x")
    assert len(_fast(theano.function([x], T.exp(x) + 1))) == 1


LAYOUTS = {  # name: (input arrays) -> one elementwise expression of them, its NumPy reference
    "contiguous": (lambda rng: [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))]),
    "broadcast row": (lambda rng: [rng.normal(size=(3, 4)), rng.normal(size=(1, 4))]),
    "transposed": (lambda rng: [rng.normal(size=(4, 3)).T, rng.normal(size=(3, 4))]),
    "sliced": (lambda rng: [rng.normal(size=(3, 8))[:, ::2], rng.normal(size=(3, 4))]),
    "empty": (lambda rng: [np.zeros((0, 4)), np.zeros((0, 4))]),
    "0-d": (lambda rng: [np.array(1.5), np.array(-2.0)]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_gives_the_python_paths_result(layout, rng):
    a, b = LAYOUTS[layout](rng)
    x = T.tensor("float64", [s == 1 for s in a.shape])
    y = T.tensor("float64", [s == 1 for s in b.shape])
    out = T.tanh(x) * y + 2
    fast, slow = theano.function([x, y], out), theano.function([x, y], out, mode=PY)
    for _ in range(3):  # the kept output buffer is reused from call to call
        got = fast(a, b)
        np.testing.assert_allclose(got, slow(a, b), rtol=1e-13)  # C tanh vs NumPy: an ulp
        assert got.shape == np.broadcast_shapes(a.shape, b.shape)


def test_returned_arrays_are_the_callers_and_inputs_are_not_held(rng):
    x = T.dvector("x")
    f = theano.function([x], x * 2)
    v = rng.normal(size=5)
    before = sys.getrefcount(v)
    first = f(v)
    second = f(v)
    assert first is not second and np.array_equal(first, v * 2)  # an output is never overwritten later
    assert sys.getrefcount(v) == before


def test_in_place_updates_of_shared_variables(rng):
    w = theano.shared(np.ones(4), name="w")
    g = T.dvector("g")
    step = theano.function([g], [], updates=[(w, w - 0.5 * g)])
    for _ in range(3):
        step(np.arange(4.0))
    np.testing.assert_allclose(w.get_value(), 1 - 1.5 * np.arange(4.0))


def _in_threads(f, values):
    """``f(v)`` for each of ``values``, 20 times over, each value in its own thread."""
    results = [None] * len(values)

    def work(k):
        for _ in range(20):
            results[k] = f(values[k])
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(values))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_calls_from_several_threads_each_get_their_own_results(rng):
    x = T.dvector("x")
    f = theano.function([x], T.sqrt(x) * 3)
    values = [rng.uniform(1, 2, size=50_000) for _ in range(4)]  # large enough to release the GIL
    for v, r in zip(values, _in_threads(f, values)):
        np.testing.assert_allclose(r, np.sqrt(v) * 3)


def test_threads_calling_with_strided_layouts_that_take_turns_get_their_own_results(rng):
    x = T.dmatrix("x")
    f = theano.function([x], T.sqrt(x[:, ::2]) * 3)
    # two layouts, large enough to release the GIL: each thread's Python path remembers its own
    values = [rng.uniform(1, 2, size=(300 + 100 * (k % 2), 400)) for k in range(4)]
    for v, r in zip(values, _in_threads(f, values)):
        np.testing.assert_allclose(r, np.sqrt(v[:, ::2]) * 3)


def test_a_kernel_with_more_operands_than_the_fast_path_takes_still_runs(rng):
    xs = [T.dvector(f"x{k}") for k in range(fastcall.MAX_OPERANDS + 2)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x * 1.5
    values = [rng.normal(size=3) for _ in xs]
    got = theano.function(xs, total)(*values)
    np.testing.assert_allclose(got, values[0] + 1.5 * sum(values[1:]), rtol=1e-13)


def _counting_python_path(monkeypatch, thunk: str = "ReduceThunk"):
    """Counts the calls that reach ``thunk``'s Python path (patched before compiling: the
    fast path's fallback is bound when the thunk is made)."""
    from mlc.compiler.runtime.cpu import thunks
    cls = getattr(thunks, thunk)
    calls = []
    original = cls.__call__

    def counted(self):
        calls.append(1)
        return original(self)
    monkeypatch.setattr(cls, "__call__", counted)
    return calls


def test_strided_operands_take_the_fast_path_for_the_layout_last_seen_by_the_python_path(monkeypatch, rng):
    python = _counting_python_path(monkeypatch, "ElemwiseThunk")
    x, y = T.dmatrix("x"), T.dvector("y")
    f = theano.function([x, y], T.nnet.sigmoid(x[:, 2:6]) * 2 + y)  # a slice's rows, a broadcast row
    a1, a2, b = rng.normal(size=(6, 10)), rng.normal(size=(6, 10)), rng.normal(size=(3, 10))
    v = rng.normal(size=4)
    # the same layout with new data (a loop's next slices), a smaller last batch, back again
    for value, python_calls in ((a1, 1), (a2, 1), (a2, 1), (b, 2), (b, 2), (a1, 3), (a2, 3)):
        got = f(value, v)
        np.testing.assert_allclose(got, 2 / (1 + np.exp(-value[:, 2:6])) + v, rtol=1e-13)
        assert len(python) == python_calls
    f(a1[::2], v)  # other strides: the Python path again, right
    assert len(python) == 4
    got = f(np.asfortranarray(a1), v[::-1].copy())
    np.testing.assert_allclose(got, 2 / (1 + np.exp(-a1[:, 2:6])) + v[::-1], rtol=1e-13)


# ---------------------------------------------------------------------------- reductions


def test_the_vm_calls_the_reduction_fast_path():
    x = T.fmatrix("x")
    calls = f"{[type(c).__name__ for c in theano.function([x], (x * x).sum(axis=1)).maker.linked.instance().vm.calls]}"
    assert "ReduceCall" in calls


def test_reductions_take_the_fast_path_for_the_shape_last_seen_by_the_python_path(monkeypatch, rng):
    python = _counting_python_path(monkeypatch)
    x = T.dmatrix("x")
    f = theano.function([x], [x.sum(axis=0), (x * x).max(axis=1)])
    a, b = rng.normal(size=(6, 5)), rng.normal(size=(2, 5))  # a minibatch, then a last smaller one
    for value, python_calls in ((a, 2), (a, 2), (a, 2), (b, 4), (b, 4), (a, 6), (a, 6)):
        got = f(value)
        np.testing.assert_allclose(got[0], value.sum(axis=0), rtol=1e-13)
        np.testing.assert_array_equal(got[1], (value * value).max(axis=1))
        assert len(python) == python_calls  # two reductions: the Python path only where the shape changed


REDUCE_LAYOUTS = {  # name: the inputs of sum((x - y) ** 2, axis=0)
    "contiguous": (lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]),
    "broadcast": (lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(1, 3))]),
    "transposed": (lambda rng: [rng.normal(size=(3, 4)).T, rng.normal(size=(4, 3))]),
    "empty rows": (lambda rng: [np.zeros((0, 3)), np.zeros((0, 3))]),
    "empty columns": (lambda rng: [np.zeros((4, 0)), np.zeros((4, 0))]),
}


def test_every_layout_of_a_fused_reduction_gives_the_python_paths_result(rng):
    made = {}
    for name in sorted(REDUCE_LAYOUTS) * 2:  # and again, in an order that changes the shape each time
        a, b = REDUCE_LAYOUTS[name](rng)
        row = b.shape[0] == 1
        if row not in made:
            x, y = T.dmatrix("x"), (T.drow if row else T.dmatrix)("y")
            out = ((x - y) ** 2).sum(axis=0)
            made[row] = theano.function([x, y], out), theano.function([x, y], out, mode=PY)
        fast, slow = made[row]
        for _ in range(2):
            got = fast(a, b)
            assert got.shape == (a.shape[1],)
            np.testing.assert_allclose(got, slow(a, b), rtol=1e-13, err_msg=name)


def test_an_empty_maximum_raises_after_the_fast_path_took_other_shapes(rng):
    x = T.dmatrix("x")
    f = theano.function([x], x.max(axis=0))
    f(rng.normal(size=(3, 4)))
    f(rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match="empty axis"):
        f(np.zeros((0, 4)))
    np.testing.assert_array_equal(f(np.ones((3, 4))), np.ones(4))


def test_reduction_results_are_the_callers_and_threads_get_their_own(rng):
    x = T.dvector("x")
    f = theano.function([x], T.sqr(x).sum())
    v = rng.normal(size=5)
    before = sys.getrefcount(v)
    first, second = f(v), f(v)
    assert first is not second and np.allclose(first, (v * v).sum()) and sys.getrefcount(v) == before
    values = [rng.normal(size=60_000) for _ in range(4)]  # large enough to release the GIL
    for v, r in zip(values, _in_threads(f, values)):
        np.testing.assert_allclose(r, (v * v).sum(), rtol=1e-12)


def test_a_reduction_with_more_inputs_than_the_fast_path_takes_still_runs(rng):
    xs = [T.dvector(f"x{k}") for k in range(fastcall.MAX_REDUCE_OPERANDS + 1)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x * 1.5
    f = theano.function(xs, total.sum())
    values = [rng.normal(size=3) for _ in xs]
    for _ in range(2):
        np.testing.assert_allclose(f(*values), (values[0] + 1.5 * sum(values[1:])).sum(), rtol=1e-13)
