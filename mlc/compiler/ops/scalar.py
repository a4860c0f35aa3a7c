"""Scalar operations: one row of a table per op.

Each row states, in one place, the op's name and arity, its NumPy reference, the C-style
expression every code generator emits (C, OpenCL and CUDA alike), the dtype rule of its
output and its gradient rule. ``Elemwise`` lifts a row to tensors; rewrites and codegen
read the same rows.

An expression is a template over the arguments ``{0} {1} {2}`` (already converted to the
computation dtype), ``{t}`` (the computation type) and ``{o}`` (the output type); ``$name(``
is a math function that each renderer spells for the dtype (``expf`` in C, ``exp`` in
OpenCL). ``c_int`` and ``c_bool`` replace ``c`` when the computation is on integers or on
booleans; an empty ``c`` means no compiled form.

A gradient rule gets the (tensor) inputs, the output and the output gradient ``gz``
and returns one gradient per input (``None``: not differentiable there). It builds
graph with the ordinary tensor functions, so gradients are rewritten like any graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..types import FLOAT_DTYPES, upcast, upgrade_to_float
from . import special_impl as special


def _T():
    from ..tensor import basic
    return basic


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(x.dtype, copy=False)


def _second(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.broadcast_to(y, np.broadcast_shapes(x.shape, y.shape))


def _rule_upcast(*dtypes: str) -> str:
    return upcast(*dtypes)


def _rule_float(*dtypes: str) -> str:
    return upgrade_to_float(upcast(*dtypes))


def _rule_bool(*dtypes: str) -> str:
    return "bool"


def _rule_last(*dtypes: str) -> str:
    return dtypes[-1]


def _rule_switch(cond: str, a: str, b: str) -> str:
    return upcast(a, b)


@dataclass(eq=False)
class ScalarOp:
    """One scalar operation (a row of the table). ``nin=None`` means variadic."""

    name: str
    nin: int | None
    impl: Callable[..., Any]
    c: str
    out_dtype: Callable[..., str] = _rule_upcast
    grad: Callable[..., list] | None = None
    commutative: bool = False
    associative: bool = False
    cast_inputs: bool = False  # inputs are cast to the output dtype before ``impl``
    tags: tuple = field(default=())
    c_int: str | None = None
    c_bool: str | None = None

    def output_dtype(self, *dtypes: str) -> str:
        return self.out_dtype(*dtypes)

    def compute_dtype(self, arg_dtypes: tuple, out: str) -> str:
        """The dtype the expression computes in: a predicate (bool result) compares its
        arguments in their common dtype, every other op computes in its output dtype."""
        return upcast(*arg_dtypes) if self.out_dtype is _rule_bool else out

    def template(self, compute: str) -> str:
        """The expression template for computing in ``compute`` ('' when there is none)."""
        if compute == "bool":
            return self.c_bool or self.c_int or self.c
        if not compute.startswith("float"):
            return self.c_int or self.c
        return self.c

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    def __reduce__(self):
        return (get_scalar_op, (self.name,))

    def _key(self):
        return (ScalarOp, self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScalarOp) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class Cast(ScalarOp):
    """Conversion to ``dtype`` (one instance per dtype)."""

    def __init__(self, dtype: str) -> None:
        super().__init__(f"cast_{dtype}", 1, lambda x: x.astype(dtype),
                         "(({0}) != 0)" if dtype == "bool" else "(({o})({0}))",
                         out_dtype=lambda *_: dtype, grad=_cast_grad)
        self.dtype = dtype

    def compute_dtype(self, arg_dtypes: tuple, out: str) -> str:
        return arg_dtypes[0]  # converts its argument as it is

    def template(self, compute: str) -> str:
        return self.c

    def __reduce__(self):
        return (Cast, (self.dtype,))

    def _key(self):
        return (Cast, self.dtype)


def _cast_grad(inputs, out, gz):
    (x,) = inputs
    return [_T().cast(gz, x.dtype) if x.dtype in FLOAT_DTYPES else None]


# ---------------------------------------------------------------- gradient rules
def _g_add(inputs, out, gz):
    return [gz for _ in inputs]


def _g_sub(inputs, out, gz):
    return [gz, -gz]


def _g_mul(inputs, out, gz):
    T = _T()
    grads = []
    for i in range(len(inputs)):
        others = [v for j, v in enumerate(inputs) if j != i]
        grads.append(T.mul(gz, *others) if others else gz)
    return grads


def _g_true_div(inputs, out, gz):
    x, y = inputs
    return [gz / y, -gz * x / (y * y)]


def _g_mod(inputs, out, gz):
    x, y = inputs
    return [gz, -gz * _T().floor_div(x, y)]


def _g_pow(inputs, out, gz):
    T = _T()
    x, y = inputs
    gx = gz * y * x ** (y - 1)
    # d/dy x**y = log(x) x**y; where x == 0 the limit is 0 (for y > 0), not nan.
    gy = gz * T.switch(T.eq(x, 0), 0, T.log(T.switch(T.eq(x, 0), 1, x)) * out)
    return [gx, gy]


def _zero(inputs, out, gz):
    return [_T().zeros_like(x) if x.dtype in FLOAT_DTYPES else None for x in inputs]


def _no_grad(inputs, out, gz):
    return [None for _ in inputs]


def _unary(rule: Callable) -> Callable:
    return lambda inputs, out, gz: [rule(inputs[0], out, gz)]


def _g_arctan2(inputs, out, gz):
    y, x = inputs
    r2 = x * x + y * y
    return [gz * x / r2, -gz * y / r2]


def _g_chi2sf(inputs, out, gz):
    T = _T()
    x, k = inputs
    half = k / 2
    log_pdf = (half - 1) * T.log(x) - x / 2 - half * math.log(2) - T.gammaln(half)
    return [-gz * T.exp(log_pdf), None]  # Theano has no gradient in the degrees of freedom either


def _g_tri_gamma(inputs, out, gz):
    raise NotImplementedError("tri_gamma: its gradient (the polygamma of order 2) is not implemented")


def _g_maximum(inputs, out, gz):
    T = _T()
    x, y = inputs
    return [gz * T.eq(out, x), gz * T.eq(out, y)]


def _g_clip(inputs, out, gz):
    T = _T()
    x, lo, hi = inputs
    return [gz * T.and_(T.ge(x, lo), T.le(x, hi)), gz * T.lt(x, lo), gz * T.gt(x, hi)]


def _g_switch(inputs, out, gz):
    T = _T()
    cond, a, b = inputs
    zero = T.zeros_like(gz)
    return [None, T.switch(cond, gz, zero), T.switch(cond, zero, gz)]


def _g_second(inputs, out, gz):
    return [None, gz]


SQRT_PI = math.sqrt(math.pi)

# name, arity, numpy, C expression, dtype rule, gradient, extra flags
_ROWS: list[ScalarOp] = [
    ScalarOp("add", None, lambda *a: _reduce(np.add, a), "({0} + {1})", grad=_g_add,
             commutative=True, associative=True),
    ScalarOp("mul", None, lambda *a: _reduce(np.multiply, a), "({0} * {1})", grad=_g_mul,
             commutative=True, associative=True),
    ScalarOp("sub", 2, np.subtract, "({0} - {1})", grad=_g_sub),
    ScalarOp("true_div", 2, np.true_divide, "({0} / {1})", _rule_float, _g_true_div, cast_inputs=True),
    ScalarOp("int_div", 2, np.floor_divide, "$mlc_floordiv({0}, {1})", grad=_zero,
             c_int="(({t})mlc_ifloordiv({0}, {1}))"),
    ScalarOp("mod", 2, np.mod, "$mlc_mod({0}, {1})", grad=_g_mod, c_int="(({t})mlc_imod({0}, {1}))"),
    ScalarOp("pow", 2, np.power, "$pow({0}, {1})", grad=_g_pow, c_int="(({t})mlc_ipow({0}, {1}))"),
    ScalarOp("maximum", 2, np.maximum, "MLC_MAX({0}, {1})", grad=_g_maximum, commutative=True),
    ScalarOp("minimum", 2, np.minimum, "MLC_MIN({0}, {1})", grad=_g_maximum, commutative=True),
    ScalarOp("neg", 1, np.negative, "(-{0})", grad=_unary(lambda x, o, g: -g)),
    ScalarOp("abs", 1, np.abs, "$fabs({0})", grad=_unary(lambda x, o, g: g * _T().sgn(x)),
             c_int="(({0}) < 0 ? -({0}) : ({0}))"),
    ScalarOp("sgn", 1, np.sign, "(({0}) > 0 ? ({t})1 : (({0}) < 0 ? ({t})-1 : ({0})))", grad=_zero,
             c_int="(({t})((({0}) > 0) - (({0}) < 0)))"),
    ScalarOp("exp", 1, np.exp, "$exp({0})", _rule_float, _unary(lambda x, o, g: g * o), cast_inputs=True),
    ScalarOp("exp2", 1, np.exp2, "$exp2({0})", _rule_float,
             _unary(lambda x, o, g: g * o * math.log(2)), cast_inputs=True),
    ScalarOp("expm1", 1, np.expm1, "$expm1({0})", _rule_float,
             _unary(lambda x, o, g: g * (o + 1)), cast_inputs=True),
    ScalarOp("log", 1, np.log, "$log({0})", _rule_float, _unary(lambda x, o, g: g / x), cast_inputs=True),
    ScalarOp("log2", 1, np.log2, "$log2({0})", _rule_float,
             _unary(lambda x, o, g: g / (x * math.log(2))), cast_inputs=True),
    ScalarOp("log10", 1, np.log10, "$log10({0})", _rule_float,
             _unary(lambda x, o, g: g / (x * math.log(10))), cast_inputs=True),
    ScalarOp("log1p", 1, np.log1p, "$log1p({0})", _rule_float,
             _unary(lambda x, o, g: g / (1 + x)), cast_inputs=True),
    ScalarOp("sqrt", 1, np.sqrt, "$sqrt({0})", _rule_float,
             _unary(lambda x, o, g: g * 0.5 / o), cast_inputs=True),
    ScalarOp("sqr", 1, np.square, "({0} * {0})", grad=_unary(lambda x, o, g: g * 2 * x)),
    ScalarOp("reciprocal", 1, np.reciprocal, "(({t})1 / {0})", _rule_float,
             _unary(lambda x, o, g: -g * o * o), cast_inputs=True),
    ScalarOp("sin", 1, np.sin, "$sin({0})", _rule_float, _unary(lambda x, o, g: g * _T().cos(x)), cast_inputs=True),
    ScalarOp("cos", 1, np.cos, "$cos({0})", _rule_float, _unary(lambda x, o, g: -g * _T().sin(x)), cast_inputs=True),
    ScalarOp("tan", 1, np.tan, "$tan({0})", _rule_float, _unary(lambda x, o, g: g * (1 + o * o)), cast_inputs=True),
    ScalarOp("arcsin", 1, np.arcsin, "$asin({0})", _rule_float,
             _unary(lambda x, o, g: g / _T().sqrt(1 - x * x)), cast_inputs=True),
    ScalarOp("arccos", 1, np.arccos, "$acos({0})", _rule_float,
             _unary(lambda x, o, g: -g / _T().sqrt(1 - x * x)), cast_inputs=True),
    ScalarOp("arctan", 1, np.arctan, "$atan({0})", _rule_float,
             _unary(lambda x, o, g: g / (1 + x * x)), cast_inputs=True),
    ScalarOp("arctan2", 2, np.arctan2, "$atan2({0}, {1})", _rule_float, _g_arctan2, cast_inputs=True),
    ScalarOp("sinh", 1, np.sinh, "$sinh({0})", _rule_float, _unary(lambda x, o, g: g * _T().cosh(x)), cast_inputs=True),
    ScalarOp("cosh", 1, np.cosh, "$cosh({0})", _rule_float, _unary(lambda x, o, g: g * _T().sinh(x)), cast_inputs=True),
    ScalarOp("tanh", 1, np.tanh, "$tanh({0})", _rule_float, _unary(lambda x, o, g: g * (1 - o * o)), cast_inputs=True),
    ScalarOp("arcsinh", 1, np.arcsinh, "$asinh({0})", _rule_float,
             _unary(lambda x, o, g: g / _T().sqrt(x * x + 1)), cast_inputs=True),
    ScalarOp("arccosh", 1, np.arccosh, "$acosh({0})", _rule_float,
             _unary(lambda x, o, g: g / _T().sqrt(x * x - 1)), cast_inputs=True),
    ScalarOp("arctanh", 1, np.arctanh, "$atanh({0})", _rule_float,
             _unary(lambda x, o, g: g / (1 - x * x)), cast_inputs=True),
    ScalarOp("sigmoid", 1, _sigmoid, "$mlc_sigmoid({0})", _rule_float,
             _unary(lambda x, o, g: g * o * (1 - o)), cast_inputs=True),
    ScalarOp("softplus", 1, lambda x: np.logaddexp(x.dtype.type(0), x), "$mlc_softplus({0})", _rule_float,
             _unary(lambda x, o, g: g * _T().sigmoid(x)), cast_inputs=True),
    ScalarOp("erf", 1, special.erf, "$erf({0})", _rule_float,
             _unary(lambda x, o, g: g * (2 / SQRT_PI) * _T().exp(-x * x)), cast_inputs=True),
    ScalarOp("erfc", 1, special.erfc, "$erfc({0})", _rule_float,
             _unary(lambda x, o, g: -g * (2 / SQRT_PI) * _T().exp(-x * x)), cast_inputs=True),
    ScalarOp("gammaln", 1, special.gammaln, "$lgamma({0})", _rule_float,
             _unary(lambda x, o, g: g * _T().psi(x)), cast_inputs=True),
    ScalarOp("gamma", 1, special.gamma, "$tgamma({0})", _rule_float,
             _unary(lambda x, o, g: g * o * _T().psi(x)), cast_inputs=True),
    ScalarOp("psi", 1, special.psi, "$mlc_psi({0})", _rule_float, _unary(lambda x, o, g: g * _T().tri_gamma(x)), cast_inputs=True),
    ScalarOp("tri_gamma", 1, special.tri_gamma, "$mlc_tri_gamma({0})", _rule_float, _g_tri_gamma, cast_inputs=True),
    ScalarOp("erfinv", 1, special.erfinv, "$mlc_erfinv({0})", _rule_float,
             _unary(lambda x, o, g: g * (SQRT_PI / 2) * _T().exp(o * o)), cast_inputs=True),
    ScalarOp("erfcinv", 1, special.erfcinv, "$mlc_erfcinv({0})", _rule_float,
             _unary(lambda x, o, g: -g * (SQRT_PI / 2) * _T().exp(o * o)), cast_inputs=True),
    ScalarOp("chi2sf", 2, special.chi2sf, "$mlc_chi2sf({0}, {1})", _rule_float, _g_chi2sf, cast_inputs=True),
    ScalarOp("relu", 1, lambda x: np.maximum(x, x.dtype.type(0)), "MLC_MAX({0}, ({t})0)",
             grad=_unary(lambda x, o, g: g * _T().gt(x, 0))),
    ScalarOp("floor", 1, np.floor, "$floor({0})", _rule_float, _zero, cast_inputs=True),
    ScalarOp("ceil", 1, np.ceil, "$ceil({0})", _rule_float, _zero, cast_inputs=True),
    ScalarOp("trunc", 1, np.trunc, "$trunc({0})", _rule_float, _zero, cast_inputs=True),
    ScalarOp("round_half_to_even", 1, np.rint, "$rint({0})", _rule_float, _zero, cast_inputs=True),
    ScalarOp("round_half_away_from_zero", 1, _round_half_away, "$mlc_round({0})", _rule_float, _zero,
             cast_inputs=True),
    ScalarOp("clip", 3, np.clip, "MLC_MIN(MLC_MAX({0}, {1}), {2})", grad=_g_clip),
    ScalarOp("switch", 3, np.where, "(({0}) != 0 ? {1} : {2})", _rule_switch, _g_switch),
    ScalarOp("second", 2, _second, "{1}", _rule_last, _g_second),
    ScalarOp("identity", 1, lambda x: x, "{0}", grad=_unary(lambda x, o, g: g)),
    ScalarOp("eq", 2, np.equal, "({0} == {1})", _rule_bool, _no_grad, commutative=True),
    ScalarOp("neq", 2, np.not_equal, "({0} != {1})", _rule_bool, _no_grad, commutative=True),
    ScalarOp("lt", 2, np.less, "({0} < {1})", _rule_bool, _no_grad),
    ScalarOp("gt", 2, np.greater, "({0} > {1})", _rule_bool, _no_grad),
    ScalarOp("le", 2, np.less_equal, "({0} <= {1})", _rule_bool, _no_grad),
    ScalarOp("ge", 2, np.greater_equal, "({0} >= {1})", _rule_bool, _no_grad),
    ScalarOp("isnan", 1, np.isnan, "({0} != {0})", _rule_bool, _no_grad, c_int="0"),
    ScalarOp("isinf", 1, np.isinf, "({0} == INFINITY || {0} == -INFINITY)", _rule_bool, _no_grad, c_int="0"),
    ScalarOp("and_", 2, np.bitwise_and, "", c_int="({0} & {1})", grad=_no_grad, commutative=True, associative=True),
    ScalarOp("or_", 2, np.bitwise_or, "", c_int="({0} | {1})", grad=_no_grad, commutative=True, associative=True),
    ScalarOp("xor", 2, np.bitwise_xor, "", c_int="({0} ^ {1})", grad=_no_grad, commutative=True, associative=True),
    ScalarOp("invert", 1, np.invert, "", c_int="(({t})~{0})", grad=_no_grad, c_bool="(!{0})"),
]


def _reduce(ufunc: np.ufunc, arrays: tuple) -> np.ndarray:
    result = arrays[0]
    for a in arrays[1:]:
        result = ufunc(result, a)
    return result


SCALAR_OPS: dict[str, ScalarOp] = {row.name: row for row in _ROWS}


def get_scalar_op(name: str) -> ScalarOp:
    """The table row called ``name`` (``cast_<dtype>`` too)."""
    if name.startswith("cast_") and name not in SCALAR_OPS:
        return Cast(name[5:])
    return SCALAR_OPS[name]
