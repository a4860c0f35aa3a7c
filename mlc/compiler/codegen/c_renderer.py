"""Render loop kernels as C. One C-style renderer; a backend (CUDA later) changes the
kernel prologue, the loop header and the math-function names, not the expression code.

Each elementwise kernel ``kN`` gets two entry points: ``kN_flat`` (every operand contiguous
or a single element: one vectorisable loop, OpenMP above a size threshold) and
``kN_strided`` (any strides and broadcasting: an outer loop over rows, an inner loop over
the last dim). A reduction kernel ``kN_reduce`` loops over the kept dims (in parallel) and
accumulates over the reduced ones. Shapes and strides (in elements) come as int64 arrays.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ops.scalar import Cast, ScalarOp
from ..types import upcast
from .loop_ir import LoopKernel

C_TYPES = {"bool": "unsigned char", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
           "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
           "float32": "float", "float64": "double"}

# Math functions with float/double versions in libm (and vector versions in glibc's libmvec).
MATH = {"exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
        "log1p": "log1p", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
        "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
        "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "erf": "erf", "erfc": "erfc",
        "floor": "floor", "ceil": "ceil", "trunc": "trunc", "round_half_to_even": "rint"}
VECTOR_MATH = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos",
               "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "pow")
INFIX = {"add": "+", "mul": "*", "sub": "-", "true_div": "/", "and_": "&", "or_": "|", "xor": "^",
         "eq": "==", "neq": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}
COMPARISONS = ("eq", "neq", "lt", "gt", "le", "ge")
OTHER = ("int_div", "mod", "pow", "maximum", "minimum", "neg", "abs", "sgn", "sqr", "reciprocal", "sigmoid",
         "softplus", "relu", "round_half_away_from_zero", "clip", "switch", "second", "identity", "isnan",
         "isinf", "invert")

PRELUDE = r"""
#include <math.h>
#include <stdint.h>
#define MLC_MAX(a, b) (((a) > (b) || (a) != (a)) ? (a) : (b))
#define MLC_MIN(a, b) (((a) < (b) || (a) != (a)) ? (a) : (b))
static inline double mlc_floordiv(double a, double b) {
    if (b == 0) return a / b;
    double mod = fmod(a, b), div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
    if (div != 0) { double f = floor(div); if (div - f > 0.5) f += 1.0; return f; }
    return copysign(0.0, a / b);
}
static inline float mlc_floordivf(float a, float b) { return (float)mlc_floordiv(a, b); }
static inline double mlc_mod(double a, double b) {
    if (b == 0) return fmod(a, b);
    double mod = fmod(a, b);
    if (mod != 0) { if ((b < 0) != (mod < 0)) mod += b; } else mod = copysign(0.0, b);
    return mod;
}
static inline float mlc_modf(float a, float b) {
    if (b == 0) return fmodf(a, b);
    float mod = fmodf(a, b);
    if (mod != 0) { if ((b < 0) != (mod < 0)) mod += b; } else mod = copysignf(0.0f, b);
    return mod;
}
static inline int64_t mlc_ifloordiv(int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int64_t)(0 - (uint64_t)a);
    int64_t q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q;
}
static inline int64_t mlc_imod(int64_t a, int64_t b) {
    if (b == 0 || b == -1) return 0;
    int64_t r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r;
}
static inline int64_t mlc_ipow(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : (a == -1 ? (b % 2 ? -1 : 1) : 0);
    int64_t r = 1; while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r;
}
static inline double mlc_sigmoid(double x) { double e = exp(-fabs(x)); return x >= 0 ? 1 / (1 + e) : e / (1 + e); }
static inline float mlc_sigmoidf(float x) { float e = expf(-fabsf(x)); return x >= 0 ? 1 / (1 + e) : e / (1 + e); }
static inline double mlc_softplus(double x) {
    if (x == 0) return 0.6931471805599453;
    return x > 0 ? x + log1p(exp(-x)) : (x <= 0 ? log1p(exp(x)) : x);
}
static inline float mlc_softplusf(float x) {
    if (x == 0) return 0.6931472f;
    return x > 0 ? x + log1pf(expf(-x)) : (x <= 0 ? log1pf(expf(x)) : x);
}
"""


def vector_declarations() -> str:
    """Declare libm functions as having SIMD versions, so loops over them vectorise (libmvec)."""
    lines = []
    for name in VECTOR_MATH:
        args = "double, double" if name == "pow" else "double"
        fargs = "float, float" if name == "pow" else "float"
        lines += ["#pragma omp declare simd notinbranch", f"double {name}({args});",
                  "#pragma omp declare simd notinbranch", f"float {name}f({fargs});"]
    return "\n".join(lines) + "\n"


def has_c_code(op: ScalarOp) -> bool:
    from ..ops.fused import Composite
    if isinstance(op, Composite):
        return all(has_c_code(o) for o, _, _ in op.nodes)
    return isinstance(op, Cast) or op.name in MATH or op.name in INFIX or op.name in OTHER


def _compute_dtype(op: ScalarOp, arg_dtypes: Sequence[str], out: str) -> str:
    if op.name in COMPARISONS:
        return upcast(*arg_dtypes)
    return out


def scalar_expression(op: ScalarOp, args: Sequence[str], arg_dtypes: Sequence[str], out: str) -> str:
    """The C expression for ``op`` applied to the C values ``args``, giving dtype ``out``."""
    ctype = C_TYPES[out]
    if isinstance(op, Cast):
        (a,) = args
        return f"(({a}) != 0)" if out == "bool" else f"(({ctype})({a}))"
    name = op.name
    compute = _compute_dtype(op, arg_dtypes, out)
    cc = C_TYPES[compute]
    is_float = compute in ("float32", "float64")
    f = "f" if compute == "float32" else ""
    cast = [f"(({cc}){a})" for a in args]
    if name == "switch":
        return f"(({args[0]}) ? (({ctype}){args[1]}) : (({ctype}){args[2]}))"
    if name == "second":
        return f"(({ctype}){args[1]})"
    if name in INFIX:
        return "(" + f" {INFIX[name]} ".join(cast) + ")"
    if name in MATH:
        return f"{MATH[name]}{f}({cast[0]})"
    a = cast[0]
    b = cast[1] if len(cast) > 1 else None
    if name == "int_div":
        return f"mlc_floordiv{f}({a}, {b})" if is_float else f"(({cc})mlc_ifloordiv({a}, {b}))"
    if name == "mod":
        return f"mlc_mod{f}({a}, {b})" if is_float else f"(({cc})mlc_imod({a}, {b}))"
    if name == "pow":
        return f"pow{f}({a}, {b})" if is_float else f"(({cc})mlc_ipow({a}, {b}))"
    if name in ("maximum", "minimum"):
        return f"MLC_{'MAX' if name == 'maximum' else 'MIN'}({a}, {b})"
    if name == "neg":
        return f"(-{a})"
    if name == "abs":
        return f"fabs{f}({a})" if is_float else f"(({a}) < 0 ? -({a}) : ({a}))"
    if name == "sgn":
        if is_float:
            return f"(({a}) > 0 ? ({cc})1 : (({a}) < 0 ? ({cc})-1 : ({a})))"
        return f"(({cc})((({a}) > 0) - (({a}) < 0)))"
    if name == "sqr":
        return f"({a} * {a})"
    if name == "reciprocal":
        return f"(({cc})1 / {a})"
    if name in ("sigmoid", "softplus"):
        return f"mlc_{name}{f}({a})"
    if name == "relu":
        return f"MLC_MAX({a}, ({cc})0)"
    if name == "round_half_away_from_zero":
        return f"(({a}) > 0 ? floor{f}(fabs{f}({a}) + ({cc})0.5) : (({a}) < 0 ? -floor{f}(fabs{f}({a}) + ({cc})0.5) " \
               f": ({a}) * floor{f}(fabs{f}({a}) + ({cc})0.5)))"
    if name == "clip":
        return f"MLC_MIN(MLC_MAX({a}, {b}), {cast[2]})"
    if name == "identity":
        return a
    if name == "isnan":
        return f"({a} != {a})" if is_float else "0"
    if name == "isinf":
        return f"({a} == INFINITY || {a} == -INFINITY)" if is_float else "0"
    if name == "invert":
        return f"(!{args[0]})" if out == "bool" else f"(({cc})~{a})"
    raise NotImplementedError(f"no C code for scalar op {name}")


def _literal(value, dtype: str) -> str:
    if dtype in ("float32", "float64"):
        if np.isnan(value):
            return "NAN"
        if np.isinf(value):
            return "INFINITY" if value > 0 else "(-INFINITY)"
        return f"(({C_TYPES[dtype]}){float(value)!r})"
    return f"(({C_TYPES[dtype]}){int(value)})"


def render_body(kernel: LoopKernel, load: Sequence[str]) -> tuple[list[str], str]:
    """C statements computing the kernel body from the input expressions ``load``; returns
    the statements and the name of the result value."""
    lines, dtypes = [], []
    for j, (op, args, dtype) in enumerate(kernel.body):
        exprs, arg_dtypes = [], []
        for a in args:
            if a[0] == "i":
                exprs.append(load[a[1]])
                arg_dtypes.append(kernel.input_dtypes[a[1]])
            elif a[0] == "n":
                exprs.append(f"v{a[1]}")
                arg_dtypes.append(dtypes[a[1]])
            else:
                exprs.append(_literal(a[1], a[2]))
                arg_dtypes.append(a[2])
        lines.append(f"const {C_TYPES[dtype]} v{j} = {scalar_expression(op, exprs, arg_dtypes, dtype)};")
        dtypes.append(dtype)
    return lines, f"v{len(kernel.body) - 1}"


class CRenderer:
    """Renders loop kernels to C functions taking integer pointers, shapes and strides."""

    # Two loops, not one with an if() clause: GCC's serial fallback of ``parallel for simd
    # if(...)`` loses the vector math calls.
    parallel_for = "#pragma omp parallel for simd schedule(static)"
    serial_for = "#pragma omp simd"
    parallel_rows = "#pragma omp parallel for schedule(static)"

    def branch(self, rows_loop: str) -> str:
        """The loop over rows, run by OpenMP threads only when the work is large."""
        return (f"if (outer * inner > {self.threshold}) {{\n{self.parallel_rows}\n{rows_loop}\n    }} else {{\n"
                f"{rows_loop}\n    }}")

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    def elementwise(self, name: str, k: LoopKernel) -> str:
        nin = len(k.input_dtypes)
        ptr_args = ", ".join([f"void* p{i}" for i in range(nin)] + ["void* pout"])
        decls = [f"const {C_TYPES[d]}* in{i} = (const {C_TYPES[d]}*)p{i};" for i, d in enumerate(k.input_dtypes)]
        decls.append(f"{C_TYPES[k.out_dtype]}* out = ({C_TYPES[k.out_dtype]}*)pout;")
        flat_body, res = render_body(k, [f"in{i}[0]" if s else f"in{i}[i]" for i, s in enumerate(k.input_scalar)])
        strided_body, res2 = render_body(k, [f"in{i}[o{i} + j * s{i}]" for i in range(nin)])
        names = [f"{i}" for i in range(nin)] + ["out"]
        offsets = "\n            ".join(f"long o{n} = 0;" for n in names)
        steps = "\n                ".join(f"o{n} += idx * st[{k_}L * ndim + d];" for k_, n in enumerate(names))
        inner = "\n            ".join(f"const long s{n} = st[{k_}L * ndim + ndim - 1];" for k_, n in enumerate(names))
        rows_loop = f"""    for (long r = 0; r < outer; r++) {{
        {offsets}
        long rem = r;
        for (int d = ndim - 2; d >= 0; d--) {{
            long idx = rem % shape[d]; rem /= shape[d];
            {steps}
        }}
        {inner}
        for (long j = 0; j < inner; j++) {{
            {' '.join(strided_body)}
            out[oout + j * sout] = {res2};
        }}
    }}"""
        return f"""
void {name}_flat(long n, {ptr_args}) {{
    {' '.join(decls)}
    if (n > {self.threshold}) {{
        {self.parallel_for}
        for (long i = 0; i < n; i++) {{
            {' '.join(flat_body)}
            out[i] = {res};
        }}
    }} else {{
        {self.serial_for}
        for (long i = 0; i < n; i++) {{
            {' '.join(flat_body)}
            out[i] = {res};
        }}
    }}
}}

void {name}_strided(int ndim, void* pshape, void* pstrides, {ptr_args}) {{
    {' '.join(decls)}
    const long* shape = (const long*)pshape;
    const long* st = (const long*)pstrides;
    long inner = shape[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    {self.branch(rows_loop)}
}}
"""

    def reduction(self, name: str, k: LoopKernel) -> str:
        nin = len(k.input_dtypes)
        acc_t, out_t = C_TYPES[k.acc_dtype], C_TYPES[k.out_dtype]
        ptr_args = ", ".join([f"void* p{i}" for i in range(nin)] + ["void* pout"])
        decls = [f"const {C_TYPES[d]}* in{i} = (const {C_TYPES[d]}*)p{i};" for i, d in enumerate(k.input_dtypes)]
        body, res = render_body(k, [f"in{i}[a{i}]" for i in range(nin)])
        init, combine, simd = _reduce_parts(k.reduce_op, k.acc_dtype)
        names = [str(i) for i in range(nin)]
        koff = "\n        ".join(f"long b{n} = 0;" for n in names + ["out"])
        kzero = " ".join(f"const long b{n} = 0;" for n in names)
        kstep = "\n            ".join(f"b{n} += idx * kst[{j}L * nk + d];" for j, n in enumerate(names + ["out"]))
        rstart = " ".join(f"long a{n} = b{n};" for n in names)
        rstep = " ".join(f"a{n} += idx * rst[{j}L * nr + d];" for j, n in enumerate(names))
        rsingle = " ".join(f"const long a{n} = b{n} + q * rst[{j}L];" for j, n in enumerate(names))
        runit = " ".join(f"const long a{n} = b{n} + q;" for n in names)
        unit_test = " && ".join(f"rst[{j}L] == 1" for j in range(nin)) or "1"
        simd_pragma = f"#pragma omp simd reduction({simd}:acc)" if simd else ""
        parallel_pragma = f"#pragma omp parallel for simd schedule(static) reduction({simd or '+'}:acc)"
        accumulate = f"{' '.join(body)} acc = {combine.format(acc='acc', v=res)};"

        def loop(pragma: str, offsets: str) -> str:
            return f"""{{
            {pragma}
            for (long q = 0; q < inner; q++) {{ {offsets} {accumulate} }}
        }}"""
        odometer = (f"{rstart} long r2 = q; for (int d = nr - 1; d >= 0; d--) "
                    f"{{ long idx = r2 % rshape[d]; r2 /= rshape[d]; {rstep} }}")
        rows_loop = f"""    for (long o = 0; o < outer; o++) {{
        {koff}
        long rem = o;
        for (int d = nk - 1; d >= 0; d--) {{
            long idx = rem % kshape[d]; rem /= kshape[d];
            {kstep}
        }}
        {acc_t} acc = {init};
        if (nr == 1 && ({unit_test})) {loop(simd_pragma, runit)}
        else if (nr == 1) {loop(simd_pragma, rsingle)}
        else {loop("", odometer)}
        out[bout] = ({out_t})acc;
    }}"""
        return f"""
void {name}_reduce(int nk, int nr, void* pkshape, void* prshape, void* pkst, void* prst, {ptr_args}) {{
    {' '.join(decls)}
    {out_t}* out = ({out_t}*)pout;
    const long* kshape = (const long*)pkshape; const long* rshape = (const long*)prshape;
    const long* kst = (const long*)pkst; const long* rst = (const long*)prst;
    long outer = 1, inner = 1;
    for (int d = 0; d < nk; d++) outer *= kshape[d];
    for (int d = 0; d < nr; d++) inner *= rshape[d];
    if (outer == 1 && nr == 1 && inner > {self.threshold} && {int(bool(simd))}) {{
        /* one long reduction (e.g. a full sum): split it across threads */
        {kzero}
        {acc_t} acc = {init};
        if ({unit_test}) {loop(parallel_pragma, runit)}
        else {loop(parallel_pragma, rsingle)}
        out[0] = ({out_t})acc;
        return;
    }}
    {self.branch(rows_loop)}
}}
"""

    def module(self, kernels: Sequence[tuple[str, LoopKernel]], vector_math: bool) -> tuple[str, str]:
        """``(C source, cffi declarations)`` of one translation unit holding ``kernels``."""
        parts = [PRELUDE, vector_declarations() if vector_math else ""]
        cdefs = []
        for name, k in kernels:
            ptrs = ", ".join(["void*"] * (len(k.input_dtypes) + 1))
            if k.reduce_op is None:
                parts.append(self.elementwise(name, k))
                cdefs += [f"void {name}_flat(long, {ptrs});", f"void {name}_strided(int, void*, void*, {ptrs});"]
            else:
                parts.append(self.reduction(name, k))
                cdefs.append(f"void {name}_reduce(int, int, void*, void*, void*, void*, {ptrs});")
        return "\n".join(parts), "\n".join(cdefs)


def _reduce_parts(op: str, acc_dtype: str) -> tuple[str, str, str | None]:
    is_float = acc_dtype.startswith("float")
    if op == "add":
        return "0", "{acc} + ({v})", "+"
    if op == "mul":
        return "1", "{acc} * ({v})", "*"
    info = np.finfo(acc_dtype) if is_float else np.iinfo(acc_dtype)
    if op == "maximum":
        init = "(-INFINITY)" if is_float else _literal(info.min, acc_dtype)
        return init, "MLC_MAX({acc}, ({v}))", None
    init = "INFINITY" if is_float else _literal(info.max, acc_dtype)
    return init, "MLC_MIN({acc}, ({v}))", None
