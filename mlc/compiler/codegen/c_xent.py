"""C kernels for softmax, log-softmax and the softmax crossentropy on integer labels, forward
and gradient, over the rows of a matrix (the last axis), one row per OpenMP iteration. The forward writes the softmax it computes on the way (the gradient's
input), so the row is read twice (its maximum, then the exponentials) and written once. A
label outside ``[0, k)`` stops the kernel before it writes anything and is reported through
``bad`` (its row, else -1), so the caller can raise NumPy ``perform``'s error."""
from __future__ import annotations

from .c import vector_declarations
from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
PARALLEL = "if (n * k > 200000)"  # below this the threads cost more than they save
CHUNK = 2048  # elements of rows exponentiated together: in the cache, and one long vector loop when rows are short


def _shifted_exp(dtype: str, f: str) -> str:
    """``shifted_exp_<dtype>(rows, k, z, e, m, s)``: each row's maximum into ``m``,
    ``exp(z - max)`` into ``e`` and its sum into ``s``, the exponentials as one loop over every
    element of the rows (a row of 10 scores is too short for a vector loop of its own)."""
    t = CTYPES[dtype]
    return f"""#ifndef MLC_SHIFTED_EXP_{dtype}
#define MLC_SHIFTED_EXP_{dtype}
#define CHUNK {CHUNK}
static void shifted_exp_{dtype}(long rows, long k, const {t}* z, {t}* e, {t}* m, {t}* s) {{
    for (long r = 0; r < rows; r++) {{
        const {t}* zr = z + r * k; {t}* er = e + r * k;
        {t} mr = zr[0];
        for (long j = 1; j < k; j++) mr = zr[j] > mr ? zr[j] : mr;
        m[r] = mr;
        #pragma omp simd
        for (long j = 0; j < k; j++) er[j] = zr[j] - mr;
    }}
    #pragma omp simd
    for (long i = 0; i < rows * k; i++) e[i] = exp{f}(e[i]);
    for (long r = 0; r < rows; r++) {{
        const {t}* er = e + r * k;
        {t} sr = 0;
        #pragma omp simd reduction(+:sr)
        for (long j = 0; j < k; j++) sr += er[j];
        s[r] = sr;
    }}
}}
#endif
"""


def xent_program(dtype: str, vector_math: bool) -> Program:
    t = CTYPES[dtype]
    f = "f" if dtype == "float32" else ""
    check = """int64_t* bad = (int64_t*)pbad;
    bad[0] = -1;
    for (long i = 0; i < n; i++) if (y[i] < 0 || y[i] >= k) { bad[0] = i; return; }"""
    source = f"""#include <math.h>
#include <stdint.h>
{vector_declarations() if vector_math else ""}
{_shifted_exp(dtype, f)}
void xent_{dtype}(long n, long k, const void* pz, const void* py, void* pnll, void* psm, void* pbad) {{
    const {t}* z = (const {t}*)pz; const int64_t* y = (const int64_t*)py;
    {t}* nll = ({t}*)pnll; {t}* sm = ({t}*)psm;
    {check}
    const long per = k >= CHUNK ? 1 : CHUNK / k, chunks = (n + per - 1) / per;
    #pragma omp parallel for schedule(static) {PARALLEL}
    for (long c = 0; c < chunks; c++) {{
        const long i0 = c * per, rows = n - i0 < per ? n - i0 : per;
        {t} m[CHUNK], s[CHUNK];
        shifted_exp_{dtype}(rows, k, z + i0 * k, sm + i0 * k, m, s);
        for (long r = 0; r < rows; r++) {{
            const long i = i0 + r;
            {t}* si = sm + i * k;
            const {t} inv = ({t})1 / s[r];
            #pragma omp simd
            for (long j = 0; j < k; j++) si[j] *= inv;
            nll[i] = log{f}(s[r]) - (z[i * k + y[i]] - m[r]);
        }}
    }}
}}

void xent_grad_{dtype}(long n, long k, const void* pg, const void* psm, const void* py, void* pout, void* pbad) {{
    const {t}* g = (const {t}*)pg; const {t}* sm = (const {t}*)psm; const int64_t* y = (const int64_t*)py;
    {t}* out = ({t}*)pout;
    {check}
    #pragma omp parallel for schedule(static) {PARALLEL}
    for (long i = 0; i < n; i++) {{
        const {t} gi = g[i];
        const {t}* si = sm + i * k; {t}* oi = out + i * k;
        #pragma omp simd
        for (long j = 0; j < k; j++) oi[j] = si[j] * gi;
        oi[y[i]] -= gi;
    }}
}}
"""
    sizes = (("int", "long"), ("int", "long"))
    buf, labels, bad = ("buffer", dtype), ("buffer", "int64"), ("buffer", "int64")
    entries = (EntryPoint(f"xent_{dtype}", sizes + (buf, labels, buf, buf, bad)),
               EntryPoint(f"xent_grad_{dtype}", sizes + (buf, buf, labels, buf, bad)))
    return Program("c", source, entries)


def softmax_program(dtype: str, vector_math: bool) -> Program:
    """``softmax_<dtype>`` and ``softmax_grad_<dtype>`` over rows; ``log`` selects log-softmax
    (``x - max - log(sum(exp(x - max)))``; gradient ``g - exp(out) * sum(g)``), else softmax
    (gradient ``(g - sum(g * out)) * out``)."""
    t = CTYPES[dtype]
    f = "f" if dtype == "float32" else ""
    source = f"""#include <math.h>
#include <stdint.h>
{vector_declarations() if vector_math else ""}
{_shifted_exp(dtype, f)}
void softmax_{dtype}(long n, long k, const void* px, void* pout, int log_) {{
    const {t}* x = (const {t}*)px; {t}* out = ({t}*)pout;
    const long per = k >= CHUNK ? 1 : CHUNK / k, chunks = (n + per - 1) / per;
    #pragma omp parallel for schedule(static) {PARALLEL}
    for (long c = 0; c < chunks; c++) {{
        const long i0 = c * per, rows = n - i0 < per ? n - i0 : per;
        {t} m[CHUNK], s[CHUNK];
        shifted_exp_{dtype}(rows, k, x + i0 * k, out + i0 * k, m, s);
        for (long r = 0; r < rows; r++) {{
            const {t}* xi = x + (i0 + r) * k; {t}* oi = out + (i0 + r) * k;
            if (log_) {{
                const {t} ls = log{f}(s[r]);  /* (x - m) - ls, not x - (m + ls): exact near the maximum */
                #pragma omp simd
                for (long j = 0; j < k; j++) oi[j] = (xi[j] - m[r]) - ls;
            }} else {{
                const {t} inv = ({t})1 / s[r];
                #pragma omp simd
                for (long j = 0; j < k; j++) oi[j] *= inv;
            }}
        }}
    }}
}}

void softmax_grad_{dtype}(long n, long k, const void* pg, const void* pout, void* pgx, int log_) {{
    const {t}* g = (const {t}*)pg; const {t}* out = (const {t}*)pout; {t}* gx = ({t}*)pgx;
    #pragma omp parallel for schedule(static) {PARALLEL}
    for (long i = 0; i < n; i++) {{
        const {t}* gi = g + i * k; const {t}* oi = out + i * k; {t}* xi = gx + i * k;
        {t} s = 0;
        if (log_) {{
            #pragma omp simd reduction(+:s)
            for (long j = 0; j < k; j++) s += gi[j];
            #pragma omp simd
            for (long j = 0; j < k; j++) xi[j] = gi[j] - exp{f}(oi[j]) * s;
        }} else {{
            #pragma omp simd reduction(+:s)
            for (long j = 0; j < k; j++) s += gi[j] * oi[j];
            #pragma omp simd
            for (long j = 0; j < k; j++) xi[j] = (gi[j] - s) * oi[j];
        }}
    }}
}}
"""
    sizes, buf, flag = (("int", "long"), ("int", "long")), ("buffer", dtype), (("int", "int"),)
    entries = (EntryPoint(f"softmax_{dtype}", sizes + (buf, buf) + flag),
               EntryPoint(f"softmax_grad_{dtype}", sizes + (buf, buf, buf) + flag))
    return Program("c", source, entries)
