"""Every row of the scalar op table: values against an independent NumPy/math reference,
over dtypes and broadcasting, and gradients against finite differences."""
import math

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.ops.scalar import SCALAR_OPS

_verf = np.vectorize(math.erf)
_verfc = np.vectorize(math.erfc)

def _special(name):
    return getattr(pytest.importorskip("scipy.special"), name)


# name -> (independent reference, input sampler(rng, shape, dtype) per input)
def _u(lo, hi):
    return lambda rng, shape, dtype: rng.uniform(lo, hi, shape).astype(dtype)


def _away(lo, hi):  # values with |x| in [lo, hi], either sign
    return lambda rng, shape, dtype: (rng.uniform(lo, hi, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def _bool(rng, shape, dtype):
    return rng.random(shape) > 0.5


ANY = _u(-3, 3)
POS = _u(0.2, 3)
UNIT = _u(-0.9, 0.9)

REFERENCE = {
    "add": (lambda *a: sum(a[1:], a[0]), [ANY, ANY, ANY]),
    "mul": (lambda *a: np.prod(np.broadcast_arrays(*a), axis=0), [ANY, ANY, ANY]),
    "sub": (lambda x, y: x - y, [ANY, ANY]),
    "true_div": (lambda x, y: x / y, [ANY, _away(0.5, 3)]),
    "int_div": (lambda x, y: np.floor(x / y), [ANY, _away(0.5, 3)]),
    "mod": (lambda x, y: x - np.floor(x / y) * y, [ANY, _away(0.5, 3)]),
    "pow": (lambda x, y: np.exp(y * np.log(x)), [POS, ANY]),
    "maximum": (lambda x, y: np.where(x > y, x, y), [ANY, ANY]),
    "minimum": (lambda x, y: np.where(x < y, x, y), [ANY, ANY]),
    "neg": (lambda x: 0 - x, [ANY]),
    "abs": (lambda x: np.where(x < 0, -x, x), [_away(0.1, 3)]),
    "sgn": (lambda x: (x > 0).astype(x.dtype) - (x < 0), [_away(0.1, 3)]),
    "exp": (lambda x: math.e ** x, [ANY]),
    "exp2": (lambda x: 2.0 ** x, [ANY]),
    "expm1": (lambda x: np.vectorize(math.expm1)(x), [ANY]),
    "log": (lambda x: np.vectorize(math.log)(x), [POS]),
    "log2": (lambda x: np.vectorize(math.log2)(x), [POS]),
    "log10": (lambda x: np.vectorize(math.log10)(x), [POS]),
    "log1p": (lambda x: np.vectorize(math.log1p)(x), [POS]),
    "sqrt": (lambda x: x ** 0.5, [POS]),
    "sqr": (lambda x: x * x, [ANY]),
    "reciprocal": (lambda x: 1.0 / x, [_away(0.5, 3)]),
    "sin": (np.vectorize(math.sin), [ANY]),
    "cos": (np.vectorize(math.cos), [ANY]),
    "tan": (np.vectorize(math.tan), [_u(-1.2, 1.2)]),
    "arcsin": (np.vectorize(math.asin), [UNIT]),
    "arccos": (np.vectorize(math.acos), [UNIT]),
    "arctan": (np.vectorize(math.atan), [ANY]),
    "arctan2": (np.vectorize(math.atan2), [ANY, ANY]),
    "sinh": (np.vectorize(math.sinh), [ANY]),
    "cosh": (np.vectorize(math.cosh), [ANY]),
    "tanh": (np.vectorize(math.tanh), [ANY]),
    "arcsinh": (np.vectorize(math.asinh), [ANY]),
    "arccosh": (np.vectorize(math.acosh), [_u(1.2, 4)]),
    "arctanh": (np.vectorize(math.atanh), [UNIT]),
    "sigmoid": (lambda x: 1 / (1 + np.vectorize(math.exp)(-x)), [ANY]),
    "softplus": (lambda x: np.vectorize(lambda v: math.log1p(math.exp(v)))(x), [ANY]),
    "erf": (_verf, [ANY]),
    "erfc": (_verfc, [ANY]),
    "relu": (lambda x: x * (x > 0), [_away(0.1, 3)]),
    "floor": (np.vectorize(math.floor), [_away(0.1, 3)]),
    "ceil": (np.vectorize(math.ceil), [_away(0.1, 3)]),
    "trunc": (np.vectorize(math.trunc), [_away(0.1, 3)]),
    "round_half_to_even": (np.vectorize(round), [_u(-5, 5)]),
    "round_half_away_from_zero": (np.vectorize(lambda v: math.copysign(math.floor(abs(v) + 0.5), v)),
                                  [_u(-5, 5)]),
    "clip": (lambda x, lo, hi: np.where(x < lo, lo, np.where(x > hi, hi, x)),
             [ANY, _u(-2.5, -0.5), _u(0.5, 2.5)]),
    "switch": (lambda c, a, b: np.array([ai if ci else bi for ci, ai, bi in
                                         zip(*[np.broadcast_to(v, np.broadcast_shapes(c.shape, a.shape, b.shape)).ravel()
                                               for v in (c, a, b)])]).reshape(
        np.broadcast_shapes(c.shape, a.shape, b.shape)), [_bool, ANY, ANY]),
    "second": (lambda x, y: y + 0 * x, [ANY, ANY]),
    "identity": (lambda x: x + 0, [ANY]),
    "eq": (lambda x, y: ~((x < y) | (x > y)), [_u(-1, 1), _u(-1, 1)]),
    "neq": (lambda x, y: (x < y) | (x > y), [ANY, ANY]),
    "lt": (lambda x, y: ~(x >= y), [ANY, ANY]),
    "gt": (lambda x, y: ~(x <= y), [ANY, ANY]),
    "le": (lambda x, y: ~(x > y), [ANY, ANY]),
    "ge": (lambda x, y: ~(x < y), [ANY, ANY]),
    "isnan": (lambda x: x != x, [ANY]),
    "isinf": (lambda x: (x == np.inf) | (x == -np.inf), [ANY]),
    "gammaln": (np.vectorize(math.lgamma), [POS]),
    "gamma": (np.vectorize(math.gamma), [POS]),
    "psi": (lambda x: _special("psi")(x), [POS]),
    "tri_gamma": (lambda x: _special("polygamma")(1, x), [POS]),
    "erfinv": (lambda x: _special("erfinv")(x), [UNIT]),
    "erfcinv": (lambda x: _special("erfcinv")(x), [_u(0.1, 1.9)]),
    "chi2sf": (lambda x, k: _special("chdtrc")(k, x), [POS, _u(1, 5)]),
    "and_": (lambda x, y: x & y, [_bool, _bool]),
    "or_": (lambda x, y: x | y, [_bool, _bool]),
    "xor": (lambda x, y: x != y, [_bool, _bool]),
    "invert": (lambda x: ~x, [_bool]),
}

NON_DIFFERENTIABLE = {"int_div", "sgn", "floor", "ceil", "trunc", "round_half_to_even",
                      "round_half_away_from_zero", "eq", "neq", "lt", "gt", "le", "ge", "isnan",
                      "isinf", "and_", "or_", "xor", "invert", "switch", "second",
                      "tri_gamma",  # its gradient (polygamma 2) is not implemented, as in Theano
                      "chi2sf"}  # differentiable in x only: checked below


def test_every_row_has_a_reference():
    assert set(REFERENCE) == set(SCALAR_OPS)


SHAPES = [((3, 4),), ((1, 4), (3, 1)), ((3, 4), (1, 1))]


def _inputs(name, rng, shapes, dtype):
    ref, samplers = REFERENCE[name]
    nin = SCALAR_OPS[name].nin or 3
    shapes = [shapes[i % len(shapes)] for i in range(nin)]
    values = [s(rng, sh, dtype) for s, sh in zip(samplers, shapes)]
    if name == "eq":  # make some entries equal
        values[1] = np.where(rng.random(values[1].shape) > 0.5, values[0].mean(), values[1]).astype(values[1].dtype)
        values[0] = np.broadcast_to(values[0].mean(), values[0].shape).astype(values[0].dtype)
    return ref, values


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("shapes", SHAPES, ids=["same", "row-col", "broadcast-11"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_values_match_reference(name, shapes, dtype, rng):
    ref, values = _inputs(name, rng, shapes, dtype)
    sym = [T.tensor(v.dtype, [s == 1 for s in v.shape], name=f"in{i}") for i, v in enumerate(values)]
    out = T.elemwise_op(name)(*sym)
    f = theano.function(sym, out)
    got = f(*values)
    expected = np.asarray(ref(*[v.astype("float64") if v.dtype.kind == "f" else v for v in values]))
    assert got.shape == np.broadcast_shapes(*[v.shape for v in values])
    assert got.dtype == out.dtype
    tol = 1e-5 if dtype == "float32" or out.dtype == "float32" else 1e-12
    np.testing.assert_allclose(got.astype("float64") if got.dtype.kind == "f" else got, expected,
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(set(REFERENCE) - NON_DIFFERENTIABLE))
@pytest.mark.parametrize("shapes", SHAPES[:2], ids=["same", "row-col"])
def test_gradient_matches_finite_differences(name, shapes, rng):
    _, values = _inputs(name, rng, shapes, "float64")
    bcast = [[s == 1 for s in v.shape] for v in values]

    def fn(*xs):
        xs = [T.patternbroadcast(x, b) for x, b in zip(xs, bcast)]
        return T.elemwise_op(name)(*xs)
    T.verify_grad(fn, values, rng=rng)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "maximum", "mod", "int_div", "neg", "abs", "sqr"])
def test_integer_inputs_stay_integer(name, rng):
    nin = SCALAR_OPS[name].nin or 2
    vals = [rng.integers(1, 9, (4,)).astype("int32") for _ in range(nin)]
    sym = [T.ivector() for _ in vals]
    out = T.elemwise_op(name)(*sym)
    assert out.dtype == "int32"
    got = theano.function(sym, out)(*vals)
    ref = REFERENCE[name][0](*vals)
    np.testing.assert_array_equal(got, np.asarray(ref).astype("int32"))


def test_transcendental_promotes_ints_like_theano():
    assert T.exp(T.ivector()).dtype == "float64"
    assert T.exp(T.bvector()).dtype == "float32"
    assert (T.ivector() / T.ivector()).dtype == "float64"
    assert (T.fvector() * 2.0).dtype == "float32"
    assert (T.ivector() + 1).dtype == "int32"
    assert (T.ivector() * 0.5).dtype == theano.config.floatX


def test_nan_and_inf_propagate_like_numpy():
    x = T.dvector()
    f = theano.function([x], [T.exp(x), T.log(x), T.sqrt(x), x * 0])
    v = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0])
    with np.errstate(all="ignore"):
        for got, ref in zip(f(v), [np.exp(v), np.log(v), np.sqrt(v), v * 0]):
            np.testing.assert_allclose(got, ref, rtol=1e-15, equal_nan=True)  # NaN/Inf where NumPy has them


def test_against_pytensor_when_installed(rng):
    pt = pytest.importorskip("pytensor")
    import pytensor.tensor as ptt
    v = rng.uniform(-3, 3, (5, 4))
    for name, ptfn in [("sigmoid", ptt.sigmoid), ("softplus", ptt.softplus), ("tanh", ptt.tanh),
                       ("erf", ptt.erf), ("expm1", ptt.expm1)]:
        x = ptt.dmatrix()
        ref = pt.function([x], ptfn(x))(v)
        y = T.dmatrix()
        got = theano.function([y], T.elemwise_op(name)(y))(v)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_chi2sf_gradient_in_x_and_tri_gamma_says_it_has_none(rng):
    k = T.constant(np.array([1.0, 3.0, 6.0]))
    T.verify_grad(lambda x: T.chi2sf(x, k), [rng.uniform(0.3, 4, 3)], rng=rng)
    x = T.dvector("x")
    with pytest.raises(NotImplementedError, match="tri_gamma"):
        theano.grad(T.sum(T.tri_gamma(x)), x)
