import pickle

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor.shared_randomstreams import RandomStreams


def test_state_advances_through_updates_and_reseeds():
    srng = RandomStreams(seed=234)
    u = srng.uniform((2, 2))
    f = theano.function([], u)
    a, b = f(), f()
    assert not np.allclose(a, b)
    srng.seed(234)
    np.testing.assert_array_equal(f(), a)
    assert a.dtype == theano.config.floatX and np.all((a >= 0) & (a < 1))


def test_no_default_updates_repeats():
    srng = T.RandomStreams(seed=1)
    f = theano.function([], srng.normal((3,)), no_default_updates=True)
    np.testing.assert_array_equal(f(), f())


def test_distributions_and_symbolic_size():
    srng = RandomStreams(seed=3)
    x = T.dmatrix()
    mask = srng.binomial(size=x.shape, p=0.25)
    n = srng.normal(size=(4000,), avg=2.0, std=0.5)
    r = srng.random_integers(size=(50,), low=1, high=3)
    f = theano.function([x], [x * mask, n, r])
    masked, normal, ints = f(np.ones((200, 50)))
    assert masked.shape == (200, 50) and abs(masked.mean() - 0.25) < 0.02
    assert abs(normal.mean() - 2.0) < 0.05 and abs(normal.std() - 0.5) < 0.05
    assert set(ints.tolist()) <= {1, 2, 3} and ints.dtype == np.int64


def test_reproducible_and_picklable():
    def run():
        srng = RandomStreams(seed=42)
        f = theano.function([], srng.uniform((3,)))
        return [f() for _ in range(3)], f
    first, f = run()
    second, _ = run()
    np.testing.assert_array_equal(first, second)
    g = pickle.loads(pickle.dumps(f))
    assert g().shape == (3,)


def test_one_trial_binomial_is_bernoulli_and_bad_parameters_are_refused():
    srng = RandomStreams(seed=5)
    p = T.dvector("p")
    f = theano.function([p], [srng.binomial(size=(20000, 3), p=p), srng.binomial(size=p.shape, p=p), srng.binomial(p=0.5)])
    draws, one_each, scalar = f(np.array([0.0, 0.3, 1.0]))
    assert set(np.unique(draws).tolist()) <= {0, 1} and one_each.shape == (3,)
    assert draws[:, 0].sum() == 0 and draws[:, 2].all() and abs(draws[:, 1].mean() - 0.3) < 0.015
    assert one_each[0] == 0 and one_each[2] == 1 and scalar.shape == () and scalar in (0, 1)
    with pytest.raises(ValueError, match="p"):
        f(np.array([0.5, 1.5, 0.5]))
