import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from tests.compiler.helpers import check

SHAPES = [((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
          ((3, 4), (2, 4, 5)), ((), (3,))]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_dot_matches_numpy(sa, sb, rng):
    check(T.dot, np.dot, [rng.normal(size=sa), rng.normal(size=sb)], rng=rng)


@pytest.mark.parametrize("axes", [1, 2, [[0], [1]], [[1, 2], [0, 1]]])
def test_tensordot(axes, rng):
    a = rng.normal(size=(2, 3, 4))
    b = rng.normal(size=(3, 4, 2)) if axes in (2, [[1, 2], [0, 1]]) else rng.normal(size=(4, 2, 3))
    if axes == [[0], [1]]:
        b = rng.normal(size=(3, 2, 4))
        a = rng.normal(size=(2, 3, 4))
    check(lambda x, y: T.tensordot(x, y, axes), lambda x, y: np.tensordot(x, y, axes), [a, b], rng=rng)


def test_outer_and_batched_dot(rng):
    check(T.outer, np.outer, [rng.normal(size=3), rng.normal(size=4)], rng=rng)
    check(T.batched_dot, np.matmul, [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))], rng=rng)
    check(T.batched_dot, lambda a, b: (a * b).sum(1), [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))], rng=rng)
    check(T.batched_dot, lambda a, b: np.einsum("bij,bj->bi", a, b),
          [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4))], rng=rng)


def test_matmul_operator_and_float32(rng):
    x, w = T.fmatrix(), T.fmatrix()
    out = x @ w
    assert out.dtype == "float32"
    a, b = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(4, 2)).astype("float32")
    np.testing.assert_allclose(theano.function([x, w], out)(a, b), a @ b, rtol=1e-5)


def test_shape_mismatch_names_op_shapes_and_line():
    x, w = T.dmatrix("x"), T.dmatrix("w")
    y = T.dot(x, w)  # THIS LINE
    f = theano.function([x, w], y)
    with pytest.raises(ValueError) as info:
        f(np.zeros((2, 3)), np.zeros((4, 5)))
    message = str(info.value)
    assert "Dot" in message and "(2, 3)" in message and "(4, 5)" in message
    assert "test_blas.py" in message and "THIS LINE" in message
