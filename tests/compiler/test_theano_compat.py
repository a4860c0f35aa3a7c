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


def test_stacklists_and_grids_against_numpy():
    a, b, c, d = T.dscalars("abcd")
    X = T.stacklists([[a, b], [c, d]])
    assert theano.function([a, b, c, d], X)(1, 2, 3, 4).tolist() == [[1, 2], [3, 4]]
    n = T.lscalar("n")
    dense = theano.function([n], T.mgrid[0:n, 1:4])(3)
    for got, want in zip(dense, np.mgrid[0:3, 1:4]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(theano.function([n], T.ogrid[0:n, 1:4])(3), np.ogrid[0:3, 1:4]):
        np.testing.assert_array_equal(got, want)


def test_specify_shape_checks_when_run():
    x = T.dvector("x")
    f = theano.function([x], T.specify_shape(x, (3,)) * 2)
    assert f(np.ones(3)).tolist() == [2.0] * 3
    with pytest.raises(AssertionError, match=r"has shape \(2,\), expected \(3,\)"):
        f(np.ones(2))


def test_xlogx_xlogy0_scalar_upcast_and_warn_flags(rng):
    x, y = T.dvector("x"), T.dvector("y")
    xs = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(T.xlogx.xlogx(x).eval({x: xs}), [0.0, 0.5 * np.log(0.5), 2 * np.log(2)])
    np.testing.assert_allclose(theano.function([x, y], T.xlogx.xlogy0(x, y))(xs, np.array([0.0, 3.0, 4.0])),
                               [0.0, 0.5 * np.log(3), 2 * np.log(4)])
    theano.gradient.verify_grad(T.xlogx.xlogx, [np.array([0.3, 1.7])], rng=rng)
    assert theano.scalar.upcast("float32", "int64") == "float64" and theano.scalar.upcast("int8", "int16") == "int16"
    theano.config.warn.sum_div_dimshuffle_bug = False
    assert theano.config.warn.sum_div_dimshuffle_bug is False
