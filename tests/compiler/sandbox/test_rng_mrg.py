"""MRG_RandomStreams: the MRG31k3p recurrence against a plain scalar implementation, the
substream jumps against stepping, distributions' moments, reproducibility from the seed,
and use inside scan."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.sandbox import rng_mrg
from mlc.compiler.sandbox.rng_mrg import MRG_RandomStreams


def _scalar_mrg31k3p(state, count):
    """The generator as L'Ecuyer and Touzin define it, one value at a time."""
    x1, x2 = list(state[:3]), list(state[3:])
    out = []
    for _ in range(count):
        new1 = (2 ** 22 * x1[-2] + (2 ** 7 + 1) * x1[-3]) % (2 ** 31 - 1)
        new2 = (2 ** 15 * x2[-1] + (2 ** 15 + 1) * x2[-3]) % (2 ** 31 - 21069)
        x1, x2 = x1[1:] + [new1], x2[1:] + [new2]
        z = (new1 - new2) % (2 ** 31 - 1)
        out.append((z if z > 0 else 2 ** 31 - 1) / 2 ** 31)
    return out, tuple(x1 + x2)


def test_the_vectorized_generator_equals_the_textbook_recurrence():
    states = np.array([[12345] * 6, [1, 2, 3, 4, 5, 6], [2 ** 31 - 2] * 3 + [2 ** 31 - 21070] * 3], np.int32)
    got, new = rng_mrg.uniforms(states, 3 * 50)
    for s, row in enumerate(states):
        want, end = _scalar_mrg31k3p(tuple(int(v) for v in row), 50)
        np.testing.assert_array_equal(got[s::3], want)
        assert tuple(new[s]) == end


def test_jump_matrices_equal_stepping():
    state = (12345, 54321, 999, 11, 22, 33)
    eight = (rng_mrg._power_of_two(rng_mrg.A1, 3, rng_mrg.M1), rng_mrg._power_of_two(rng_mrg.A2, 3, rng_mrg.M2))
    stepped = _scalar_mrg31k3p(state, 8)[1]
    jumped = tuple(sum(eight[0][i][k] * state[k] for k in range(3)) % rng_mrg.M1 for i in range(3)) + tuple(
        sum(eight[1][i][k] * state[3 + k] for k in range(3)) % rng_mrg.M2 for i in range(3))
    assert jumped == stepped


def test_distributions_have_their_moments_and_the_seed_reproduces_them():
    srng = MRG_RandomStreams(seed=234)
    u, n = srng.uniform((400, 300), low=-1.0, high=3.0), srng.normal((100000,), avg=2.0, std=0.5)
    b, t = srng.binomial((100000,), p=0.3, dtype="int8"), srng.truncated_normal((100000,))
    f = theano.function([], [u, n, b, t])
    us, ns, bs, ts = f()
    assert -1 < us.min() and us.max() < 3 and abs(us.mean() - 1) < 0.01 and abs(us.var() - 16 / 12) < 0.01
    assert abs(ns.mean() - 2) < 0.01 and abs(ns.std() - 0.5) < 0.01
    assert bs.dtype == np.int8 and abs(bs.mean() - 0.3) < 0.01
    assert np.abs(ts).max() <= 2 and abs(ts.std() - 0.8796) < 0.01  # N(0, 1) truncated at ±2
    again = f()[0]
    assert not np.array_equal(us, again)  # the state advanced
    srng.seed(234)
    np.testing.assert_array_equal(f()[0], us)
    assert theano.function([], MRG_RandomStreams(234).uniform((400, 300), low=-1.0, high=3.0))().tolist() == us.tolist()


def test_float32_uniforms_stay_below_one():
    u = MRG_RandomStreams(7).uniform((100000,), dtype="float32").eval()
    assert u.dtype == np.float32 and 0 < u.min() and u.max() < 1


def test_multinomial_counts_and_choice_without_replacement():
    srng = MRG_RandomStreams(5)
    p = T.dmatrix("p")
    f = theano.function([p], [srng.multinomial(pvals=p), srng.choice(size=2, p=p)])
    pv = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    total = np.zeros((2, 3))
    for _ in range(3000):
        counts, picks = f(pv)
        total += counts
        assert counts.sum(axis=1).tolist() == [1, 1] and picks[1].tolist() in ([0, 1], [1, 0])
        assert picks[0, 0] != picks[0, 1]
    np.testing.assert_allclose(total / 3000, pv, atol=0.03)
    with pytest.raises(ValueError, match="without replacement"):
        srng.choice(size=2, p=p, replace=True)


def test_bad_seeds_are_refused_with_the_range():
    with pytest.raises(ValueError, match=r"seed must be in \[1, 2147462578\]"):
        MRG_RandomStreams(0)


def test_noise_inside_scan_differs_per_step_and_the_state_update_is_returned():
    srng = MRG_RandomStreams(11)
    noise = srng.normal((3,))
    walk, updates = theano.scan(lambda pos: pos + noise, outputs_info=T.zeros((3,), theano.config.floatX), n_steps=4)
    f = theano.function([], walk, updates=updates)
    steps = np.diff(np.vstack([np.zeros(3), f()]), axis=0)
    assert len({tuple(np.round(s, 12)) for s in steps}) == 4 and len(updates) == 1
