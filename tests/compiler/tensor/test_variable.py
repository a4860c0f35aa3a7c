"""Symbolic tensors as Python operands."""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T


def test_numpy_arrays_on_the_left_of_an_operator_give_a_symbolic_tensor():
    x = T.dvector("x")
    y = np.array([1.0, 2.0, 3.0]) * x + np.float64(1) - np.ones(3)
    assert isinstance(y, T.TensorVariable)
    assert np.array_equal(theano.function([x], y)(np.array([1.0, 1.0, 2.0])), [1.0, 2.0, 6.0])
    assert isinstance(np.ones(3) < x, T.TensorVariable)
