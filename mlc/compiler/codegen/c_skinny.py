"""C kernels for the matrix products that have one small side, which the BLAS does poorly:
a classifier's last layer (``h @ W``, ``N`` = 10 classes), its weight gradient
(``h.T @ dz``) and the gradient that flows back through it (``dz @ W.T``, ``K`` = 10).

OpenBLAS blocks for large square-ish products. For these shapes, on one thread (the split
products hold it to one), it took twice these kernels' time in a warm cache (256x500x10:
57 against 27 us), and left to its own threads, ``dz @ W.T`` took four times longer. Here
the small side fits one vector of ``LANES`` lanes (``N``, padded with zeros) or a few
(``K``), the large sides stream through the cache once, and the accumulators stay in
registers (GCC's vector extensions: portable C, one vector op per SIMD instruction where the
machine has the width, several where it has less). ``runtime.cpu.blas`` calls them from
``PARALLEL_WORK`` multiply-adds up, where they run on the threads: below it, in a train
step the operands come cold from memory and the product is no faster than the BLAS's.

Each element of ``C`` is summed by one thread in the order of ``k``, so the bits do not
depend on the number of threads. ``work`` is scratch the caller gives: ``K * LANES``
elements for ``skinny_n``, ``K * round_up(N, LANES)`` for ``skinny_k``.
"""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}
LANES = {"float32": 16, "float64": 8}  # one 64-byte vector
MAX_K = 16  # skinny_k's largest K
ROWS = 8  # rows of C per block in skinny_n over rows of A: 8 accumulators, one load of B each k
ROWS_K = 4  # rows of C per block in skinny_k
PARALLEL_WORK = 1 << 22  # multiply-adds (about 100 us on one core) from which the blocks are shared among the threads:
# below, a thread that another process has descheduled stalls the product longer than a second thread saves


def _accumulators(vec: str, names: list[str]) -> str:
    return " ".join(f"{vec} {n} = {{0}};" for n in names)


def skinny_program(dtype: str) -> Program:
    """``skinny_n_<dtype>`` and ``skinny_k_<dtype>``: ``C = alpha A' B' + beta C`` (``C``
    row-major with row stride ``ldc``; ``A'[i, k] = A[i*sai + k*sak]``, ``B'[k, j] =
    B[k*sbk + j*sbj]``; as in the BLAS, ``beta`` 0 ignores ``C``'s old contents).
    ``skinny_n`` needs ``N <= LANES`` and ``A'`` contiguous along ``k`` (``sak`` 1) or along
    ``i`` (``sai`` 1); ``skinny_k`` needs ``K <= MAX_K``."""
    t, lanes, v = CTYPES[dtype], LANES[dtype], f"vec_{dtype}"
    rows = [f"r{r}" for r in range(ROWS)]
    cols = [f"c{j}" for j in range(lanes)]
    rows_k = [f"r{r}" for r in range(ROWS_K)]
    source = f"""#include <string.h>
#pragma GCC push_options
#pragma GCC optimize ("fp-contract=fast")  /* fused multiply-adds, as the BLAS uses; elementwise kernels keep theirs off */
typedef {t} {v} __attribute__((vector_size(64)));
#define L {lanes}
#define PARALLEL if (M * N * K > {PARALLEL_WORK})

static void put_{dtype}({t}* c, const {t}* x, long n, {t} alpha, {t} beta) {{
    if (beta == 0) for (long j = 0; j < n; j++) c[j] = alpha * x[j];
    else for (long j = 0; j < n; j++) c[j] = alpha * x[j] + beta * c[j];
}}

void skinny_n_{dtype}(long M, long N, long K, double alpha_, const void* pa, long sai, long sak, const void* pb,
                      long sbk, long sbj, double beta_, void* pc, long ldc, void* pwork) {{
    const {t}* A = pa; const {t}* B = pb; {t}* C = pc; {v}* Bp = pwork;
    const {t} alpha = alpha_, beta = beta_;
    for (long k = 0; k < K; k++) {{  /* B' row by row, each one vector with zeros past N */
        {t}* row = ({t}*)(Bp + k);
        for (long j = 0; j < L; j++) row[j] = j < N ? B[k * sbk + j * sbj] : 0;
    }}
    if (sak == 1) {{  /* rows of A': {ROWS} rows of C at a time, each a vector over j */
        const long blocks = (M + {ROWS - 1}) / {ROWS};
        #pragma omp parallel for schedule(static) PARALLEL
        for (long b = 0; b < blocks; b++) {{
            const long i0 = b * {ROWS}, n = M - i0 < {ROWS} ? M - i0 : {ROWS};
            const {t}* a = A + i0 * sai;
            {t} out[{ROWS}][L];
            if (n == {ROWS}) {{
                {_accumulators(v, rows)}
                for (long k = 0; k < K; k++) {{
                    {v} b; memcpy(&b, Bp + k, sizeof b);
                    {" ".join(f"{r} += a[{i} * sai + k] * b;" for i, r in enumerate(rows))}
                }}
                {" ".join(f"memcpy(out[{i}], &{r}, sizeof({v}));" for i, r in enumerate(rows))}
            }} else for (long r = 0; r < n; r++) {{
                {v} acc = {{0}};
                for (long k = 0; k < K; k++) {{ {v} b; memcpy(&b, Bp + k, sizeof b); acc += a[r * sai + k] * b; }}
                memcpy(out[r], &acc, sizeof({v}));
            }}
            for (long r = 0; r < n; r++) put_{dtype}(C + (i0 + r) * ldc, out[r], N, alpha, beta);
        }}
    }} else {{  /* columns of A' (sai 1): L rows of C at a time, one vector per column j */
        const long blocks = (M + L - 1) / L;
        #pragma omp parallel for schedule(static) PARALLEL
        for (long b = 0; b < blocks; b++) {{
            const long i0 = b * L, n = M - i0 < L ? M - i0 : L;
            {t} out[L][L], tile[L] = {{0}};
            {_accumulators(v, cols)}
            for (long k = 0; k < K; k++) {{
                {v} a;
                if (n == L) memcpy(&a, A + k * sak + i0, sizeof a);
                else {{ memcpy(tile, A + k * sak + i0, n * sizeof({t})); memcpy(&a, tile, sizeof a); }}
                const {t}* bk = (const {t}*)(Bp + k);
                {" ".join(f"{c} += bk[{j}] * a;" for j, c in enumerate(cols))}
            }}
            {" ".join(f"memcpy(out[{j}], &{c}, sizeof({v}));" for j, c in enumerate(cols))}
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
    for (long k = 0; k < K; k++) {{  /* B' with rows padded to whole vectors */
        {t}* row = Bp + k * Np;
        if (sbj == 1) memcpy(row, B + k * sbk, N * sizeof({t}));
        else for (long j = 0; j < N; j++) row[j] = B[k * sbk + j * sbj];
        for (long j = N; j < Np; j++) row[j] = 0;
    }}
    const long blocks = (M + {ROWS_K - 1}) / {ROWS_K};
    #pragma omp parallel for schedule(static) PARALLEL
    for (long b = 0; b < blocks; b++) {{
        const long i0 = b * {ROWS_K}, n = M - i0 < {ROWS_K} ? M - i0 : {ROWS_K};
        {t} a[{ROWS_K}][{MAX_K}] = {{{{0}}}}, out[L];
        for (long r = 0; r < n; r++) for (long k = 0; k < K; k++) a[r][k] = alpha * A[(i0 + r) * sai + k * sak];
        for (long j = 0; j < Np; j += L) {{
            {_accumulators(v, rows_k)}
            for (long k = 0; k < K; k++) {{
                {v} b; memcpy(&b, Bp + k * Np + j, sizeof b);
                {" ".join(f"{r} += a[{i}][k] * b;" for i, r in enumerate(rows_k))}
            }}
            const {v} acc[{ROWS_K}] = {{{", ".join(rows_k)}}};
            const long w = N - j < L ? N - j : L;
            for (long r = 0; r < n; r++) {{
                {t}* c = C + (i0 + r) * ldc + j;
                if (w == L) {{
                    {v} x = acc[r];
                    if (beta != 0) {{ {v} old; memcpy(&old, c, sizeof old); x += beta * old; }}
                    memcpy(c, &x, sizeof x);
                }} else {{
                    memcpy(out, acc + r, sizeof({v}));
                    put_{dtype}(c, out, w, 1, beta);
                }}
            }}
        }}
    }}
}}
#undef PARALLEL
#undef L
#pragma GCC pop_options
"""
    size, real, buf = ("int", "long"), ("int", "double"), ("buffer", dtype)
    args = (size, size, size, real, buf, size, size, buf, size, size, real, buf, size, buf)
    return Program("c", source, (EntryPoint(f"skinny_n_{dtype}", args), EntryPoint(f"skinny_k_{dtype}", args)))
