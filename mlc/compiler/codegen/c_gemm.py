"""A C driver that runs one large matrix product as column blocks of the result on mlc's
OpenMP threads, each block a single-threaded BLAS call (one owner of the cores).

OpenBLAS's own threads wait for each other inside every product: on a machine whose cores
other processes keep busy, one descheduled thread stalls the rest, and a step can take ten
times longer. Blocks handed out one at a time (``schedule(dynamic)``) go to whichever
thread runs, and the block count is fixed by the caller, not by the threads, so the result
is the same bits however many threads run and however busy the machine is.
"""
from __future__ import annotations

from .program import EntryPoint, Program

CTYPES = {"float32": "float", "float64": "double"}


def gemm_split_program(int_type: str) -> Program:
    """``gemm_split_<dtype>``: ``C = alpha op(A) op(B) + beta C`` (row-major) through the BLAS
    function ``gemm`` (a pointer, with integers of ``int_type``), ``C`` split into ``blocks``
    of columns, or of rows (``by_rows``: each block then reads all of ``op(B)`` and its share
    of ``op(A)``); ``set_threads`` (OpenBLAS's) is given 1 for the calls and ``threads`` after."""
    parts = ["#include <stdint.h>"]
    entries = []
    for dtype, t in CTYPES.items():
        parts.append(f"""
typedef void (*gemm_{dtype}_t)(int, int, int, {int_type}, {int_type}, {int_type}, {t}, const {t}*, {int_type},
                               const {t}*, {int_type}, {t}, {t}*, {int_type});
void gemm_split_{dtype}(void* gemm, void* set_threads, int threads, int ta, int tb, long M, long N, long K,
                        double alpha, const void* pa, long lda, const void* pb, long ldb, double beta, void* pc,
                        long ldc, long blocks, int by_rows) {{
    const gemm_{dtype}_t f = (gemm_{dtype}_t)gemm;
    const {t}* A = (const {t}*)pa; const {t}* B = (const {t}*)pb; {t}* C = ({t}*)pc;
    ((void (*)(int))set_threads)(1);
    #pragma omp parallel for schedule(dynamic, 1) if (blocks > 1)
    for (long b = 0; b < blocks; b++) {{
        if (by_rows) {{  /* rows i0..i1 of op(A): rows of A, or its columns when used transposed */
            const long i0 = M * b / blocks, i1 = M * (b + 1) / blocks;
            const {t}* Ab = ta == 111 ? A + i0 * lda : A + i0;
            f(101, ta, tb, i1 - i0, N, K, ({t})alpha, Ab, lda, B, ldb, ({t})beta, C + i0 * ldc, ldc);
        }} else {{  /* columns j0..j1 of op(B): columns of B, or its rows when used transposed */
            const long j0 = N * b / blocks, j1 = N * (b + 1) / blocks;
            const {t}* Bb = tb == 111 ? B + j0 : B + j0 * ldb;
            f(101, ta, tb, M, j1 - j0, K, ({t})alpha, A, lda, Bb, ldb, ({t})beta, C + j0, ldc);
        }}
    }}
    ((void (*)(int))set_threads)(threads);
}}""")
        entries.append(EntryPoint(f"gemm_split_{dtype}", (
            ("buffer", "void"), ("buffer", "void"), ("int", "int"), ("int", "int"), ("int", "int"),
            ("int", "long"), ("int", "long"), ("int", "long"), ("int", "double"), ("buffer", dtype),
            ("int", "long"), ("buffer", dtype), ("int", "long"), ("int", "double"), ("buffer", dtype),
            ("int", "long"), ("int", "long"), ("int", "int"))))
    return Program("c", "\n".join(parts) + "\n", tuple(entries))
