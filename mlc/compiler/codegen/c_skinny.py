"""C kernels for the matrix products that have one small side, which the BLAS does poorly:
a classifier's last layer (``h @ W``, ``N`` = 10 classes), its weight gradient
(``h.T @ dz``) and the gradient that flows back through it (``dz @ W.T``, ``K`` = 10).

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

Each element of ``C`` is summed by one thread in the order of ``k``, so the bits do not
depend on the number of threads. ``work`` is scratch the caller gives: ``K * LANES``
elements for ``skinny_n``, ``K * round_up(N, LANES)`` for ``skinny_k``.
"""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
LANES = {"float32": 16, "float64": 8}  # one 64-byte tile
MAX_K = 16  # skinny_k's largest K
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
#define COLS MIN(ACC, L)  /* columns of C per pass in skinny_n over columns of A */
#define EACH(i, n) _Pragma("GCC unroll 16") for (int i = 0; i < (n); i++)
/* A tile from memory into P vectors, and back: one vector load or store each (memcpy of the
 * whole tile would go through the stack). The accumulators are only ever indexed by
 * constants, so that they stay in registers. */
#define LOAD(v, src) EACH(p_, P) memcpy(&(v)[p_], (src) + p_ * (L / P), VB)
#define STORE(dst, v) EACH(p_, P) memcpy((dst) + p_ * (L / P), &(v)[p_], VB)
"""
UNDEFINE = "".join(f"#undef {m}\n" for m in ("VB", "REGS", "P", "ACC", "MIN", "ROWS", "ROWS_K", "COLS", "EACH", "LOAD", "STORE"))


def skinny_program(dtype: str) -> Program:
    """``skinny_n_<dtype>`` and ``skinny_k_<dtype>``: ``C = alpha A' B' + beta C`` (``C``
    row-major with row stride ``ldc``; ``A'[i, k] = A[i*sai + k*sak]``, ``B'[k, j] =
    B[k*sbk + j*sbj]``; as in the BLAS, ``beta`` 0 ignores ``C``'s old contents).
    ``skinny_n`` needs ``N <= LANES`` and ``A'`` contiguous along ``k`` (``sak`` 1) or along
    ``i`` (``sai`` 1); ``skinny_k`` needs ``K <= MAX_K``."""
    t, lanes, v = CTYPES[dtype], LANES[dtype], f"vec_{dtype}"
    source = f"""#include <string.h>
#pragma GCC push_options
#pragma GCC optimize ("fp-contract=fast")  /* fused multiply-adds, as the BLAS uses; elementwise kernels keep theirs off */
#define L {lanes}
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
    const long Np = (N + L - 1) / L * L;
    for (long k = 0; k < K; k++) {{  /* B' with rows padded to whole tiles */
        {t}* row = Bp + k * Np;
        if (sbj == 1) memcpy(row, B + k * sbk, N * sizeof({t}));
        else for (long j = 0; j < N; j++) row[j] = B[k * sbk + j * sbj];
        for (long j = N; j < Np; j++) row[j] = 0;
    }}
    const long blocks = (M + ROWS_K - 1) / ROWS_K;
    #pragma omp parallel for schedule(static) PARALLEL
    for (long b = 0; b < blocks; b++) {{
        const long i0 = b * ROWS_K, n = M - i0 < ROWS_K ? M - i0 : ROWS_K;
        {t} a[ROWS_K][{MAX_K}] = {{{{0}}}}, out[L];
        for (long r = 0; r < n; r++) for (long k = 0; k < K; k++) a[r][k] = alpha * A[(i0 + r) * sai + k * sak];
        for (long j = 0; j < Np; j += L) {{
            {v} acc[ROWS_K][P] = {{{{{{0}}}}}};
            for (long k = 0; k < K; k++) {{
                {v} bk[P]; LOAD(bk, Bp + k * Np + j);
                EACH(r, ROWS_K) EACH(p, P) acc[r][p] += a[r][k] * bk[p];
            }}
            const long w = N - j < L ? N - j : L;
            EACH(r, ROWS_K) if (r < n) {{
                {t}* c = C + (i0 + r) * ldc + j;
                if (w == L) {{
                    if (beta != 0) {{ {v} old[P]; LOAD(old, c); EACH(p, P) acc[r][p] += beta * old[p]; }}
                    STORE(c, acc[r]);
                }} else {{
                    STORE(out, acc[r]);
                    put_{dtype}(c, out, w, 1, beta);
                }}
            }}
        }}
    }}
}}

void skinny_vector_bytes_{dtype}(long* out) {{  /* the machine vector these kernels were built for */
    *out = VB;
}}
#undef PARALLEL
#undef L
{UNDEFINE}#pragma GCC pop_options
"""
    size, real, buf = ("int", "long"), ("int", "double"), ("buffer", dtype)
    args = (size, size, size, real, buf, size, size, buf, size, size, real, buf, size, buf)
    return Program("c", source, (EntryPoint(f"skinny_n_{dtype}", args), EntryPoint(f"skinny_k_{dtype}", args),
                                 EntryPoint(f"skinny_vector_bytes_{dtype}", (("buffer", "int64"),))))
