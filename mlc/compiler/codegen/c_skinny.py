"""C kernels for the matrix products that have one small side, which the BLAS does poorly:
a classifier's last layer (``h @ W``, ``N`` = 10 classes), its weight gradient
(``h.T @ dz``) and the gradient that flows back through it (``dz @ W.T``, ``K`` = 10); and
those of a small batch (``x @ W``, ``M`` = 20 rows, and the weight update ``W += x.T @ dh``,
``K`` = 20).

OpenBLAS blocks for large square-ish products. For these shapes, on one thread (the split
products hold it to one) of an AVX-512 machine, it took twice these kernels' time in a warm
cache (256x500x10: 57 against 27 us), and left to its own threads, ``dz @ W.T`` took four
times longer. Here the small side fits one tile of ``LANES`` lanes, 64 bytes (``N``, padded
with zeros) or a few (``K``), the large sides stream through the cache once, and the
accumulators stay in registers (GCC's vector extensions at the machine's width: portable C,
one vector op per SIMD instruction). On AVX2 a tile takes two vectors and half the
accumulators fit: there the kernels are at best as fast as the BLAS, and ``runtime.cpu.blas`` leaves
those products to it (``skinny_vector_bytes`` says which machine they were built for).
Where they pay, it calls them from ``PARALLEL_WORK`` multiply-adds up, where they run on the
threads: below it, in a train step the operands come cold from memory and the product is no
faster than the BLAS's.

For a small batch, OpenBLAS used half the machine's multiply-adds (784x500 weights, batch 20:
``x @ W`` 150-180 us on two cores where ``skinny_m`` takes 100-125) and the split update and
product passed the weights between the cores' caches every step. Here each core keeps its
half of the weights' rows in its cache through the update (``skinny_k``, rows of ``C`` in
static halves), the product (``skinny_m`` halves ``k`` when ``B'`` has more rows than columns:
two partial products, added in a fixed order) and the sum of their squares (``codegen.c``,
flat halves): the train part of the tutorials' mlp.py epoch went from 1.11 to 0.86 s.

Each element of ``C`` is summed in the order of ``k`` (by one thread, or in ``skinny_m``'s
two fixed halves), so the bits do not depend on the number of threads. ``work`` is scratch
the caller gives: ``K * LANES`` elements for ``skinny_n``, ``K * round_up(N, GROUP_K *
LANES)`` for ``skinny_k``, and ``K * (M + 4 + TILES_M * LANES) + 2 * M * N`` for ``skinny_m``.
"""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
LANES = {"float32": 16, "float64": 8}  # one 64-byte tile
MAX_K = 32  # skinny_k's largest K
GROUP_K = 4  # skinny_k pads B''s rows to whole groups of this many tiles
MAX_M = 24  # skinny_m's largest M: two blocks of rows
ROW_BLOCKS = tuple(range(4, MAX_M // 2 + 1, 2))  # skinny_m's rows per block, rounded up (rows past M read zeros)
TILES_M = 2  # skinny_m's tiles per block: two loads of B' feed up to 24 multiply-adds
PARALLEL_WORK = 1 << 22  # multiply-adds (about 100 us on one core) from which the blocks are shared among the threads:
# below, a thread that another process has descheduled stalls the product longer than a second thread saves

# The machine's vector width, from what the compiler targets. A tile of L lanes is P native
# vectors: GCC keeps a vector wider than the machine's in memory, not in registers, and every
# multiply-add then goes through the stack (on AVX2, 7-13 times slower than the BLAS). ACC tiles
# of accumulators fill half the vector registers, leaving the rest to the operands.
MACHINE = """#if defined(__AVX512F__)
#define VB 64
#define REGS 32
#elif defined(__AVX__)
#define VB 32
#define REGS 16
#elif defined(__aarch64__)
#define VB 16
#define REGS 32
#else
#define VB 16
#define REGS 16
#endif
#define P (64 / VB)
#define ACC (REGS / 2 / P)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define ROWS MIN(ACC, 8)  /* rows of C per block in skinny_n over rows of A: one load of B each k */
#define ROWS_K MIN(ACC, 4)  /* rows of C per block in skinny_k */
#define TILES_K MIN(GROUP_K, ACC / ROWS_K)  /* tiles of C's columns per block in skinny_k: 1, 2 or GROUP_K */
#define COLS MIN(ACC, L)  /* columns of C per pass in skinny_n over columns of A */
#define EACH(i, n) _Pragma("GCC unroll 16") for (int i = 0; i < (n); i++)
/* A tile from memory into P vectors, and back: one vector load or store each (memcpy of the
 * whole tile would go through the stack). The accumulators are only ever indexed by
 * constants, so that they stay in registers. */
#define LOAD(v, src) EACH(p_, P) memcpy(&(v)[p_], (src) + p_ * (L / P), VB)
#define STORE(dst, v) EACH(p_, P) memcpy((dst) + p_ * (L / P), &(v)[p_], VB)
"""
UNDEFINE = "".join(f"#undef {m}\n" for m in ("VB", "REGS", "P", "ACC", "MIN", "ROWS", "ROWS_K", "TILES_K", "COLS",
                                             "EACH", "LOAD", "STORE"))


def skinny_program(dtype: str) -> Program:
    """``skinny_n_<dtype>`` and ``skinny_k_<dtype>``: ``C = alpha A' B' + beta C`` (``C``
    row-major with row stride ``ldc``; ``A'[i, k] = A[i*sai + k*sak]``, ``B'[k, j] =
    B[k*sbk + j*sbj]``; as in the BLAS, ``beta`` 0 ignores ``C``'s old contents).
    ``skinny_n`` needs ``N <= LANES`` and ``A'`` contiguous along ``k`` (``sak`` 1) or along
    ``i`` (``sai`` 1); ``skinny_k`` needs ``K <= MAX_K``; ``skinny_m`` needs ``M <= MAX_M`` and
    ``B'`` contiguous along ``j`` (``sbj`` 1)."""
    t, lanes, v = CTYPES[dtype], LANES[dtype], f"vec_{dtype}"
    source = f"""#include <string.h>
#pragma GCC push_options
#pragma GCC optimize ("fp-contract=fast")  /* fused multiply-adds, as the BLAS uses; elementwise kernels keep theirs off */
#define L {lanes}
#define GROUP_K {GROUP_K}
{MACHINE}typedef {t} {v} __attribute__((vector_size(VB)));
#define PARALLEL if (M * N * K > {PARALLEL_WORK})

static void put_{dtype}({t}* c, const {t}* x, long n, {t} alpha, {t} beta) {{
    if (beta == 0) for (long j = 0; j < n; j++) c[j] = alpha * x[j];
    else for (long j = 0; j < n; j++) c[j] = alpha * x[j] + beta * c[j];
}}

void skinny_n_{dtype}(long M, long N, long K, double alpha_, const void* pa, long sai, long sak, const void* pb,
                      long sbk, long sbj, double beta_, void* pc, long ldc, void* pwork) {{
    const {t}* A = pa; const {t}* B = pb; {t}* C = pc; {t}* Bp = pwork;
    const {t} alpha = alpha_, beta = beta_;
    for (long k = 0; k < K; k++)  /* B' row by row, each one tile with zeros past N */
        for (long j = 0; j < L; j++) Bp[k * L + j] = j < N ? B[k * sbk + j * sbj] : 0;
    if (sak == 1) {{  /* rows of A': ROWS rows of C at a time, each a tile over j */
        const long blocks = (M + ROWS - 1) / ROWS;
        #pragma omp parallel for schedule(static) PARALLEL
        for (long b = 0; b < blocks; b++) {{
            const long i0 = b * ROWS, n = M - i0 < ROWS ? M - i0 : ROWS;
            const {t}* a = A + i0 * sai;
            {t} out[ROWS][L];
            if (n == ROWS) {{
                {v} acc[ROWS][P] = {{{{{{0}}}}}};
                for (long k = 0; k < K; k++) {{
                    {v} bk[P]; LOAD(bk, Bp + k * L);
                    EACH(r, ROWS) {{ const {t} x = a[r * sai + k]; EACH(p, P) acc[r][p] += x * bk[p]; }}
                }}
                EACH(r, ROWS) STORE(out[r], acc[r]);
            }} else for (long r = 0; r < n; r++) {{
                {v} acc[P] = {{0}};
                for (long k = 0; k < K; k++) {{
                    {v} bk[P]; LOAD(bk, Bp + k * L);
                    EACH(p, P) acc[p] += a[r * sai + k] * bk[p];
                }}
                STORE(out[r], acc);
            }}
            for (long r = 0; r < n; r++) put_{dtype}(C + (i0 + r) * ldc, out[r], N, alpha, beta);
        }}
    }} else {{  /* columns of A' (sai 1): L rows of C at a time, COLS columns j per pass */
        const long blocks = (M + L - 1) / L;
        #pragma omp parallel for schedule(static) PARALLEL
        for (long b = 0; b < blocks; b++) {{
            const long i0 = b * L, n = M - i0 < L ? M - i0 : L;
            {t} out[L][L], tile[L] = {{0}};
            for (long j0 = 0; j0 < N; j0 += COLS) {{
                {v} acc[COLS][P] = {{{{{{0}}}}}};
                for (long k = 0; k < K; k++) {{
                    {v} ak[P];
                    if (n == L) LOAD(ak, A + k * sak + i0);
                    else {{ memcpy(tile, A + k * sak + i0, n * sizeof({t})); LOAD(ak, tile); }}
                    const {t}* bk = Bp + k * L + j0;
                    EACH(j, COLS) EACH(p, P) acc[j][p] += bk[j] * ak[p];
                }}
                EACH(j, COLS) STORE(out[j0 + j], acc[j]);
            }}
            for (long i = 0; i < n; i++) {{
                {t} row[L];
                for (long j = 0; j < N; j++) row[j] = out[j][i];
                put_{dtype}(C + (i0 + i) * ldc, row, N, alpha, beta);
            }}
        }}
    }}
}}

void skinny_k_{dtype}(long M, long N, long K, double alpha_, const void* pa, long sai, long sak, const void* pb,
                      long sbk, long sbj, double beta_, void* pc, long ldc, void* pwork) {{
    const {t}* A = pa; const {t}* B = pb; {t}* C = pc; {t}* Bp = pwork;
    const {t} alpha = alpha_, beta = beta_;
    const long Np = (N + GROUP_K * L - 1) / (GROUP_K * L) * (GROUP_K * L);
    for (long k = 0; k < K; k++) {{  /* B' with rows padded to whole groups of tiles */
        {t}* row = Bp + k * Np;
        if (sbj == 1) memcpy(row, B + k * sbk, N * sizeof({t}));
        else for (long j = 0; j < N; j++) row[j] = B[k * sbk + j * sbj];
        for (long j = N; j < Np; j++) row[j] = 0;
    }}
    const long blocks = (M + ROWS_K - 1) / ROWS_K;
    #pragma omp parallel for schedule(static) PARALLEL
    for (long b = 0; b < blocks; b++) {{
        const long i0 = b * ROWS_K, n = M - i0 < ROWS_K ? M - i0 : ROWS_K;
        {t} a[ROWS_K][{MAX_K}] = {{{{0}}}}, out[ROWS_K][TILES_K * L];
        for (long r = 0; r < n; r++) for (long k = 0; k < K; k++) a[r][k] = alpha * A[(i0 + r) * sai + k * sak];
        for (long j = 0; j < Np; j += TILES_K * L) {{
            {v} acc[ROWS_K][TILES_K][P] = {{{{{{0}}}}}};
            for (long k = 0; k < K; k++) {{
                {v} bk[TILES_K][P];
                EACH(s, TILES_K) LOAD(bk[s], Bp + k * Np + j + s * L);
                EACH(r, ROWS_K) EACH(s, TILES_K) EACH(p, P) acc[r][s][p] += a[r][k] * bk[s][p];
            }}
            EACH(r, ROWS_K) EACH(s, TILES_K) STORE(out[r] + s * L, acc[r][s]);
            const long w = N - j < TILES_K * L ? N - j : TILES_K * L;
            for (long r = 0; r < n; r++) put_{dtype}(C + (i0 + r) * ldc + j, out[r], w, 1, beta);
        }}
    }}
}}

#pragma GCC push_options
#pragma GCC optimize ("O2", "tree-vectorize", "vect-cost-model=dynamic")  /* as fast as -O3, 0.1 s less to build */
{_row_blocks(dtype)}
void skinny_m_{dtype}(long M, long N, long K, double alpha_, const void* pa, long sai, long sak, const void* pb,
                      long sbk, long sbj, double beta_, void* pc, long ldc, void* pwork) {{
    const {t}* A = pa; const {t}* B = pb; {t}* C = pc;
    const {t} alpha = alpha_, beta = beta_;
    const long blocks = (M + {MAX_M // 2 - 1}) / {MAX_M // 2}, even = ((M + blocks - 1) / blocks + 1) / 2 * 2;
    const long R = even < {ROW_BLOCKS[0]} ? {ROW_BLOCKS[0]} : even, Mp = blocks * R;
    const long W = {TILES_M} * L, full = N / W, tiles = (N + W - 1) / W;
    const long parts = M * N * K > {PARALLEL_WORK} && K > N ? 2 : 1;  /* halves of k, each summed apart */
    {t}* Ap = pwork;  /* A' column by column, Mp rows (zeros past M), alpha in: K * Mp */
    {t}* Bt = Ap + K * Mp;  /* B''s last columns, zeros past N: K * W */
    {t}* sums = Bt + K * W;  /* the parts' products: parts * M * N */
    #pragma omp parallel PARALLEL
    {{
        #pragma omp for schedule(static)
        for (long k = 0; k < K; k++) {{
            for (long i = 0; i < Mp; i++) Ap[k * Mp + i] = i < M ? alpha * A[i * sai + k * sak] : 0;
            for (long j = full * W; j < tiles * W; j++) Bt[k * W + j - full * W] = j < N ? B[k * sbk + j] : 0;
        }}
        #pragma omp for schedule(static)
        for (long q = 0; q < parts * tiles; q++) {{
            const long part = q / tiles, tile = q % tiles, k0 = K * part / parts, k1 = K * (part + 1) / parts;
            const int last = tile == full;
            const long stride = last ? W : sbk, w = last ? N - full * W : W;
            const {t}* b = (last ? Bt : B + tile * W) + k0 * stride;
            const long ld = parts == 1 ? ldc : N;
            const {t} to_old = parts == 1 ? beta : 0;
            for (long i0 = 0; i0 < M; i0 += R) {{  /* each block of rows reads the tile of B' again, from the cache */
                const {t}* a = Ap + k0 * Mp + i0;
                {t}* c = (parts == 1 ? C + i0 * ldc : sums + part * M * N + i0 * N) + tile * W;
                const long n = M - i0 < R ? M - i0 : R;
                switch (R) {{
{_row_block_cases(dtype)}                }}
            }}
        }}
        if (parts == 2) {{
            #pragma omp for schedule(static)
            for (long i = 0; i < M; i++) {{
                const {t}* s0 = sums + i * N; const {t}* s1 = s0 + M * N; {t}* c = C + i * ldc;
                if (beta == 0) for (long j = 0; j < N; j++) c[j] = s0[j] + s1[j];
                else for (long j = 0; j < N; j++) c[j] = (s0[j] + s1[j]) + beta * c[j];
            }}
        }}
    }}
}}

#pragma GCC pop_options

void skinny_vector_bytes_{dtype}(long* out) {{  /* the machine vector these kernels were built for */
    *out = VB;
}}
#undef PARALLEL
#undef L
#undef GROUP_K
{UNDEFINE}#pragma GCC pop_options
"""
    size, real, buf = ("int", "long"), ("int", "double"), ("buffer", dtype)
    args = (size, size, size, real, buf, size, size, buf, size, size, real, buf, size, buf)
    return Program("c", source, (*(EntryPoint(f"skinny_{kind}_{dtype}", args) for kind in "nkm"),
                                 EntryPoint(f"skinny_vector_bytes_{dtype}", (("buffer", "int64"),))))


def _row_blocks(dtype: str) -> str:
    """``skinny_m``'s inner kernels, one per row count ``R``: ``R`` rows of ``C`` by
    ``TILES_M`` tiles of columns, ``w`` of them kept and rows from ``n`` on not written; ``a``
    holds ``A'`` column by column (``lda`` apart), ``b`` the rows of ``B'`` (``sbk`` apart).
    Each multiply-add broadcasts its element of ``A'`` from memory: ``TILES_M`` loads of
    ``B'`` and ``R`` broadcasts feed ``R * TILES_M`` of them (one tile: 21 loads for 20, and a
    step of the tutorials' mlp.py took 124 us on ``x @ W`` against 103 with two)."""
    t, v = CTYPES[dtype], f"vec_{dtype}"
    put_rows = f"""
static __attribute__((noinline)) void put_rows_{dtype}({t}* c, long ldc, const {t}* out, long n, long w, {t} beta) {{
    for (long r = 0; r < n; r++) put_{dtype}(c + r * ldc, out + r * {TILES_M} * L, w, 1, beta);  /* one for every R */
}}"""
    return put_rows + "".join(f"""
static __attribute__((noinline)) void skinny_m{R}_{dtype}(long K, const {t}* a, long lda, const {t}* b, long sbk,
                                                         {t}* c, long ldc, long n, long w, {t} beta) {{
    {v} acc[{R}][{TILES_M}][P] = {{{{{{0}}}}}};
    for (long k = 0; k < K; k++) {{
        {v} bk[{TILES_M}][P];
        EACH(s, {TILES_M}) LOAD(bk[s], b + k * sbk + s * L);
        EACH(r, {R}) EACH(s, {TILES_M}) EACH(p, P) acc[r][s][p] += a[k * lda + r] * bk[s][p];
    }}
    {t} out[{R}][{TILES_M} * L];
    EACH(r, {R}) EACH(s, {TILES_M}) STORE(out[r] + s * L, acc[r][s]);
    put_rows_{dtype}(c, ldc, out[0], n, w, beta);
}}""" for R in ROW_BLOCKS)


def _row_block_cases(dtype: str) -> str:
    call = "(k1 - k0, a, Mp, b, stride, c, ld, n, w, to_old); break;\n"
    return "".join(f"                case {R}: skinny_m{R}_{dtype}{call}" for R in ROW_BLOCKS)
