"""Device kernels for convolutional networks, in the shared OpenCL/CUDA style: the
convolution lowering (``im2col`` to ``(C·KH·KW, N·OH·OW)`` for the GEMM, ``col2im`` back,
``swap01`` between ``(N, C, P)`` and ``(C, N, P)``) and 2-d pooling with its gradient. Every
kernel is a grid-stride loop with one work-item per output element; the gradients gather
(each input element sums what reaches it) instead of scattering, so no two work-items
write one element and no atomics are needed."""
from __future__ import annotations

from .program import EntryPoint, Program

CONV_SIZES = ("n", "c", "h", "w", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw", "oh", "ow")
POOL_SIZES = ("planes", "h", "w", "oh", "ow", "wh", "ww", "sh", "sw", "ph", "pw")


class ConvKernels:
    """Mixed into ``GPURenderer`` (uses its qualifiers, ``index_type``, ``types``, ids)."""

    def _head(self, name: str, sizes: tuple, buffers: str) -> str:
        idx = self.index_type
        args = ", ".join(f"const {idx} {s}" for s in sizes)
        return f"{self.kernel_prefix} void {name}({args}, {buffers})"

    def conv_kernels(self, dtype: str) -> Program:
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        gid, gsize = self.global_id, self.global_size
        source = f"""{self.prelude}
{self._head(f"im2col_{dtype}", CONV_SIZES, f"const int flip, {q}const {t}* restrict x, {q}{t}* restrict cols")} {{
    const {idx} total = c * kh * kw * n * oh * ow;
    for ({idx} e = {gid}; e < total; e += {gsize}) {{
        {idx} rest = e;
        const {idx} j = rest % ow; rest /= ow;
        const {idx} i = rest % oh; rest /= oh;
        const {idx} b = rest % n; rest /= n;
        const {idx} tap = flip ? kh * kw - 1 - rest % (kh * kw) : rest % (kh * kw), ci = rest / (kh * kw);
        const {idx} r = i * sh - ph + (tap / kw) * dh, s = j * sw - pw + (tap % kw) * dw;
        cols[e] = (r >= 0 && r < h && s >= 0 && s < w) ? x[((b * c + ci) * h + r) * w + s] : ({t})0;
    }}
}}

{self._head(f"col2im_{dtype}", CONV_SIZES, f"const int flip, {q}const {t}* restrict cols, {q}{t}* restrict gx")} {{
    const {idx} total = n * c * h * w;
    for ({idx} e = {gid}; e < total; e += {gsize}) {{
        const {idx} s = e % w, r = (e / w) % h, ci = (e / (w * h)) % c, b = e / (w * h * c);
        {t} acc = 0;
        for ({idx} ki = 0; ki < kh; ki++) {{
            const {idx} ri = r + ph - ki * dh;
            if (ri < 0 || ri % sh != 0 || ri / sh >= oh) continue;
            for ({idx} kj = 0; kj < kw; kj++) {{
                const {idx} sj = s + pw - kj * dw;
                if (sj < 0 || sj % sw != 0 || sj / sw >= ow) continue;
                const {idx} tap = flip ? kh * kw - 1 - (ki * kw + kj) : ki * kw + kj;
                acc += cols[((ci * kh * kw + tap) * n + b) * oh * ow + (ri / sh) * ow + sj / sw];
            }}
        }}
        gx[e] = acc;
    }}
}}

{self.kernel_prefix} void swap01_{dtype}(const {idx} a, const {idx} b, const {idx} p, {q}const {t}* restrict src,
        {q}{t}* restrict dst) {{
    for ({idx} e = {gid}; e < a * b * p; e += {gsize}) {{
        const {idx} k = e % p, j = (e / p) % b, i = e / (p * b);  /* dst[i, j, k] = src[j, i, k] */
        dst[e] = src[(j * a + i) * p + k];
    }}
}}
"""
        sizes = tuple(("int", idx) for _ in CONV_SIZES)
        buf = ("buffer", dtype)
        return Program(self.language, source, (
            EntryPoint(f"im2col_{dtype}", sizes + (("int", "int32"), buf, buf)),
            EntryPoint(f"col2im_{dtype}", sizes + (("int", "int32"), buf, buf)),
            EntryPoint(f"swap01_{dtype}", (("int", idx),) * 3 + (buf, buf))))

    def pool_kernels(self, dtype: str) -> Program:
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        gid, gsize = self.global_id, self.global_size
        window = f"""const {idx} r0 = i * sh - ph, c0 = j * sw - pw;
        const {idx} ra = r0 > 0 ? r0 : 0, ca = c0 > 0 ? c0 : 0;
        const {idx} r1 = r0 + wh < h ? r0 + wh : h, c1 = c0 + ww < w ? c0 + ww : w;"""
        divisor = "(mode == 1 ? wh * ww : mode == 2 ? (r1 - ra) * (c1 - ca) : 1)"
        # the output windows that contain input (r, s): i in [i0, i1], j in [j0, j1]
        covering = f"""const {idx} i0 = r + ph - wh + 1 > 0 ? (r + ph - wh + 1 + sh - 1) / sh : 0;
        const {idx} i1 = (r + ph) / sh < oh - 1 ? (r + ph) / sh : oh - 1;
        const {idx} j0 = s + pw - ww + 1 > 0 ? (s + pw - ww + 1 + sw - 1) / sw : 0;
        const {idx} j1 = (s + pw) / sw < ow - 1 ? (s + pw) / sw : ow - 1;"""
        source = f"""{self.prelude}
{self._head(f"pool_max_{dtype}", POOL_SIZES, f"{q}const {t}* restrict x, {q}{t}* restrict out, {q}{idx}* restrict arg")} {{
    for ({idx} e = {gid}; e < planes * oh * ow; e += {gsize}) {{
        const {idx} j = e % ow, i = (e / ow) % oh, p = e / (ow * oh);
        {window}
        {idx} best = ra * w + ca;
        {t} m = x[p * h * w + best];
        for ({idx} r = ra; r < r1; r++) for ({idx} s = ca; s < c1; s++)
            if (x[p * h * w + r * w + s] > m) {{ m = x[p * h * w + r * w + s]; best = r * w + s; }}
        out[e] = m; arg[e] = best;
    }}
}}

{self._head(f"pool_max_grad_{dtype}", POOL_SIZES, f"{q}const {idx}* restrict arg, {q}const {t}* restrict g, {q}{t}* restrict gx")} {{
    for ({idx} e = {gid}; e < planes * h * w; e += {gsize}) {{
        const {idx} s = e % w, r = (e / w) % h, p = e / (w * h);
        {covering}
        {t} acc = 0;
        for ({idx} i = i0; i <= i1; i++) for ({idx} j = j0; j <= j1; j++)
            if (arg[(p * oh + i) * ow + j] == r * w + s) acc += g[(p * oh + i) * ow + j];
        gx[e] = acc;
    }}
}}

{self._head(f"pool_sum_{dtype}", POOL_SIZES, f"const int mode, {q}const {t}* restrict x, {q}{t}* restrict out")} {{
    for ({idx} e = {gid}; e < planes * oh * ow; e += {gsize}) {{
        const {idx} j = e % ow, i = (e / ow) % oh, p = e / (ow * oh);
        {window}
        {t} acc = 0;
        for ({idx} r = ra; r < r1; r++) for ({idx} s = ca; s < c1; s++) acc += x[p * h * w + r * w + s];
        out[e] = acc / ({t}){divisor};
    }}
}}

{self._head(f"pool_sum_grad_{dtype}", POOL_SIZES, f"const int mode, {q}const {t}* restrict g, {q}{t}* restrict gx")} {{
    for ({idx} e = {gid}; e < planes * h * w; e += {gsize}) {{
        const {idx} s = e % w, r = (e / w) % h, p = e / (w * h);
        {covering}
        {t} acc = 0;
        for ({idx} i = i0; i <= i1; i++) for ({idx} j = j0; j <= j1; j++) {{
            {window}
            acc += g[(p * oh + i) * ow + j] / ({t}){divisor};
        }}
        gx[e] = acc;
    }}
}}
"""
        sizes = tuple(("int", idx) for _ in POOL_SIZES)
        buf, mode = ("buffer", dtype), (("int", "int32"),)
        return Program(self.language, source, (
            EntryPoint(f"pool_max_{dtype}", sizes + (buf, buf, ("buffer", "int64"))),
            EntryPoint(f"pool_max_grad_{dtype}", sizes + (("buffer", "int64"), buf, buf)),
            EntryPoint(f"pool_sum_{dtype}", sizes + mode + (buf, buf)),
            EntryPoint(f"pool_sum_grad_{dtype}", sizes + mode + (buf, buf))))

    def bn_kernels(self, dtype: str) -> Program:
        """Batch normalization in training over an ``(A, C, B)`` view (channels in the middle):
        per-channel statistics and gradient sums by one work-item per channel (two passes,
        the variance around the mean), the elementwise passes by one work-item per element."""
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        gid, gsize = self.global_id, self.global_size
        dims = f"const {idx} A, const {idx} C, const {idx} B"
        source = f"""{self.prelude}
{self.kernel_prefix} void bn_stats_{dtype}({dims}, const {t} eps, {q}const {t}* restrict x, {q}{t}* restrict mean,
        {q}{t}* restrict inv) {{
    for ({idx} c = {gid}; c < C; c += {gsize}) {{
        {t} s = 0, v = 0;
        for ({idx} a = 0; a < A; a++) for ({idx} b = 0; b < B; b++) s += x[(a * C + c) * B + b];
        const {t} mu = s / ({t})(A * B);
        for ({idx} a = 0; a < A; a++) for ({idx} b = 0; b < B; b++) {{
            const {t} d = x[(a * C + c) * B + b] - mu; v += d * d;
        }}
        mean[c] = mu;
        inv[c] = ({t})1 / sqrt(v / ({t})(A * B) + eps);
    }}
}}

{self.kernel_prefix} void bn_apply_{dtype}({dims}, {q}const {t}* restrict x, {q}const {t}* restrict g,
        {q}const {t}* restrict be, {q}const {t}* restrict mean, {q}const {t}* restrict inv, {q}{t}* restrict out) {{
    for ({idx} e = {gid}; e < A * C * B; e += {gsize}) {{
        const {idx} c = (e / B) % C;
        out[e] = (x[e] - mean[c]) * g[c] * inv[c] + be[c];
    }}
}}

{self.kernel_prefix} void bn_sums_{dtype}({dims}, {q}const {t}* restrict x, {q}const {t}* restrict mean,
        {q}const {t}* restrict inv, {q}const {t}* restrict dy, {q}{t}* restrict dg, {q}{t}* restrict db) {{
    for ({idx} c = {gid}; c < C; c += {gsize}) {{
        {t} sb = 0, sg = 0;
        for ({idx} a = 0; a < A; a++) for ({idx} b = 0; b < B; b++) {{
            const {idx} k = (a * C + c) * B + b;
            sb += dy[k]; sg += dy[k] * (x[k] - mean[c]) * inv[c];
        }}
        db[c] = sb; dg[c] = sg;
    }}
}}

{self.kernel_prefix} void bn_dx_{dtype}({dims}, {q}const {t}* restrict x, {q}const {t}* restrict g,
        {q}const {t}* restrict mean, {q}const {t}* restrict inv, {q}const {t}* restrict dy, {q}const {t}* restrict dg,
        {q}const {t}* restrict db, {q}{t}* restrict dx) {{
    const {t} m = ({t})(A * B);
    for ({idx} e = {gid}; e < A * C * B; e += {gsize}) {{
        const {idx} c = (e / B) % C;
        dx[e] = g[c] * inv[c] * (dy[e] - db[c] / m - (x[e] - mean[c]) * inv[c] * dg[c] / m);
    }}
}}
"""
        d3, buf = (("int", idx),) * 3, ("buffer", dtype)
        return Program(self.language, source, (
            EntryPoint(f"bn_stats_{dtype}", d3 + (("int", dtype), buf, buf, buf)),
            EntryPoint(f"bn_apply_{dtype}", d3 + (buf,) * 6),
            EntryPoint(f"bn_sums_{dtype}", d3 + (buf,) * 6),
            EntryPoint(f"bn_dx_{dtype}", d3 + (buf,) * 8)))
