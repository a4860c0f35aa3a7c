"""C kernels for the convolution lowering on the CPU: ``im2col`` lays the zero-padded input's
patches out as ``(C, KH * KW, N, OH, OW)`` (the rows of one large GEMM) and ``col2im`` adds
patch gradients back into an ``(N, C, H, W)`` input gradient; OpenMP over channels and taps
(im2col) or over image planes (col2im, so no two threads write one element)."""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
SIZES = ("n", "c", "h", "w", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw", "oh", "ow")


def conv_program(dtype: str) -> Program:
    t = CTYPES[dtype]
    sizes = ", ".join(f"long {s}" for s in SIZES)
    source = f"""#include <string.h>

/* Output columns j whose input column j * stride - offset lies in [0, w): from the first
   j with j * stride >= offset to one past the last with j * stride <= limit, within [0, ow). */
static inline long first_inside(long offset, long stride) {{
    return offset <= 0 ? 0 : (offset + stride - 1) / stride;
}}
static inline long last_inside(long limit, long stride, long ow) {{
    if (limit < 0) return 0;
    const long j = limit / stride + 1;
    return j < ow ? j : ow;
}}

void im2col_{dtype}({sizes}, const void* px, void* pcols) {{
    const {t}* x = (const {t}*)px; {t}* cols = ({t}*)pcols;
    #pragma omp parallel for collapse(2) schedule(static) if (n * c * oh * ow * kh * kw > 200000)
    for (long ci = 0; ci < c; ci++) for (long tap = 0; tap < kh * kw; tap++) {{
        const long ki = tap / kw, kj = tap % kw;
        {t}* dst = cols + (ci * kh * kw + tap) * n * oh * ow;
        for (long b = 0; b < n; b++) {{
            const {t}* plane = x + (b * c + ci) * h * w;
            for (long i = 0; i < oh; i++) {{
                const long r = i * sh - ph + ki * dh;
                {t}* out = dst + (b * oh + i) * ow;
                if (r < 0 || r >= h) {{ memset(out, 0, sizeof({t}) * ow); continue; }}
                const long j0 = first_inside(pw - kj * dw, sw), j1 = last_inside(w - 1 + pw - kj * dw, sw, ow);
                const long base = r * w - pw + kj * dw;  /* + j * sw: inside the row for j in [j0, j1) */
                for (long j = 0; j < j0 && j < ow; j++) out[j] = 0;
                if (sw == 1) {{ for (long j = j0; j < j1; j++) out[j] = plane[base + j]; }}
                else {{ for (long j = j0; j < j1; j++) out[j] = plane[base + j * sw]; }}
                for (long j = j1 > j0 ? j1 : j0; j < ow; j++) out[j] = 0;
            }}
        }}
    }}
}}

void col2im_{dtype}({sizes}, const void* pcols, void* pgx) {{
    const {t}* cols = (const {t}*)pcols; {t}* gx = ({t}*)pgx;
    #pragma omp parallel for collapse(2) schedule(static) if (n * c * h * w > 200000)
    for (long b = 0; b < n; b++) for (long ci = 0; ci < c; ci++) {{
        {t}* plane = gx + (b * c + ci) * h * w;
        memset(plane, 0, sizeof({t}) * h * w);
        for (long tap = 0; tap < kh * kw; tap++) {{
            const long ki = tap / kw, kj = tap % kw;
            const {t}* src = cols + ((ci * kh * kw + tap) * n + b) * oh * ow;
            for (long i = 0; i < oh; i++) {{
                const long r = i * sh - ph + ki * dh;
                if (r < 0 || r >= h) continue;
                const long j0 = first_inside(pw - kj * dw, sw), j1 = last_inside(w - 1 + pw - kj * dw, sw, ow);
                const long base = r * w - pw + kj * dw;
                const {t}* s = src + i * ow;
                if (sw == 1) {{
                    #pragma omp simd
                    for (long j = j0; j < j1; j++) plane[base + j] += s[j];
                }} else {{
                    for (long j = j0; j < j1; j++) plane[base + j * sw] += s[j];
                }}
            }}
        }}
    }}
}}
"""
    ints = tuple(("int", "long") for _ in SIZES)
    return Program("c", source, (EntryPoint(f"im2col_{dtype}", ints + (("buffer", dtype), ("buffer", dtype))),
                                 EntryPoint(f"col2im_{dtype}", ints + (("buffer", dtype), ("buffer", dtype)))))
