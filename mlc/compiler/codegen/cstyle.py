"""``CStyleRenderer``: what C, OpenCL and CUDA share when rendering loop kernels.

The scalar expressions come from the scalar table's rows (one source of truth per op);
a language differs only in attributes: its type names, how a math function is spelled for
a dtype, how helper functions are declared, its prelude. Subclasses add the loop
skeletons (OpenMP loops for C, grid-stride loops and work-group reductions for devices).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ..ops.scalar import get_scalar_op
from .loop_ir import LoopKernel
from .program import Program

MACROS = r"""
#define MLC_MAX(a, b) (((a) > (b) || (a) != (a)) ? (a) : (b))
#define MLC_MIN(a, b) (((a) < (b) || (a) != (a)) ? (a) : (b))
"""

# Helpers the table's expressions call, written once over REAL (float or double) and
# rendered per dtype: ``$fn`` is a math function, ``@`` the dtype's name suffix.
REAL_HELPERS = r"""
MLC_FN REAL mlc_floordiv@(REAL a, REAL b) {
    if (b == 0) return a / b;
    REAL mod = $fmod(a, b), div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
    if (div != 0) { REAL f = $floor(div); if (div - f > (REAL)0.5) f += 1; return f; }
    return $copysign((REAL)0, a / b);
}
MLC_FN REAL mlc_mod@(REAL a, REAL b) {
    if (b == 0) return $fmod(a, b);
    REAL mod = $fmod(a, b);
    if (mod != 0) { if ((b < 0) != (mod < 0)) mod += b; } else mod = $copysign((REAL)0, b);
    return mod;
}
MLC_FN REAL mlc_sigmoid@(REAL x) { REAL e = $exp(-$fabs(x)); return x >= 0 ? 1 / (1 + e) : e / (1 + e); }
MLC_FN REAL mlc_softplus@(REAL x) {
    if (x == 0) return (REAL)0.6931471805599453;
    return x > 0 ? x + $log1p($exp(-x)) : (x <= 0 ? $log1p($exp(x)) : x);
}
MLC_FN REAL mlc_round@(REAL x) { REAL r = $floor($fabs(x) + (REAL)0.5); return x > 0 ? r : (x < 0 ? -r : x * r); }
MLC_FN REAL mlc_psi@(REAL x) {  /* digamma: recurrence to y >= 12, asymptotic series, reflection below 1/2 */
    const REAL pi = (REAL)3.14159265358979323846;
    const int reflect = x < (REAL)0.5;
    REAL y = reflect ? 1 - x : x, shift = 0;
    while (y < 12) { shift -= 1 / y; y += 1; }
    const REAL w = 1 / (y * y);
    REAL r = $log(y) - (REAL)0.5 / y - w * ((REAL)1 / 12 - w * ((REAL)1 / 120 - w * ((REAL)1 / 252
             - w * ((REAL)1 / 240 - w * ((REAL)1 / 132))))) + shift;
    return reflect ? r - pi / $tan(pi * x) : r;
}
MLC_FN REAL mlc_tri_gamma@(REAL x) {  /* psi's derivative, the same way */
    const REAL pi = (REAL)3.14159265358979323846;
    const int reflect = x < (REAL)0.5;
    REAL y = reflect ? 1 - x : x, shift = 0;
    while (y < 12) { shift += 1 / (y * y); y += 1; }
    const REAL v = 1 / y, w = v * v;
    REAL r = v + w / 2 + v * w * ((REAL)1 / 6 - w * ((REAL)1 / 30 - w * ((REAL)1 / 42 - w * ((REAL)1 / 30
             - w * ((REAL)5 / 66 - w * ((REAL)691 / 2730 - w * ((REAL)7 / 6))))))) + shift;
    if (reflect) { const REAL s = pi / $sin(pi * x); r = s * s - r; }
    return r;
}
MLC_FN REAL mlc_erfinv@(REAL y) {  /* Giles' approximation, then Newton: on erf near 0, on erfc near ±1 */
    if (!(y > -1 && y < 1)) return y == 1 || y == -1 ? y / (REAL)0 : (y - y) / (y - y);
    const REAL a = $fabs(y);
    REAL w = -$log((1 - a) * (1 + a)), p;
    if (w < 5) {
        w -= (REAL)2.5;
        p = (REAL)2.81022636e-08; p = (REAL)3.43273939e-07 + p * w; p = (REAL)-3.5233877e-06 + p * w;
        p = (REAL)-4.39150654e-06 + p * w; p = (REAL)0.00021858087 + p * w; p = (REAL)-0.00125372503 + p * w;
        p = (REAL)-0.00417768164 + p * w; p = (REAL)0.246640727 + p * w; p = (REAL)1.50140941 + p * w;
    } else {
        w = $sqrt(w) - 3;
        p = (REAL)-0.000200214257; p = (REAL)0.000100950558 + p * w; p = (REAL)0.00134934322 + p * w;
        p = (REAL)-0.00367342844 + p * w; p = (REAL)0.00573950773 + p * w; p = (REAL)-0.0076224613 + p * w;
        p = (REAL)0.00943887047 + p * w; p = (REAL)1.00167406 + p * w; p = (REAL)2.83297682 + p * w;
    }
    REAL x = p * a;
    for (int k = 0; k < 3; k++) {  /* 1 - a is exact for a > 1/2: log erfc keeps the tail's digits */
        const REAL slope = (REAL)1.1283791670955126 * $exp(-x * x);
        if (a > (REAL)0.5) { const REAL e = $erfc(x); x += ($log(e) - $log(1 - a)) * e / slope; }
        else x -= ($erf(x) - a) / slope;
    }
    return $copysign(x, y);
}
MLC_FN REAL mlc_erfcinv@(REAL y) {  /* erfinv(1 - y) refined by Newton on erfc; the tail in log space */
    if (!(y > 0 && y < 2)) return y == 0 ? 1 / y : (y == 2 ? -1 / (y - 2) : (y - y) / (y - y));
    if (y >= (REAL)1e-6) {
        REAL x = mlc_erfinv@(1 - y);
        for (int k = 0; k < 2; k++) x += ($erfc(x) - y) / ((REAL)1.1283791670955126 * $exp(-x * x));
        return x;
    }
    REAL x = $sqrt(-$log(y)), ly = $log(y);
    for (int k = 0; k < 8; k++) {  /* log erfc(x) = log y: nearly quadratic, so Newton converges fast */
        const REAL e = $erfc(x);
        x += ($log(e) - ly) * e / ((REAL)1.1283791670955126 * $exp(-x * x));
    }
    return x;
}
MLC_FN REAL mlc_chi2sf@(REAL x, REAL k) {  /* Q(k/2, x/2): a series below k/2 + 1, else Lentz's continued fraction */
    const REAL a = k / 2, z = x / 2, tiny = (REAL)1e-30, tol = sizeof(REAL) == 4 ? (REAL)1e-7 : (REAL)1e-16;
    if (!(a >= 0 && z >= 0) || (a == 0 && z == 0) || (a - a != 0 && z - z != 0)) return (x - x) / (x - x) + k;
    if (z == 0 || a - a != 0) return 1;
    if (a == 0 || z - z != 0) return 0;
    const REAL front = $exp(a * $log(z) - z - $lgamma(a));
    if (z < a + 1) {
        REAL term = 1 / a, total = term, n = a;
        for (int i = 0; i < 100000 && $fabs(term) > $fabs(total) * tol; i++) { n += 1; term *= z / n; total += term; }
        return 1 - total * front;
    }
    REAL b = z + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
    for (int i = 1; i < 100000; i++) {
        const REAL an = -(REAL)i * ((REAL)i - a);
        b += 2;
        d = an * d + b; if ($fabs(d) < tiny) d = tiny;
        c = b + an / c; if ($fabs(c) < tiny) c = tiny;
        d = 1 / d;
        const REAL step = d * c;
        h *= step;
        if ($fabs(step - 1) < tol) break;
    }
    return front * h;
}
"""
INT_HELPERS = r"""
MLC_FN INT64 mlc_ifloordiv(INT64 a, INT64 b) {
    if (b == 0) return 0;
    if (b == -1) return (INT64)(0 - (UINT64)a);
    INT64 q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q;
}
MLC_FN INT64 mlc_imod(INT64 a, INT64 b) {
    if (b == 0 || b == -1) return 0;
    INT64 r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r;
}
MLC_FN INT64 mlc_ipow(INT64 a, INT64 b) {
    if (b < 0) return a == 1 ? 1 : (a == -1 ? (b % 2 ? -1 : 1) : 0);
    INT64 r = 1; while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r;
}
"""
_FUNCTION = re.compile(r"\$(\w+)")


def reduce_parts(op: str, acc_dtype: str, literal) -> tuple[str, str, str | None]:
    """``(initial value, combine template over {acc} and {v}, OpenMP reduction operator)``."""
    is_float = acc_dtype.startswith("float")
    if op == "add":
        return "0", "{acc} + ({v})", "+"
    if op == "mul":
        return "1", "{acc} * ({v})", "*"
    info = np.finfo(acc_dtype) if is_float else np.iinfo(acc_dtype)
    if op == "maximum":
        return ("(-INFINITY)" if is_float else literal(info.min, acc_dtype)), "MLC_MAX({acc}, ({v}))", None
    return ("INFINITY" if is_float else literal(info.max, acc_dtype)), "MLC_MIN({acc}, ({v}))", None


class CStyleRenderer:
    """The shared part of every C-family renderer. A subclass sets the attributes below and
    writes ``render(kernels) -> Program``."""

    language = "c"
    types: dict = {"bool": "unsigned char", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
                   "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
                   "uint64": "uint64_t", "float32": "float", "float64": "double"}
    index_type = "long"
    function_prefix = "static inline"
    float_suffix_math = True  # expf, not an overloaded exp, for float32

    # -- scalar expressions ------------------------------------------------------------
    def math(self, name: str, dtype: str) -> str:
        """A math function's name for arguments of ``dtype``."""
        if dtype == "float32" and (self.float_suffix_math or name.startswith("mlc_")):
            return name + "f"
        return name

    def spell(self, text: str, dtype: str) -> str:
        return _FUNCTION.sub(lambda m: self.math(m.group(1), dtype), text)

    def scalar_expression(self, name: str, args: Sequence[str], arg_dtypes: Sequence[str], out: str) -> str:
        """The expression for the table row ``name`` on the values ``args`` giving ``out``."""
        op = get_scalar_op(name)
        compute = op.compute_dtype(tuple(arg_dtypes), out)
        template = op.template(compute)
        if not template or compute not in self.types or out not in self.types:
            raise NotImplementedError(f"no {self.language} code for scalar op {name} on {compute}")
        if not name.startswith("cast_"):
            args = [a if dt == compute else f"(({self.types[compute]}){a})" for a, dt in zip(args, arg_dtypes)]
        fmt = {"t": self.types[compute], "o": self.types[out]}
        if op.nin is None:  # a variadic row folds left over its arguments
            expr = args[0]
            for extra in args[1:]:
                expr = template.format(expr, extra, **fmt)
        else:
            expr = template.format(*args, **fmt)
        return self.spell(expr, compute)

    def literal(self, value, dtype: str) -> str:
        if dtype in ("float32", "float64"):
            if np.isnan(value):
                return "NAN"
            if np.isinf(value):
                return "INFINITY" if value > 0 else "(-INFINITY)"
            return f"(({self.types[dtype]}){float(value)!r})"
        return f"(({self.types[dtype]}){int(value)})"

    def render_body(self, kernel: LoopKernel, load: Sequence[str]) -> tuple[list[str], str]:
        """Statements computing the kernel body from the input expressions ``load``, and the
        name of the result value."""
        lines, dtypes = [], []
        for j, (name, args, dtype) in enumerate(kernel.body):
            exprs, arg_dtypes = [], []
            for a in args:
                if a[0] == "i":
                    exprs.append(load[a[1]])
                    arg_dtypes.append(kernel.input_dtypes[a[1]])
                elif a[0] == "n":
                    exprs.append(f"v{a[1]}")
                    arg_dtypes.append(dtypes[a[1]])
                else:
                    exprs.append(self.literal(a[1], a[2]))
                    arg_dtypes.append(a[2])
            expr = self.scalar_expression(name, exprs, arg_dtypes, dtype)
            lines.append(f"const {self.types[dtype]} v{j} = {expr};")
            dtypes.append(dtype)
        return lines, f"v{len(kernel.body) - 1}"

    def supports_kernel(self, kernel: LoopKernel) -> bool:
        """Whether this language can compute ``kernel``."""
        try:
            self.render_body(kernel, ["x"] * len(kernel.input_dtypes))
        except (NotImplementedError, KeyError):
            return False
        return all(d in self.types for d in kernel.input_dtypes + (kernel.out_dtype, kernel.acc_dtype or "bool"))

    def supports(self, scalar_op, arg_dtypes: Sequence[str], out: str) -> bool:
        """Whether a scalar op on ``arg_dtypes`` giving ``out`` has an expression here."""
        compute = scalar_op.compute_dtype(tuple(arg_dtypes), out)
        parts = getattr(scalar_op, "nodes", None)
        if parts is not None:  # a composite: every part must be supported
            kernel = LoopKernel(tuple(arg_dtypes), (False,) * len(arg_dtypes),
                                tuple((o.name, a, d) for o, a, d in parts), out, 0)
            return self.supports_kernel(kernel)
        return bool(scalar_op.template(compute)) and compute in self.types and out in self.types

    # -- preludes ----------------------------------------------------------------------
    def helpers(self, real_dtypes: Sequence[str] = ("float32", "float64")) -> str:
        """The helper functions, for each floating dtype the language has."""
        parts = [MACROS]
        for dtype in real_dtypes:
            text = REAL_HELPERS.replace("REAL", self.types[dtype]).replace("@", "f" if dtype == "float32" else "")
            parts.append(self.spell(text, dtype))
        parts.append(INT_HELPERS.replace("UINT64", self.types["uint64"]).replace("INT64", self.types["int64"]))
        return "\n".join(parts).replace("MLC_FN", self.function_prefix)

    def render(self, kernels: Sequence[tuple[str, LoopKernel]]) -> Program:
        raise NotImplementedError

    # -- shared loop pieces ------------------------------------------------------------
    def buffer_args(self, k: LoopKernel, qualifier: str = "") -> tuple[list[str], list[tuple]]:
        """Parameter declarations of the input and output buffers, and their Program args."""
        decls = [f"{qualifier}const {self.types[d]}* in{i}" for i, d in enumerate(k.input_dtypes)]
        decls.append(f"{qualifier}{self.types[k.out_dtype]}* out")
        args = [("buffer", d) for d in k.input_dtypes] + [("buffer", k.out_dtype)]
        return decls, args
