"""The user-facing tensor API (``import mlc.compiler.tensor as T``): constructors,
elementwise math, casting; reductions/products and shape functions come from
``math.py`` and ``shape.py`` and are re-exported here."""
from __future__ import annotations

import sys
from typing import Any, Sequence

from ..choices import check_choice
from ..config import config
from ..ops.elemwise import DimShuffle, Elemwise
from ..ops.scalar import SCALAR_OPS, Cast
from ..types import TensorType, resolve_dtype
from .variable import (TensorConstant, TensorVariable, as_tensor_variable, constant,  # noqa: F401
                       is_weak)

# ---------------------------------------------------------------- constructors


def tensor(dtype: Any = None, broadcastable: Sequence[bool] = (), name: str | None = None) -> TensorVariable:
    """A symbolic tensor input: ``T.tensor('float32', (False, True), name='x')``."""
    return TensorType(dtype, broadcastable).make_variable(name)


_PATTERNS = {"scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
             "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4,
             "tensor5": (False,) * 5, "tensor6": (False,) * 6, "tensor7": (False,) * 7}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "c": "complex64", "z": "complex128"}


def _make_constructor(kind: str, fixed_dtype: str | None):
    pattern = _PATTERNS[kind]

    def constructor(name: str | None = None, dtype: Any = None) -> TensorVariable:
        return tensor(fixed_dtype or dtype, pattern, name)
    constructor.__name__ = (fixed_dtype and [p for p, d in _PREFIXES.items() if d == fixed_dtype][0] or "") + kind
    constructor.__doc__ = (f"A symbolic {kind} ({'dtype ' + fixed_dtype if fixed_dtype else 'dtype=None: floatX'}); "
                           f"``{constructor.__name__}('x')``.")
    return constructor


_module = sys.modules[__name__]
for _kind in _PATTERNS:
    setattr(_module, _kind, _make_constructor(_kind, None))
    for _prefix, _dtype in _PREFIXES.items():
        # As in Theano, ``T.dmatrix`` is the type itself; calling it makes a variable.
        setattr(_module, _prefix + _kind, TensorType(_dtype, _PATTERNS[_kind]))


def _make_plural(kind: str, fixed_dtype: str | None):
    single = getattr(_module, (fixed_dtype and [p for p, d in _PREFIXES.items() if d == fixed_dtype][0] or "") + kind)

    def constructor(*names: Any, dtype: Any = None) -> Any:
        if names and isinstance(names[0], int):
            names = (None,) * names[0]
        elif len(names) == 1:  # Theano's: one string gives one variable per character (or comma-separated name)
            names = tuple(n.strip() for n in names[0].split(",")) if "," in names[0] else tuple(names[0])
            if len(names) == 1:
                return single(names[0]) if fixed_dtype else single(names[0], dtype)
        return [single(n) if fixed_dtype else single(n, dtype) for n in names]
    constructor.__doc__ = (f"Several symbolic {kind}s at once: ``a, b = ...('a', 'b')``, ``...('ab')`` or "
                           "``...(2)`` (unnamed).")
    return constructor


for _kind, _plural in [("scalar", "scalars"), ("vector", "vectors"), ("matrix", "matrices"),
                       ("row", "rows"), ("col", "cols"), ("tensor3", "tensor3s"), ("tensor4", "tensor4s")]:
    setattr(_module, _plural, _make_plural(_kind, None))
    for _prefix, _dtype in _PREFIXES.items():
        setattr(_module, _prefix + _plural, _make_plural(_kind, _dtype))

# ---------------------------------------------------------------- elementwise math
_ELEMWISE: dict = {}


def elemwise_op(name: str) -> Elemwise:
    """The (shared) ``Elemwise`` op of the scalar op ``name``."""
    op = _ELEMWISE.get(name)
    if op is None:
        op = _ELEMWISE[name] = Elemwise(SCALAR_OPS[name])
    return op


def _apply(name: str, *args: Any) -> TensorVariable:
    return elemwise_op(name)(*args)


def _define(public: str, name: str, doc: str) -> None:
    def fn(*args: Any) -> TensorVariable:
        return _apply(name, *args)
    fn.__name__ = public
    fn.__doc__ = doc
    setattr(_module, public, fn)


for _public, _name, _doc in [
    ("sub", "sub", "x - y"), ("true_div", "true_div", "x / y (true division)"),
    ("floor_div", "int_div", "x // y"), ("int_div", "int_div", "x // y"), ("mod", "mod", "x % y"),
    ("pow", "pow", "x ** y"), ("maximum", "maximum", "elementwise max"), ("minimum", "minimum", "elementwise min"),
    ("neg", "neg", "-x"), ("abs_", "abs", "|x|"), ("sgn", "sgn", "sign of x"),
    ("exp", "exp", "e**x"), ("exp2", "exp2", "2**x"), ("expm1", "expm1", "exp(x) - 1, accurate near 0"),
    ("log", "log", "natural log"), ("log2", "log2", "base-2 log"), ("log10", "log10", "base-10 log"),
    ("log1p", "log1p", "log(1 + x), accurate near 0"), ("sqrt", "sqrt", "square root"), ("sqr", "sqr", "x * x"),
    ("reciprocal", "reciprocal", "1 / x"), ("inv", "reciprocal", "1 / x"),
    ("sin", "sin", "sine"), ("cos", "cos", "cosine"), ("tan", "tan", "tangent"),
    ("arcsin", "arcsin", "inverse sine"), ("arccos", "arccos", "inverse cosine"),
    ("arctan", "arctan", "inverse tangent"), ("arctan2", "arctan2", "angle of the point (x, y): arctan2(y, x)"),
    ("sinh", "sinh", "hyperbolic sine"),
    ("cosh", "cosh", "hyperbolic cosine"), ("tanh", "tanh", "hyperbolic tangent"),
    ("arcsinh", "arcsinh", "inverse hyperbolic sine"), ("arccosh", "arccosh", "inverse hyperbolic cosine"),
    ("arctanh", "arctanh", "inverse hyperbolic tangent"), ("sigmoid", "sigmoid", "1 / (1 + exp(-x))"),
    ("softplus", "softplus", "log(1 + exp(x)), stable"), ("erf", "erf", "error function"),
    ("erfc", "erfc", "1 - erf(x)"), ("relu", "relu", "max(x, 0)"),
    ("gammaln", "gammaln", "log |Γ(x)|"), ("gamma", "gamma", "Γ(x)"), ("psi", "psi", "digamma: d/dx log Γ(x)"),
    ("tri_gamma", "tri_gamma", "trigamma: d/dx psi(x)"), ("erfinv", "erfinv", "inverse of erf"),
    ("erfcinv", "erfcinv", "inverse of erfc"), ("chi2sf", "chi2sf", "χ² survival function: chi2sf(x, k)"),
    ("floor", "floor", "round down"), ("ceil", "ceil", "round up"), ("trunc", "trunc", "round toward 0"),
    ("round_half_to_even", "round_half_to_even", "round, ties to even"),
    ("round_half_away_from_zero", "round_half_away_from_zero", "round, ties away from 0"),
    ("switch", "switch", "cond ? a : b, elementwise"), ("where", "switch", "cond ? a : b, elementwise"),
    ("second", "second", "y broadcast to the shape of x"), ("fill", "second", "y broadcast to the shape of x"),
    ("eq", "eq", "x == y"), ("neq", "neq", "x != y"), ("lt", "lt", "x < y"), ("gt", "gt", "x > y"),
    ("le", "le", "x <= y"), ("ge", "ge", "x >= y"), ("isnan", "isnan", "x is NaN"), ("isinf", "isinf", "x is ±inf"),
    ("and_", "and_", "x & y"), ("or_", "or_", "x | y"), ("xor", "xor", "x ^ y"), ("invert", "invert", "~x"),
    ("bitwise_and", "and_", "x & y"), ("bitwise_or", "or_", "x | y"), ("bitwise_xor", "xor", "x ^ y"),
    ("bitwise_not", "invert", "~x"), ("tensor_copy", "identity", "a copy of x"),
]:
    _define(_public, _name, _doc)


def add(*xs: Any) -> TensorVariable:
    """Sum of any number of tensors: ``T.add(x, y, z)``."""
    return _apply("add", *xs)


def mul(*xs: Any) -> TensorVariable:
    """Product of any number of tensors."""
    return _apply("mul", *xs)


def clip(x: Any, a_min: Any, a_max: Any) -> TensorVariable:
    """``x`` limited to ``[a_min, a_max]``."""
    return _apply("clip", x, a_min, a_max)


def round(x: Any, mode: str | None = None) -> TensorVariable:  # noqa: A001 (Theano's name)
    """Round; ``mode`` is ``'half_away_from_zero'`` (default, as Theano) or ``'half_to_even'``."""
    mode = mode or "half_away_from_zero"
    check_choice("round: mode", mode, ("half_away_from_zero", "half_to_even"))
    return _apply("round_" + mode, x)


def cast(x: Any, dtype: Any) -> TensorVariable:
    """``x`` converted to ``dtype`` (``'floatX'`` allowed); a no-op when it already is."""
    dtype = resolve_dtype(dtype)
    x = as_tensor_variable(x)
    if x.dtype == dtype:
        return x
    key = "cast_" + dtype
    op = _ELEMWISE.get(key)
    if op is None:
        op = _ELEMWISE[key] = Elemwise(Cast(dtype))
    return op(x)


def dimshuffle(x: Any, pattern: Sequence[Any]) -> TensorVariable:
    """Permute dims, insert broadcastable ``'x'`` dims, drop broadcastable ones."""
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.broadcastable, pattern)(x)


def floatX(x: Any) -> TensorVariable:
    """``x`` cast to ``config.floatX``."""
    return cast(x, config.floatX)


from .math import *  # noqa: E402,F401,F403
from .shape import *  # noqa: E402,F401,F403
