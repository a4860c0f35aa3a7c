"""The special functions' own NumPy implementations, used when SciPy is not installed,
against SciPy over their domains (poles, reflections and tails included)."""
import math

import numpy as np
import pytest

from mlc.compiler.ops import special_impl as impl

special = pytest.importorskip("scipy.special")

X = np.array([-3.7, -2.5, -0.3, 1e-3, 0.3, 1.0, 2.5, 7.3, 40.0, 250.0])


def test_psi_and_tri_gamma_series():
    np.testing.assert_allclose(impl._psi(X), special.psi(X), rtol=1e-13)
    np.testing.assert_allclose(impl._tri_gamma(X), special.polygamma(1, X), rtol=1e-12)


def test_erfinv_and_erfcinv_from_the_normal_quantile():
    y = np.array([-1.0, -1 + 1e-16, -0.999999, -0.5, -1e-9, 0.0, 1e-12, 0.3, 0.9999, 1 - 1e-15, 1.0, 1.5])
    np.testing.assert_allclose(impl._elementwise(impl._erfinv_scalar)(y), special.erfinv(y), rtol=1e-13,
                               equal_nan=True)
    z = np.array([0.0, 1e-30, 1e-8, 0.5, 1.0, 1.0 + 1e-10, 1.7, 2.0, -0.1])
    np.testing.assert_allclose(impl._elementwise(impl._erfcinv_scalar)(z), special.erfcinv(z), rtol=1e-12,
                               equal_nan=True)


def test_chi2sf_by_series_and_continued_fraction():
    x = np.array([0.0, 0.01, 0.5, 2.0, 7.0, 30.0, 100.0])
    for k in (1.0, 2.0, 3.0, 10.0, 55.0):
        np.testing.assert_allclose(impl._chi2sf_pairs(x, np.full_like(x, k)), special.chdtrc(k, x), rtol=1e-11,
                                   atol=1e-300)


def test_gamma_and_gammaln_through_math():
    positive = X[X > 0]
    np.testing.assert_allclose(impl._elementwise(math.lgamma)(positive), special.gammaln(positive), rtol=1e-13)
    assert np.isinf(impl._elementwise(math.gamma)(np.array([200.0])))[0]  # overflows to inf, as SciPy
    assert np.isnan(impl._elementwise(math.gamma)(np.array([-2.0])))[0]  # a pole


def test_the_compiled_special_functions_in_their_tails(rng):
    import mlc.compiler as theano
    import mlc.compiler.tensor as T
    x = T.dvector("x")
    f = theano.function([x], [T.erfinv(x), T.erfcinv(x + 1)])
    y = np.array([-1 + 1e-12, -0.999999, -1e-9, 1e-12, 0.3, 0.9999, 1 - 1e-15])
    got_inv, got_cinv = f(y)
    np.testing.assert_allclose(got_inv, special.erfinv(y), rtol=1e-9)
    np.testing.assert_allclose(got_cinv, special.erfcinv(y + 1), rtol=1e-9)
    z = np.array([1e-300, 1e-30, 1e-8, 1e-6, 1.999999])
    np.testing.assert_allclose(theano.function([x], T.erfcinv(x))(z), special.erfcinv(z), rtol=1e-12)


# chi2sf(x, k) at the edges of its domain and deep in its tails, as SciPy's chdtrc(k, x)
CHI2_X = np.array([0.0, 1e-300, 0.5, 3.0, 300.0, 1e5, np.inf, -1.0, np.nan, 1.0, 0.0, np.inf, 3.0, 60.0])
CHI2_K = np.array([3.0, 1e-3, 0.5, 40.0, 400.0, 0.5, 3.0, 3.0, 3.0, 0.0, 0.0, np.inf, np.inf, 7.0])


def test_chi2sf_edges_and_tails_in_the_python_reference_and_the_compiled_kernel():
    import mlc.compiler as theano
    import mlc.compiler.tensor as T
    want = special.chdtrc(CHI2_K, CHI2_X)
    with np.errstate(invalid="ignore"):  # the NaN results, as Elemwise.perform calls it
        np.testing.assert_allclose(impl._chi2sf_pairs(CHI2_X, CHI2_K), want, rtol=1e-12, atol=1e-300, equal_nan=True)
    x, k = T.dvector("x"), T.dvector("k")
    got = theano.function([x, k], T.chi2sf(x, k))(CHI2_X, CHI2_K)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, equal_nan=True)
