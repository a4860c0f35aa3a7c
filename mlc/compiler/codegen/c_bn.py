"""C kernels for batch normalization in training on the CPU. The input is viewed as
``(A, C, B)``: the kept axes (channels) in the middle, the normalized ones before (A) and
after (B) them (``(N, C, H, W)`` per channel: A = N, B = H * W; ``(N, F)``: B = 1). Channel
statistics are summed in double, the variance around the mean (two passes); OpenMP over
channels for the sums, over (A, C) rows for the elementwise passes."""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}


def bn_program(dtype: str) -> Program:
    t = CTYPES[dtype]
    omp = "#pragma omp parallel for schedule(static) if (A * C * B > 100000)"
    source = f"""
void bn_train_{dtype}(long A, long C, long B, double eps, const void* px, const void* pg, const void* pb,
                      void* pout, void* pmean, void* pinv) {{
    const {t}* x = (const {t}*)px; const {t}* g = (const {t}*)pg; const {t}* be = (const {t}*)pb;
    {t}* out = ({t}*)pout; {t}* mean = ({t}*)pmean; {t}* inv = ({t}*)pinv;
    const double m = (double)(A * B);
    {omp}
    for (long c = 0; c < C; c++) {{
        double s = 0, v = 0;
        for (long a = 0; a < A; a++) {{
            const {t}* xr = x + (a * C + c) * B;
            #pragma omp simd reduction(+:s)
            for (long b = 0; b < B; b++) s += xr[b];
        }}
        const double mu = s / m;
        for (long a = 0; a < A; a++) {{
            const {t}* xr = x + (a * C + c) * B;
            #pragma omp simd reduction(+:v)
            for (long b = 0; b < B; b++) {{ const double d = xr[b] - mu; v += d * d; }}
        }}
        mean[c] = ({t})mu;
        inv[c] = ({t})(1.0 / sqrt(v / m + eps));
    }}
    {omp}
    for (long r = 0; r < A * C; r++) {{
        const long c = r % C;
        const {t} mu = mean[c], scale = g[c] * inv[c], shift = be[c];
        const {t}* xr = x + r * B; {t}* o = out + r * B;
        #pragma omp simd
        for (long b = 0; b < B; b++) o[b] = (xr[b] - mu) * scale + shift;
    }}
}}

void bn_grad_{dtype}(long A, long C, long B, const void* px, const void* pg, const void* pmean, const void* pinv,
                     const void* pdy, void* pdx, void* pdg, void* pdb) {{
    const {t}* x = (const {t}*)px; const {t}* g = (const {t}*)pg; const {t}* mean = (const {t}*)pmean;
    const {t}* inv = (const {t}*)pinv; const {t}* dy = (const {t}*)pdy;
    {t}* dx = ({t}*)pdx; {t}* dg = ({t}*)pdg; {t}* db = ({t}*)pdb;
    const double m = (double)(A * B);
    {omp}
    for (long c = 0; c < C; c++) {{
        double sb = 0, sg = 0;
        const double mu = mean[c], is = inv[c];
        for (long a = 0; a < A; a++) {{
            const {t}* xr = x + (a * C + c) * B; const {t}* dyr = dy + (a * C + c) * B;
            #pragma omp simd reduction(+:sb, sg)
            for (long b = 0; b < B; b++) {{ sb += dyr[b]; sg += dyr[b] * (xr[b] - mu) * is; }}
        }}
        db[c] = ({t})sb; dg[c] = ({t})sg;
    }}
    {omp}
    for (long r = 0; r < A * C; r++) {{
        const long c = r % C;
        const {t} mu = mean[c], is = inv[c], k1 = g[c] * is, sb = db[c] / ({t})m, sg = dg[c] / ({t})m;
        const {t}* xr = x + r * B; const {t}* dyr = dy + r * B; {t}* o = dx + r * B;
        #pragma omp simd
        for (long b = 0; b < B; b++) o[b] = k1 * (dyr[b] - sb - (xr[b] - mu) * is * sg);
    }}
}}
"""
    source = "#include <math.h>\n" + source
    dims = (("int", "long"),) * 3
    buf = ("buffer", dtype)
    return Program("c", source, (
        EntryPoint(f"bn_train_{dtype}", dims + (("int", "double"),) + (buf,) * 6),
        EntryPoint(f"bn_grad_{dtype}", dims + (buf,) * 8)))
