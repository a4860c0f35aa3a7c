"""C kernels for the convolution lowering on the CPU.

Two forms of the same lowering (patches of the zero-padded input as the columns of a GEMM):

- ``conv_forward``, ``conv_grad_inputs``, ``conv_grad_weights`` run it one image at a time on
  mlc's OpenMP threads, each image's columns ``(C * KH * KW, OH * OW)`` in a thread's own
  buffer (small enough to stay in cache) and each product a single-threaded call of the
  BLAS ``gemm`` they are given. An image's products read and write ``(N, C, H, W)`` data in
  place, so no batch-wide column array and no transposing copy is made. Images are
  independent, and the weights' gradient sums its per-image products in a fixed number of
  blocks added in order, so the result is the same bits however many threads run.
- ``im2col``/``col2im`` lay out and scatter back the whole batch's columns
  ``(C, KH * KW, N, OH, OW)`` for one large product, where no C BLAS can be called.
"""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
SIZES = ("n", "c", "h", "w", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw", "oh", "ow")

_COMMON = """#include <stdlib.h>
#include <string.h>

typedef struct { long n, c, h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow; } geometry;

/* Output columns j whose input column j * stride - offset lies in [0, w): from the first
   j with j * stride >= offset to one past the last with j * stride <= limit, within [0, ow). */
static inline long first_inside(long offset, long stride) {
    return offset <= 0 ? 0 : (offset + stride - 1) / stride;
}
static inline long last_inside(long limit, long stride, long ow) {
    if (limit < 0) return 0;
    const long j = limit / stride + 1;
    return j < ow ? j : ow;
}

/* Where one filter tap reads: input row i * sh + r0 and column j * sw + c0 for output (i, j),
   the columns inside the input for output j in [j0, j1). */
typedef struct { long r0, c0, j0, j1; } window;

static inline window tap_window(const geometry* g, long tap) {
    const long ki = tap / g->kw, kj = tap % g->kw;
    const long c0 = kj * g->dw - g->pw;
    const window v = {ki * g->dh - g->ph, c0, first_inside(-c0, g->sw), last_inside(g->w - 1 - c0, g->sw, g->ow)};
    return v;
}
"""


def _kernels(dtype: str, t: str, int_type: str) -> str:
    sizes = ", ".join(f"long {s}" for s in SIZES)
    geometry = "{" + ", ".join(SIZES) + "}"
    return f"""
/* One filter tap's patch row block (OH * OW values) of one input channel plane. */
static void tap_{dtype}(const geometry* g, long tap, const {t}* plane, {t}* dst) {{
    const window v = tap_window(g, tap);
    const long j0 = v.j0, j1 = v.j1;
    for (long i = 0; i < g->oh; i++) {{
        const long r = i * g->sh + v.r0;
        {t}* out = dst + i * g->ow;
        if (r < 0 || r >= g->h || j0 >= j1) {{ memset(out, 0, sizeof({t}) * g->ow); continue; }}
        const long base = r * g->w + v.c0;  /* + j * sw: inside the row for j in [j0, j1) */
        for (long j = 0; j < j0; j++) out[j] = 0;
        if (g->sw == 1) memcpy(out + j0, plane + base + j0, sizeof({t}) * (j1 - j0));  /* rows are short: no loop */
        else {{ for (long j = j0; j < j1; j++) out[j] = plane[base + j * g->sw]; }}
        for (long j = j1; j < g->ow; j++) out[j] = 0;
    }}
}}

/* Adds one filter tap's patch gradients (OH * OW values) back into an input channel plane. */
static void untap_{dtype}(const geometry* g, long tap, const {t}* src, {t}* plane) {{
    const window v = tap_window(g, tap);
    const long j0 = v.j0, j1 = v.j1;
    for (long i = 0; i < g->oh; i++) {{
        const long r = i * g->sh + v.r0;
        if (r < 0 || r >= g->h) continue;
        const long base = r * g->w + v.c0;
        const {t}* s = src + i * g->ow;
        if (g->sw == 1) {{
            #pragma omp simd
            for (long j = j0; j < j1; j++) plane[base + j] += s[j];
        }} else {{
            for (long j = j0; j < j1; j++) plane[base + j * g->sw] += s[j];
        }}
    }}
}}

/* One image (C, H, W) as its columns (C * KH * KW, OH * OW). */
static void image_columns_{dtype}(const geometry* g, const {t}* image, {t}* cols) {{
    const long taps = g->kh * g->kw, p = g->oh * g->ow;
    for (long ci = 0; ci < g->c; ci++)
        for (long tap = 0; tap < taps; tap++) tap_{dtype}(g, tap, image + ci * g->h * g->w, cols + (ci * taps + tap) * p);
}}

/* One image's gradient (C, H, W) from its columns' gradients (C * KH * KW, OH * OW). */
static void image_from_columns_{dtype}(const geometry* g, const {t}* cols, {t}* image) {{
    const long taps = g->kh * g->kw, p = g->oh * g->ow;
    memset(image, 0, sizeof({t}) * g->c * g->h * g->w);
    for (long ci = 0; ci < g->c; ci++)
        for (long tap = 0; tap < taps; tap++) untap_{dtype}(g, tap, cols + (ci * taps + tap) * p, image + ci * g->h * g->w);
}}

void im2col_{dtype}({sizes}, const void* px, void* pcols) {{
    const geometry g = {geometry};
    const {t}* x = (const {t}*)px; {t}* cols = ({t}*)pcols;
    #pragma omp parallel for collapse(2) schedule(static) if (n * c * oh * ow * kh * kw > 200000)
    for (long ci = 0; ci < c; ci++) for (long tap = 0; tap < kh * kw; tap++)
        for (long b = 0; b < n; b++)
            tap_{dtype}(&g, tap, x + (b * c + ci) * h * w, cols + ((ci * kh * kw + tap) * n + b) * oh * ow);
}}

void col2im_{dtype}({sizes}, const void* pcols, void* pgx) {{
    const geometry g = {geometry};
    const {t}* cols = (const {t}*)pcols; {t}* gx = ({t}*)pgx;
    #pragma omp parallel for collapse(2) schedule(static) if (n * c * h * w > 200000)
    for (long b = 0; b < n; b++) for (long ci = 0; ci < c; ci++) {{
        {t}* plane = gx + (b * c + ci) * h * w;
        memset(plane, 0, sizeof({t}) * h * w);
        for (long tap = 0; tap < kh * kw; tap++)
            untap_{dtype}(&g, tap, cols + ((ci * kh * kw + tap) * n + b) * oh * ow, plane);
    }}
}}

typedef void (*gemm_{dtype}_t)(int, int, int, {int_type}, {int_type}, {int_type}, {t}, const {t}*, {int_type},
                               const {t}*, {int_type}, {t}, {t}*, {int_type});
#define ROW_MAJOR 101
#define NO_TRANS 111
#define TRANS 112

/* What one driver's per-image steps share. */
typedef struct {{
    geometry g; gemm_{dtype}_t f; long o, groups, p, og, kg, blocks;
    const {t}* x; const {t}* wt; const {t}* gout; {t}* out;
}} job_{dtype};

static void forward_image_{dtype}(const job_{dtype}* j, long b, {t}* cols) {{
    const geometry* g = &j->g;
    image_columns_{dtype}(g, j->x + b * g->c * g->h * g->w, cols);
    for (long gi = 0; gi < j->groups; gi++)
        j->f(ROW_MAJOR, NO_TRANS, NO_TRANS, j->og, j->p, j->kg, 1, j->wt + gi * j->og * j->kg, j->kg,
             cols + gi * j->kg * j->p, j->p, 0, j->out + (b * j->o + gi * j->og) * j->p, j->p);
}}

static void grad_inputs_image_{dtype}(const job_{dtype}* j, long b, {t}* cols) {{
    const geometry* g = &j->g;
    for (long gi = 0; gi < j->groups; gi++)
        j->f(ROW_MAJOR, TRANS, NO_TRANS, j->kg, j->p, j->og, 1, j->wt + gi * j->og * j->kg, j->kg,
             j->gout + (b * j->o + gi * j->og) * j->p, j->p, 0, cols + gi * j->kg * j->p, j->p);
    image_from_columns_{dtype}(g, cols, j->out + b * g->c * g->h * g->w);
}}

/* Block k's images' weight gradients summed into its own partial (out + k * O * KG). */
static void grad_weights_block_{dtype}(const job_{dtype}* j, long k, {t}* cols) {{
    const geometry* g = &j->g;
    const long size = j->o * j->kg, b0 = g->n * k / j->blocks, b1 = g->n * (k + 1) / j->blocks;
    {t}* acc = j->out + k * size;
    if (b0 == b1) memset(acc, 0, sizeof({t}) * size);
    for (long b = b0; b < b1; b++) {{
        image_columns_{dtype}(g, j->x + b * g->c * g->h * g->w, cols);
        for (long gi = 0; gi < j->groups; gi++)
            j->f(ROW_MAJOR, NO_TRANS, TRANS, j->og, j->kg, j->p, 1, j->gout + (b * j->o + gi * j->og) * j->p, j->p,
                 cols + gi * j->kg * j->p, j->p, b == b0 ? 0 : 1, acc + gi * j->og * j->kg, j->kg);
    }}
}}

/* step(j, i, cols) for i in [0, items) on mlc's OpenMP threads, each thread with its own
   buffer for one image's columns, OpenBLAS held to one thread meanwhile; 1 if a buffer
   could not be allocated. */
static int each_{dtype}(const job_{dtype}* j, long items, void (*step)(const job_{dtype}*, long, {t}*),
                        void* set_threads, int threads) {{
    int failed = 0;
    ((void (*)(int))set_threads)(1);
    #pragma omp parallel if (items > 1)
    {{
        {t}* cols = malloc(sizeof({t}) * j->g.c * j->g.kh * j->g.kw * j->p);
        if (!cols) {{
            #pragma omp atomic write
            failed = 1;
        }}
        #pragma omp for schedule(dynamic, 1)
        for (long i = 0; i < items; i++) if (cols) step(j, i, cols);
        free(cols);
    }}
    ((void (*)(int))set_threads)(threads);
    return failed;
}}

/* out (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C / groups, KH, KW)), w already flipped if need be. */
void conv_forward_{dtype}(void* gemm, void* set_threads, int threads, {sizes}, long o, long groups,
                         const void* px, const void* pw_, void* pout, void* pfailed) {{
    const job_{dtype} j = {{{geometry}, (gemm_{dtype}_t)gemm, o, groups, oh * ow, o / groups, c / groups * kh * kw, 1,
                          px, pw_, NULL, pout}};
    *(int*)pfailed = each_{dtype}(&j, n, forward_image_{dtype}, set_threads, threads);
}}

/* gx (N, C, H, W) from gout (N, O, OH, OW) and w (O, C / groups, KH, KW), w already flipped if need be. */
void conv_grad_inputs_{dtype}(void* gemm, void* set_threads, int threads, {sizes}, long o, long groups,
                             const void* pw_, const void* pgout, void* pgx, void* pfailed) {{
    const job_{dtype} j = {{{geometry}, (gemm_{dtype}_t)gemm, o, groups, oh * ow, o / groups, c / groups * kh * kw, 1,
                          NULL, pw_, pgout, pgx}};
    *(int*)pfailed = each_{dtype}(&j, n, grad_inputs_image_{dtype}, set_threads, threads);
}}

/* gw (O, C / groups, KH, KW) from x (N, C, H, W) and gout (N, O, OH, OW): the images in `blocks`
   fixed runs, each run's products summed in its own partial, the partials added in order. */
void conv_grad_weights_{dtype}(void* gemm, void* set_threads, int threads, {sizes}, long o, long groups,
                              long blocks, const void* px, const void* pgout, void* pgw, void* pfailed) {{
    const long size = o * (c / groups * kh * kw);
    {t}* partials = malloc(sizeof({t}) * size * blocks);
    {t}* gw = ({t}*)pgw;
    if (!partials) {{ *(int*)pfailed = 1; return; }}
    const job_{dtype} j = {{{geometry}, (gemm_{dtype}_t)gemm, o, groups, oh * ow, o / groups, c / groups * kh * kw,
                          blocks, px, NULL, pgout, partials}};
    const int failed = each_{dtype}(&j, blocks, grad_weights_block_{dtype}, set_threads, threads);
    if (!failed) {{
        #pragma omp parallel for schedule(static) if (size * blocks > 100000)
        for (long i = 0; i < size; i++) {{
            {t} sum = partials[i];
            for (long k = 1; k < blocks; k++) sum += partials[k * size + i];
            gw[i] = sum;
        }}
    }}
    free(partials);
    *(int*)pfailed = failed;
}}
"""


def conv_program(dtype: str, int_type: str = "int") -> Program:
    """The float32 or float64 kernels; ``int_type``: the integer type of the BLAS ``gemm``
    the drivers are given (``int``, or ``int64_t`` for an ILP64 BLAS)."""
    t = CTYPES[dtype]
    ints = tuple(("int", "long") for _ in SIZES)
    buf, void, flag = ("buffer", dtype), ("buffer", "void"), ("buffer", "int32")
    driver = (void, void, ("int", "int")) + ints + (("int", "long"), ("int", "long"))
    return Program("c", _COMMON + _kernels(dtype, t, int_type), (
        EntryPoint(f"im2col_{dtype}", ints + (buf, buf)),
        EntryPoint(f"col2im_{dtype}", ints + (buf, buf)),
        EntryPoint(f"conv_forward_{dtype}", driver + (buf, buf, buf, flag)),
        EntryPoint(f"conv_grad_inputs_{dtype}", driver + (buf, buf, buf, flag)),
        EntryPoint(f"conv_grad_weights_{dtype}", driver + (("int", "long"), buf, buf, buf, flag))))
