"""RandomStreams' discrete draws (choice, permutation, multinomial) and Theano's attributes
of a random variable."""
import numpy as np

import mlc.compiler as theano
from mlc.compiler.tensor.shared_randomstreams import RandomStreams
def test_choice_permutation_multinomial_and_the_rng_attribute():
    srng = RandomStreams(seed=3)
    picks = srng.choice(size=(2000,), a=3, replace=True, p=[0.2, 0.0, 0.8])
    unique = srng.choice(size=(4,), a=np.arange(10, 14), replace=False)
    perms = srng.permutation(size=(3,), n=5)
    counts = srng.multinomial(size=(4,), n=10, pvals=[0.3, 0.7])
    f = theano.function([], [picks, unique, perms, counts])
    p, u, pm, c = f()
    assert set(p.tolist()) <= {0, 2} and abs((p == 2).mean() - 0.8) < 0.05
    assert sorted(u.tolist()) == [10, 11, 12, 13]
    assert pm.shape == (3, 5) and all(sorted(row) == list(range(5)) for row in pm.tolist())
    assert c.shape == (4, 2) and (c.sum(axis=1) == 10).all()
    assert picks.rng.get_value() is not None and picks.update[0] is picks.rng
    srng.seed(3)
    again = f()
    assert all(np.array_equal(a, b) for a, b in zip(again, [p, u, pm, c]))
