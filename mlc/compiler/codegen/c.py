"""``CRenderer``: loop kernels as C functions with OpenMP loops and glibc's vector math.

Each elementwise kernel ``kN`` gets two entry points: ``kN_flat`` (every operand contiguous
or a single element: one vectorisable loop, OpenMP above a size threshold) and
``kN_strided`` (any strides and broadcasting: an outer loop over rows, an inner loop over
the last dim; a row whose operands are all contiguous runs the flat loop, ``kN_run``, with
unit-stride vector loads and vector math, and other rows run it too, on blocks of their
operands copied to the stack; it is a unit of its own, built when a call first needs it).
A 0-d kernel gets ``kN_flat`` alone, a plain loop. A reduction kernel ``kN_reduce`` loops over the kept dims (in parallel; a full
reduction has no such loop) and accumulates over the reduced ones. Shapes and strides (in elements) come as int64 arrays;
buffers come as ``void*`` (what cffi passes from any array). The C compiler's time is most
of a first compile: code that cannot run is not written.
"""
from __future__ import annotations

from typing import Sequence

from .cstyle import CStyleRenderer, reduce_parts
from .loop_ir import LoopKernel
from .program import EntryPoint, Program

VECTOR_MATH = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos",
               "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "pow")


# A thread's share of a flat loop run by an OpenMP team: whole blocks of 64 elements (vectors
# and cache lines), so every thread runs the one vectorised loop, ``kN_run``, on its part.
THREAD_SHARE = """#ifdef _OPENMP
#include <omp.h>
#endif
static inline void mlc_thread_share(long n, long* lo, long* hi) {
#ifdef _OPENMP
    const long threads = omp_get_num_threads(), t = omp_get_thread_num();
#else
    const long threads = 1, t = 0;
#endif
    const long step = ((n + threads - 1) / threads + 63) & ~63L;
    *lo = t * step < n ? t * step : n;
    *hi = *lo + step < n ? *lo + step : n;
}"""


GATHER_BLOCK = 256  # elements of a strided row copied to the stack at a time

# GCC targets 256-bit vectors on AVX-512 machines unless told otherwise; a loop that calls vector
# math then calls libmvec's 8-lane functions, where the 16-lane ones took half the time (tanh of
# 128K floats: 121 against 64 us, the same ulps). Plain arithmetic keeps GCC's choice.
WIDE_MATH = ('#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)\n#pragma GCC push_options\n'
             '#pragma GCC target("prefer-vector-width=512")\n#endif\n')
END_WIDE_MATH = '#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)\n#pragma GCC pop_options\n#endif\n'


def vector_declarations() -> str:
    """Declare libm functions as having SIMD versions, so loops over them vectorise (libmvec)."""
    lines = []
    for name in VECTOR_MATH:
        args = "double, double" if name == "pow" else "double"
        fargs = "float, float" if name == "pow" else "float"
        lines += ["#pragma omp declare simd notinbranch", f"double {name}({args});",
                  "#pragma omp declare simd notinbranch", f"float {name}f({fargs});"]
    return "\n".join(lines) + "\n"


class CRenderer(CStyleRenderer):
    """C for the CPU backend. ``threshold``: the smallest loop run by OpenMP threads;
    ``vector_math``: whether the toolchain links libmvec."""

    language = "c"
    serial_for = "#pragma omp simd"
    parallel_rows = "#pragma omp parallel for schedule(static)"

    def __init__(self, threshold: int = 500_000, vector_math: bool = False) -> None:
        self.threshold, self.vector_math = threshold, vector_math

    def branch(self, rows_loop: str) -> str:
        """The loop over rows, run by OpenMP threads only when the work is large: one loop
        with an if() clause (no simd here to lose), so the C compiler builds it once."""
        return f"{self.parallel_rows} if (outer * inner > {self.threshold})\n{rows_loop}"

    def _decls(self, k: LoopKernel) -> tuple[str, str]:
        nin = len(k.input_dtypes)
        ptr_args = ", ".join([f"void* p{i}" for i in range(nin)] + ["void* pout"])
        decls = [f"const {self.types[d]}* in{i} = (const {self.types[d]}*)p{i};" for i, d in enumerate(k.input_dtypes)]
        return ptr_args, " ".join(decls)

    def elementwise(self, name: str, k: LoopKernel) -> tuple[str, str, str]:
        """``(kN_run, kN_flat, kN_strided)``: the vector loop both entry points run, and each
        entry point's C (a 0-d kernel has neither the loop nor the strided entry)."""
        nin = len(k.input_dtypes)
        ptr_args, decls = self._decls(k)
        out_t = self.types[k.out_dtype]
        decls += f" {out_t}* out = ({out_t}*)pout;"
        flat_body, res = self.render_body(k, [f"in{i}[0]" if s else f"in{i}[i]" for i, s in enumerate(k.input_scalar)])
        flat_loop = f"""for (long i = 0; i < n; i++) {{
            {' '.join(flat_body)}
            out[i] = {res};
        }}"""
        if k.ndim == 0:  # one element, and always contiguous: no threads, vectors or strides to build
            return "", f"""
void {name}_flat(long n, {ptr_args}) {{
    {decls}
    {flat_loop}
}}
""", ""
        # Other rows (transposed, strided, broadcast operands) are copied in blocks to the
        # stack and run by the same vector loop: vector math for them too, and no second
        # loop body for the C compiler to build.
        gathers = "\n            ".join(
            f"{self.types[d]} g{i}[{GATHER_BLOCK}]; const {self.types[d]}* q{i} = in{i} + o{i} + j0 * s{i};\n"
            f"            if (s{i} != 1) {{\n                #pragma omp simd\n"
            f"                for (long j = 0; j < m; j++) g{i}[j] = q{i}[j * s{i}];\n                q{i} = g{i};\n            }}"
            for i, (d, scalar) in enumerate(zip(k.input_dtypes, k.input_scalar)) if not scalar)
        gathered_args = ", ".join(f"in{i}" if scalar else f"q{i}" for i, scalar in enumerate(k.input_scalar))
        names = [f"{i}" for i in range(nin)] + ["out"]
        offsets = "\n            ".join(f"long o{n} = 0;" for n in names)
        steps = "\n                ".join(f"o{n} += idx * st[{k_}L * ndim + d];" for k_, n in enumerate(names))
        inner = "\n            ".join(f"const long s{n} = st[{k_}L * ndim + ndim - 1];" for k_, n in enumerate(names))
        # A row whose operands are all contiguous (a slice's rows, a bias added to each row)
        # runs the flat loop: unit-stride vector loads and vector math calls, not gathers.
        unit = " && ".join(f"s{n} == 1" for n, s in zip(names, list(k.input_scalar) + [False]) if not s)
        row_args = ", ".join(f"in{i} + o{i}" for i in range(nin))
        chunk_args = ", ".join(f"in{i}" if scalar else f"in{i} + lo" for i, scalar in enumerate(k.input_scalar))
        run_args = ", ".join([f"const {self.types[d]}* in{i}" for i, d in enumerate(k.input_dtypes)] + [f"{out_t}* out"])
        # Rows where some operands are constant (a per-channel bias added over an image's
        # pixels: stride 0) and the others contiguous: those read once, the rest as vectors.
        row_constant = k.input_row_constant or (False,) * nin
        constant_rows, constant_run = "", ""
        if any(row_constant):
            body_c, res_c = self.render_body(
                k, [f"in{i}[0]" if s or c else f"in{i}[i]" for i, (s, c) in enumerate(zip(k.input_scalar, row_constant))])
            fits = [f"s{i} == 0" if c else f"s{i} == 1" for i, (s, c) in enumerate(zip(k.input_scalar, row_constant))
                    if not s] + ["sout == 1"]
            constant_rows = f"""
        if ({" && ".join(fits)}) {{
            {name}_constants_run(inner, {row_args}, out + oout);
            continue;
        }}"""
            constant_run = f"""
__attribute__((noinline)) static void {name}_constants_run(long n, {run_args}) {{
    {self.serial_for}
    for (long i = 0; i < n; i++) {{
        {' '.join(body_c)}
        out[i] = {res_c};
    }}
}}"""
        rows_loop = f"""    for (long r = 0; r < outer; r++) {{
        {offsets}
        long rem = r;
        for (int d = ndim - 2; d >= 0; d--) {{
            long idx = rem % shape[d]; rem /= shape[d];
            {steps}
        }}
        {inner}
        if ({unit}) {{
            {name}_run(inner, {row_args}, out + oout);
            continue;
        }}{constant_rows}
        for (long j0 = 0; j0 < inner; j0 += {GATHER_BLOCK}) {{
            const long m = inner - j0 < {GATHER_BLOCK} ? inner - j0 : {GATHER_BLOCK};
            {gathers}
            {out_t} gout[{GATHER_BLOCK}];
            {out_t}* qout = sout == 1 ? out + oout + j0 : gout;
            {name}_run(m, {gathered_args}, qout);
            if (sout != 1) for (long j = 0; j < m; j++) out[oout + (j0 + j) * sout] = gout[j];
        }}
    }}"""
        run = f"""
__attribute__((noinline)) static void {name}_run(long n, {run_args}) {{
    {self.serial_for}
    {flat_loop}
}}
"""
        return run, f"""
void {name}_flat(long n, {ptr_args}) {{
    {decls}
    if (n <= {self.threshold}) {{
        {name}_run(n, {", ".join(f"in{i}" for i in range(nin))}, out);
        return;
    }}
    #pragma omp parallel
    {{
        long lo, hi;
        mlc_thread_share(n, &lo, &hi);
        if (hi > lo) {name}_run(hi - lo, {chunk_args}, out + lo);
    }}
}}
""", constant_run + f"""

void {name}_strided(int ndim, void* pshape, void* pstrides, {ptr_args}) {{
    {decls}
    const long* shape = (const long*)pshape;
    const long* st = (const long*)pstrides;
    long inner = shape[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    {self.branch(rows_loop)}
}}
"""

    def reduction(self, name: str, k: LoopKernel) -> str:
        nin = len(k.input_dtypes)
        acc_t, out_t = self.types[k.acc_dtype], self.types[k.out_dtype]
        ptr_args, decls = self._decls(k)
        body, res = self.render_body(k, [f"in{i}[a{i}]" for i in range(nin)])
        init, combine, simd = reduce_parts(k.reduce_op, k.acc_dtype, self.literal)
        names = [str(i) for i in range(nin)]
        koff = "\n        ".join(f"long b{n} = 0;" for n in names + ["out"])
        kzero = " ".join(f"const long b{n} = 0;" for n in names)
        kstep = "\n            ".join(f"b{n} += idx * kst[{j}L * nk + d];" for j, n in enumerate(names + ["out"]))
        rstart = " ".join(f"long a{n} = b{n};" for n in names)
        rstep = " ".join(f"a{n} += idx * rst[{j}L * nr + d];" for j, n in enumerate(names))
        rsingle = " ".join(f"const long a{n} = b{n} + q * rst[{j}L];" for j, n in enumerate(names))
        runit = " ".join(f"const long a{n} = b{n} + q;" for n in names)  # the split full reduction's offsets
        unit_test = " && ".join(f"rst[{j}L] == 1" for j in range(nin)) or "1"
        simd_pragma = f"#pragma omp simd reduction({simd}:acc)" if simd else ""
        parallel_pragma = f"#pragma omp parallel for simd schedule(static) reduction({simd or '+'}:acc)"
        parallel_blocks = "#pragma omp parallel for schedule(static) reduction(+:acc)"
        accumulate = f"{' '.join(body)} acc = {combine.format(acc='acc', v=res)};"

        def loop(pragma: str, offsets: str, length: str = "inner") -> str:
            return f"""{{
            {pragma}
            for (long q = 0; q < {length}; q++) {{ {offsets} {accumulate} }}
        }}"""

        float_blocks = k.reduce_op == "add" and k.acc_dtype == "float64" and k.out_dtype == "float32"

        def blocked_sum(length: str, at: str, pragma: str = "") -> str:
            """float32 sums: blocks of 256 summed in float32 vectors (twice the lanes of double),
            each block's sum added in double: as accurate as one double accumulator to about an
            ulp. Whole blocks get a loop of constant length (GCC vectorizes it better); ``pragma``
            shares the blocks among threads."""
            part_step = f"{' '.join(body)} part += {res};"
            return f"""{{
            const long blocks = ({length} + 255) / 256;
            {pragma}
            for (long blk = 0; blk < blocks; blk++) {{
                const long q0 = blk * 256;
                {out_t} part = 0;
                if (q0 + 256 <= {length}) {{
                    #pragma omp simd reduction(+:part)
                    for (long q = q0; q < q0 + 256; q++) {{ {at} {part_step} }}
                }} else {{
                    #pragma omp simd reduction(+:part)
                    for (long q = q0; q < {length}; q++) {{ {at} {part_step} }}
                }}
                acc += part;
            }}
        }}"""

        def contiguous_run(length: str, base: str) -> str:
            """Accumulates ``length`` values that follow each other from offsets ``{base}{n}``."""
            at = " ".join(f"const long a{n} = {base}{n} + q;" for n in names)
            return blocked_sum(length, at) if float_blocks else loop(simd_pragma, at, length)
        # Two reduced axes (a batch and a spatial axis, as batch normalization reduces): nested
        # loops instead of an index computed per element, the inner one a contiguous run where it is.
        rdouble = " ".join(f"const long a{n} = b{n} + q0 * rst[{2 * j}L] + q1 * rst[{2 * j + 1}L];"
                           for j, n in enumerate(names))
        run_starts = " ".join(f"const long c{n} = b{n} + r0 * rst[{2 * j}L];" for j, n in enumerate(names))
        inner_unit = " && ".join(f"rst[{2 * j + 1}L] == 1" for j in range(nin)) or "1"
        two_axes = f"""{{
            if ({inner_unit}) for (long r0 = 0; r0 < rshape[0]; r0++) {{
                {run_starts}
                {contiguous_run("rshape[1]", "c")}
            }}
            else for (long q0 = 0; q0 < rshape[0]; q0++) {{
                {simd_pragma}
                for (long q1 = 0; q1 < rshape[1]; q1++) {{ {rdouble} {accumulate} }}
            }}
        }}"""
        # Only a kernel reducing some but not all of two or more axes can meet it: the others skip the C.
        two_axes_branch = f"else if (nr == 2) {two_axes}" if 2 <= len(k.reduce_axes) < k.ndim else ""
        odometer = (f"{rstart} long r2 = q; for (int d = nr - 1; d >= 0; d--) "
                    f"{{ long idx = r2 % rshape[d]; r2 /= rshape[d]; {rstep} }}")
        one_row = f"""{acc_t} acc = {init};
        if (nr == 1 && ({unit_test})) {contiguous_run("inner", "b")}
        else if (nr == 1) {loop(simd_pragma, rsingle)}
        {two_axes_branch}
        {f'else {loop("", odometer)}' if len(k.reduce_axes) > 1 else ""}
        out[bout] = ({out_t})acc;"""
        rows_loop = f"""    for (long o = 0; o < outer; o++) {{
        {koff}
        long rem = o;
        for (int d = nk - 1; d >= 0; d--) {{
            long idx = rem % kshape[d]; rem /= kshape[d];
            {kstep}
        }}
        {one_row}
    }}"""
        # A full reduction (a sum to a scalar) has one row: no loop over rows to build
        rows = f"{{\n        {koff}\n        {one_row}\n    }}" if len(k.reduce_axes) == k.ndim else self.branch(rows_loop)
        # Summing down the rows of contiguous columns (a bias gradient, sum(axis=0)): row by row
        # over blocks of columns, so memory is read in order instead of a column at a time.
        kunit = " && ".join(f"kst[{j}L] == 1" for j in range(nin + 1))
        cstart = " ".join(f"const long a{n} = o + q * rst[{j}L];" for j, n in enumerate(names))
        column_step = f"{' '.join(body)} accs[o - c0] = {combine.format(acc='accs[o - c0]', v=res)};"
        column_block = f"""for (long c0 = 0; c0 < outer; c0 += 256) {{
            const long c1 = c0 + 256 < outer ? c0 + 256 : outer;
            {acc_t} accs[256];
            for (long o = c0; o < c1; o++) accs[o - c0] = {init};
            for (long q = 0; q < inner; q++) {{
                {self.serial_for}
                for (long o = c0; o < c1; o++) {{ {cstart} {column_step} }}
            }}
            for (long o = c0; o < c1; o++) out[o] = ({out_t})accs[o - c0];
        }}"""
        # One long contiguous reduction (a full sum, or a row sum of one row) split across
        # threads. Kernels that keep the last axis meet it only for a single column: they skip the C.
        # From a quarter of the elementwise threshold: it writes one number, not an array that
        # the next product would pull across the cores, and its input (a weight matrix the
        # split update just wrote) lies half in each core's cache.
        split = "" if not simd or k.ndim - 1 not in k.reduce_axes else f"""if (outer == 1 && nr == 1 && inner > {self.threshold // 4} && {unit_test}) {{
        {kzero}
        {acc_t} acc = {init};
        {blocked_sum("inner", runit, parallel_blocks) if float_blocks else loop(parallel_pragma, runit)}
        out[0] = ({out_t})acc;
        return;
    }}"""
        # Only kernels that keep the last axis can meet this layout: the others skip the C (and its compile time).
        keeps_last = k.ndim - 1 not in k.reduce_axes and len(k.reduce_axes) < k.ndim
        columns = "" if not keeps_last else f"""if (nk == 1 && nr == 1 && outer > 1 && inner > 1 && {kunit} && rst[0] != 1) {{
        {self.parallel_rows} if (outer * inner > {self.threshold})
        {column_block}
        return;
    }}"""
        return f"""
void {name}_reduce(int nk, int nr, void* pkshape, void* prshape, void* pkst, void* prst, {ptr_args}) {{
    {decls}
    {out_t}* out = ({out_t}*)pout;
    const long* kshape = (const long*)pkshape; const long* rshape = (const long*)prshape;
    const long* kst = (const long*)pkst; const long* rst = (const long*)prst;
    long outer = 1, inner = 1;
    for (int d = 0; d < nk; d++) outer *= kshape[d];
    for (int d = 0; d < nr; d++) inner *= rshape[d];
    {split}
    {columns}
    {rows}
}}
"""

    def _wide_math(self, source: str) -> str:
        """``source`` built for 512-bit vectors where it calls vector math (see ``WIDE_MATH``)."""
        calls = self.vector_math and any(f"{name}f(" in source or f"{name}(" in source for name in VECTOR_MATH)
        return f"{WIDE_MATH}{source}{END_WIDE_MATH}" if calls and source else source

    def render(self, kernels: Sequence[tuple[str, LoopKernel]]) -> Program:
        """One program holding ``kernels``; its ``units`` hold one kernel each (the header
        and that kernel), so a toolchain can cache and build each kernel on its own, and any
        units concatenated still compile (the header is written under an include guard).
        The strided entries are ``deferred`` units: most functions never call one, and they
        are half of the C compiler's time on an elementwise kernel."""
        header = "\n".join(["#ifndef MLC_KERNEL_HEADER\n#define MLC_KERNEL_HEADER\n#include <math.h>\n#include <stdint.h>",
                            THREAD_SHARE, self.helpers(), vector_declarations() if self.vector_math else "", "#endif"])
        bodies, entries, units, deferred = [], [], [], []
        for name, k in kernels:
            buffers = tuple(("buffer", d) for d in k.input_dtypes + (k.out_dtype,))
            run, strided = "", ""
            if k.reduce_op is None:
                run, body, strided = self.elementwise(name, k)
                own = (EntryPoint(f"{name}_flat", (("int", "long"),) + buffers),)
            else:
                body = self.reduction(name, k)
                own = (EntryPoint(f"{name}_reduce", (("int", "int"), ("int", "int")) + (("shape", "int64"),) * 4
                                  + buffers),)
            run, body, strided = (self._wide_math(part) for part in (run, body, strided))
            bodies += [run, body]
            entries += own
            units.append(Program("c", f"{header}\n{run}{body}", own))
            if strided:
                later = (EntryPoint(f"{name}_strided", (("int", "int"), ("shape", "int64"), ("shape", "int64"))
                                    + buffers),)
                bodies.append(strided)
                entries += later
                deferred.append(Program("c", f"{header}\n{run}{strided}", later))
        return Program("c", "\n".join([header] + bodies), tuple(entries), tuple(units), tuple(deferred))
