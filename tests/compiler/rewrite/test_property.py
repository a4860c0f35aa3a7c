"""Random expression graphs: FAST_RUN (every rewrite) agrees with FAST_COMPILE."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc.compiler as theano
import mlc.compiler.tensor as T

UNARY = [T.exp, T.tanh, T.sin, T.sigmoid, T.softplus, lambda a: -a, T.sqr, lambda a: T.log(T.sqr(a) + 1),
         lambda a: a * 1, lambda a: a + 0, lambda a: T.exp(T.log(T.sqr(a) + 0.5)), lambda a: a ** 2]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (T.sqr(b) + 1),
          T.maximum, lambda a, b: a - a + b, lambda a, b: (a + b) + (a * 2)]
REDUCE = [lambda a: a.sum(axis=0), lambda a: a.sum(axis=0).sum(), lambda a: a.max(axis=1), lambda a: a.mean(),
          lambda a: T.log(T.nnet.sigmoid(a)).sum(axis=1), lambda a: T.nnet.softmax(a).sum(axis=0)]


@st.composite
def graphs(draw):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    pool = [x, y]
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            pool.append(draw(st.sampled_from(UNARY))(draw(st.sampled_from(pool))))
        else:
            pool.append(draw(st.sampled_from(BINARY))(draw(st.sampled_from(pool)), draw(st.sampled_from(pool))))
    out = pool[-1]
    if draw(st.booleans()):
        out = draw(st.sampled_from(REDUCE))(out)
    return x, y, out


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2 ** 16))
def test_fast_run_equals_fast_compile(graph, seed):
    x, y, out = graph
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))]
    cost = T.sum(out)
    outputs = [out] + T.grad(cost, [x, y], disconnected_inputs="ignore")
    fast = theano.function([x, y], outputs, on_unused_input="ignore")
    slow = theano.function([x, y], outputs, mode="FAST_COMPILE", on_unused_input="ignore")
    for a, b in zip(fast(*values), slow(*values)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
