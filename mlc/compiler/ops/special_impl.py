"""NumPy references of the special functions in the scalar table (``gammaln``, ``gamma``,
``psi``, ``tri_gamma``, ``erfinv``, ``erfcinv``, ``chi2sf``): SciPy's when it is installed
(an optional dependency), else written here from the standard library and series, accurate
to a few ulps in float64 over the domains tests use."""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np


def _scipy(name: str) -> Callable | None:
    try:
        from scipy import special
    except ImportError:
        return None
    return getattr(special, name)


def scipy_or(name: str, fallback: Callable, adapt: Callable[[Callable], Callable] = lambda f: f) -> Callable:
    """SciPy's ``special.<name>`` (through ``adapt``) where SciPy is installed, else
    ``fallback``; chosen at the first call, since importing SciPy takes half a second that
    ``import mlc`` must not pay."""
    chosen: list[Callable] = []

    def call(*args: np.ndarray) -> np.ndarray:
        if not chosen:
            found = _scipy(name)
            chosen.append(adapt(found) if found is not None else fallback)
        return chosen[0](*args)
    return call


def _elementwise(fn: Callable[[float], float]) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` over every element (inf where it overflows, nan where it is undefined)."""
    def scalar(v: float) -> float:
        try:
            return fn(float(v))
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return math.nan
    vectorized = np.vectorize(scalar, otypes=[float])

    def apply(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # an inf result is the answer, not an accident
            return vectorized(x)
    return apply


def _same_dtype(fn: Callable) -> Callable:
    """``fn`` with its result in its first argument's dtype (the table's contract)."""
    return lambda x, *rest: np.asarray(fn(x, *rest)).astype(np.asarray(x).dtype, copy=False)


def _psi(x: np.ndarray) -> np.ndarray:
    """Digamma: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 12, then the asymptotic
    series; reflection for x < 0.5."""
    x = np.asarray(x, dtype=np.float64)
    reflect = x < 0.5
    y = np.where(reflect, 1 - x, x)
    shift = np.zeros_like(y)
    while np.any(small := y < 12):
        shift = np.where(small, shift - 1 / y, shift)
        y = np.where(small, y + 1, y)
    inv2 = 1 / (y * y)
    series = np.log(y) - 0.5 / y - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (
        1 / 240 - inv2 * (1 / 132)))))
    result = series + shift
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(reflect, result - np.pi / np.tan(np.pi * x), result)


def _tri_gamma(x: np.ndarray) -> np.ndarray:
    """Trigamma (psi's derivative): recurrence up to x >= 12, then the asymptotic series;
    reflection for x < 0.5."""
    x = np.asarray(x, dtype=np.float64)
    reflect = x < 0.5
    y = np.where(reflect, 1 - x, x)
    shift = np.zeros_like(y)
    while np.any(small := y < 12):
        shift = np.where(small, shift + 1 / (y * y), shift)
        y = np.where(small, y + 1, y)
    inv, inv2 = 1 / y, 1 / (y * y)
    series = inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30 - inv2 * (
        5 / 66 - inv2 * (691 / 2730 - inv2 * (7 / 6)))))))
    result = series + shift
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(reflect, (np.pi / np.sin(np.pi * x)) ** 2 - result, result)


_NORMAL = NormalDist()


def _erfinv_scalar(y: float) -> float:
    if not -1 <= y <= 1:
        return math.nan
    if abs(y) == 1:
        return math.copysign(math.inf, y)
    a = abs(y)
    p = (a + 1) / 2
    x = _NORMAL.inv_cdf(p) / math.sqrt(2) if p < 1 else math.sqrt(-math.log(1 - a))  # p rounds to 1 near a = 1
    for _ in range(3):  # Newton: the start loses digits near 0 (fixed on erf) and near 1 (on log erfc, 1 - a exact)
        slope = 2 / math.sqrt(math.pi) * math.exp(-x * x)
        if a > 0.5:
            e = math.erfc(x)
            x += (math.log(e) - math.log(1 - a)) * e / slope
        else:
            x -= (math.erf(x) - a) / slope
    return math.copysign(x, y)


def _erfcinv_scalar(y: float) -> float:
    if not 0 <= y <= 2:
        return math.nan
    if y in (0, 2):
        return math.inf if y == 0 else -math.inf
    x = -_NORMAL.inv_cdf(y / 2) / math.sqrt(2)
    for _ in range(2):  # Newton on erfc(x) = y
        x += (math.erfc(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def _upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a): a series for x < a + 1, else a continued fraction."""
    if not (a >= 0 and x >= 0) or (a == 0 and x == 0) or (math.isinf(a) and math.isinf(x)):
        return math.nan
    if x == 0 or math.isinf(a):
        return 1.0
    if a == 0 or math.isinf(x):
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        n = a
        while abs(term) > abs(total) * 1e-17:
            n += 1
            term *= x / n
            total += term
        return 1 - total * math.exp(log_front)
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for i in range(1, 1000):  # modified Lentz
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return math.exp(log_front) * h


_chi2sf_pairs = np.vectorize(lambda x, k: _upper_gamma_regularized(float(k) / 2, float(x) / 2), otypes=[float])

gammaln = _same_dtype(scipy_or("gammaln", _elementwise(math.lgamma)))
gamma = _same_dtype(scipy_or("gamma", _elementwise(math.gamma)))
psi = _same_dtype(scipy_or("psi", _psi))
tri_gamma = _same_dtype(scipy_or("polygamma", _tri_gamma, lambda polygamma: lambda x: polygamma(1, x)))
erfinv = _same_dtype(scipy_or("erfinv", _elementwise(_erfinv_scalar)))
erfcinv = _same_dtype(scipy_or("erfcinv", _elementwise(_erfcinv_scalar)))
chi2sf = _same_dtype(scipy_or("chdtrc", _chi2sf_pairs, lambda chdtrc: lambda x, k: chdtrc(k, x)))
erf = _same_dtype(scipy_or("erf", _elementwise(math.erf)))
erfc = _same_dtype(scipy_or("erfc", _elementwise(math.erfc)))
