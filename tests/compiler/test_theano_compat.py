"""Theano 1.0 behaviours ported programs rely on: constructors as types, plural forms,
``bool(variable)``, ``Variable.eval``, ``theano.clone`` on one variable, a vector's softmax."""
import pickle

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T


def test_typed_constructors_are_tensor_types_and_make_variables():
    assert T.dmatrix == T.TensorType("float64", (False, False))
    assert isinstance(T.fvector, T.TensorType) and T.fvector.dtype == "float32"
    x = T.dmatrix("x")
    assert x.name == "x" and x.type == T.dmatrix and T.ltensor7().ndim == 7


def test_plural_constructors_as_theano_reads_their_arguments():
    x, y, z = T.dscalars("xyz")
    assert [v.name for v in (x, y, z)] == ["x", "y", "z"] and x.dtype == "float64"
    assert T.fmatrices("a").name == "a"  # one name: one variable
    assert [v.name for v in T.vectors("u", "w")] == ["u", "w"] and len(T.iscalars(3)) == 3


def test_a_variable_is_true_but_a_comparison_refuses_truth():
    W = T.dmatrix("W")
    assert W and not (not W)
    with pytest.raises(TypeError, match="chained comparison"):
        bool(W < 1)


def test_eval_compiles_once_per_set_of_inputs():
    x, y = T.dscalars("xy")
    z = x * y + 1
    assert z.eval({x: 2.0, y: 3.0}) == 7.0 and z.eval({y: 1.0, x: 5.0}) == 6.0
    assert len(z._eval_cache) == 1
    assert T.constant(4.0).eval() == 4.0
    pickle.loads(pickle.dumps(z))  # the cache of compiled functions is not pickled
    with pytest.raises(Exception, match="not among the inputs"):
        z.eval({x: 1.0})


def test_clone_takes_one_variable_or_a_list():
    x, y = T.dscalars("xy")
    z = x * 2
    w = theano.clone(z, replace={x: y})
    assert w.eval({y: 4.0}) == 8.0
    both = theano.clone([z, z + 1], replace=[(x, y)])
    assert [float(v.eval({y: 1.0})) for v in both] == [2.0, 3.0]


def test_softmax_of_a_vector_is_a_row():
    v = T.dvector("v")
    p = T.nnet.softmax(v)
    assert p.ndim == 2 and np.allclose(p.eval({v: np.zeros(4)}), [[0.25] * 4])
    assert T.nnet.log_softmax(v).eval({v: np.zeros(2)}).shape == (1, 2)
