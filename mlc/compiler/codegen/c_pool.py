"""C kernels for 2-d pooling on the CPU: one plane (an image's channel) per OpenMP
iteration, each output reading its window within the input's bounds (the padding is never
read: max ignores it, averages count it or not). Max pooling records the first maximum of
each window, which its gradient sends the output gradient to (finding it again)."""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
SIZES = ("planes", "h", "w", "oh", "ow", "wh", "ww", "sh", "sw", "ph", "pw")


def pool_program(dtype: str) -> Program:
    t = CTYPES[dtype]
    sizes = ", ".join(f"long {s}" for s in SIZES)
    window = """const long r0 = i * sh - ph, c0 = j * sw - pw;
            const long r1 = r0 + wh < h ? r0 + wh : h, c1 = c0 + ww < w ? c0 + ww : w;
            const long ra = r0 > 0 ? r0 : 0, ca = c0 > 0 ? c0 : 0;"""
    source = f"""#include <stdint.h>
#include <string.h>

/* The offset in its plane of the first maximum of output (i, j)'s window. */
static inline long window_max_{dtype}(const {t}* xp, long i, long j, long h, long w, long wh, long ww, long sh,
                                     long sw, long ph, long pw) {{
    {window}
    long best = ra * w + ca;
    {t} m = xp[best];
    for (long r = ra; r < r1; r++) for (long c = ca; c < c1; c++)
        if (xp[r * w + c] > m) {{ m = xp[r * w + c]; best = r * w + c; }}
    return best;
}}

/* 2x2 windows at stride 2 inside the plane (the usual CNN pooling): the window's four values
   compared in the same order as window_max, as selects the compiler vectorizes. */
static inline int halving(long h, long w, long oh, long ow, long wh, long ww, long sh, long sw, long ph, long pw) {{
    return wh == 2 && ww == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && 2 * oh <= h && 2 * ow <= w;
}}

void pool_max_{dtype}({sizes}, const void* px, void* pout) {{
    const {t}* x = (const {t}*)px; {t}* out = ({t}*)pout;
    const int halves = halving(h, w, oh, ow, wh, ww, sh, sw, ph, pw);
    #pragma omp parallel for schedule(static) if (planes * h * w > 200000)
    for (long p = 0; p < planes; p++) {{
        const {t}* xp = x + p * h * w;
        if (halves) for (long i = 0; i < oh; i++) {{
            const {t}* r0 = xp + 2 * i * w; const {t}* r1 = r0 + w; {t}* o = out + (p * oh + i) * ow;
            #pragma omp simd
            for (long j = 0; j < ow; j++) {{
                {t} m = r0[2 * j];
                m = r0[2 * j + 1] > m ? r0[2 * j + 1] : m;
                m = r1[2 * j] > m ? r1[2 * j] : m;
                o[j] = r1[2 * j + 1] > m ? r1[2 * j + 1] : m;
            }}
        }}
        else for (long i = 0; i < oh; i++) for (long j = 0; j < ow; j++)
            out[(p * oh + i) * ow + j] = xp[window_max_{dtype}(xp, i, j, h, w, wh, ww, sh, sw, ph, pw)];
    }}
}}

/* Each window's maximum found again (no index array to write and read back), the output
   gradient added there. */
void pool_max_grad_{dtype}({sizes}, const void* px, const void* pg, void* pgx) {{
    const {t}* x = (const {t}*)px; const {t}* g = (const {t}*)pg; {t}* gx = ({t}*)pgx;
    const int halves = halving(h, w, oh, ow, wh, ww, sh, sw, ph, pw);
    #pragma omp parallel for schedule(static) if (planes * h * w > 200000)
    for (long p = 0; p < planes; p++) {{
        const {t}* xp = x + p * h * w;
        {t}* gp = gx + p * h * w;
        const {t}* gq = g + p * oh * ow;
        memset(gp, 0, sizeof({t}) * h * w);
        if (halves) for (long i = 0; i < oh; i++) {{
            const {t}* r0 = xp + 2 * i * w; const {t}* r1 = r0 + w;
            {t}* g0 = gp + 2 * i * w; {t}* g1 = g0 + w;
            #pragma omp simd
            for (long j = 0; j < ow; j++) {{
                {t} m = r0[2 * j]; int k = 0;
                if (r0[2 * j + 1] > m) {{ m = r0[2 * j + 1]; k = 1; }}
                if (r1[2 * j] > m) {{ m = r1[2 * j]; k = 2; }}
                if (r1[2 * j + 1] > m) k = 3;
                const {t} v = gq[i * ow + j];
                g0[2 * j] = k == 0 ? v : 0; g0[2 * j + 1] = k == 1 ? v : 0;
                g1[2 * j] = k == 2 ? v : 0; g1[2 * j + 1] = k == 3 ? v : 0;
            }}
        }}
        else for (long i = 0; i < oh; i++) for (long j = 0; j < ow; j++)
            gp[window_max_{dtype}(xp, i, j, h, w, wh, ww, sh, sw, ph, pw)] += gq[i * ow + j];
    }}
}}

/* mode 0: sum, 1: average counting the padding, 2: average over the entries inside */
void pool_sum_{dtype}({sizes}, int mode, const void* px, void* pout) {{
    const {t}* x = (const {t}*)px; {t}* out = ({t}*)pout;
    #pragma omp parallel for schedule(static) if (planes * h * w > 200000)
    for (long p = 0; p < planes; p++) {{
        const {t}* xp = x + p * h * w;
        for (long i = 0; i < oh; i++) for (long j = 0; j < ow; j++) {{
            {window}
            double s = 0;
            for (long r = ra; r < r1; r++) for (long c = ca; c < c1; c++) s += xp[r * w + c];
            const double n = mode == 1 ? (double)(wh * ww) : mode == 2 ? (double)((r1 - ra) * (c1 - ca)) : 1.0;
            out[(p * oh + i) * ow + j] = ({t})(s / n);
        }}
    }}
}}

void pool_sum_grad_{dtype}({sizes}, int mode, const void* pg, void* pgx) {{
    const {t}* g = (const {t}*)pg; {t}* gx = ({t}*)pgx;
    #pragma omp parallel for schedule(static) if (planes * h * w > 200000)
    for (long p = 0; p < planes; p++) {{
        {t}* gp = gx + p * h * w;
        memset(gp, 0, sizeof({t}) * h * w);
        for (long i = 0; i < oh; i++) for (long j = 0; j < ow; j++) {{
            {window}
            const double n = mode == 1 ? (double)(wh * ww) : mode == 2 ? (double)((r1 - ra) * (c1 - ca)) : 1.0;
            const {t} share = ({t})(g[(p * oh + i) * ow + j] / n);
            for (long r = ra; r < r1; r++) for (long c = ca; c < c1; c++) gp[r * w + c] += share;
        }}
    }}
}}
"""
    ints = tuple(("int", "long") for _ in SIZES)
    mode = (("int", "int"),)
    buf = ("buffer", dtype)
    entries = (EntryPoint(f"pool_max_{dtype}", ints + (buf, buf)),
               EntryPoint(f"pool_max_grad_{dtype}", ints + (buf, buf, buf)),
               EntryPoint(f"pool_sum_{dtype}", ints + mode + (("buffer", dtype), ("buffer", dtype))),
               EntryPoint(f"pool_sum_grad_{dtype}", ints + mode + (("buffer", dtype), ("buffer", dtype))))
    return Program("c", source, entries)
