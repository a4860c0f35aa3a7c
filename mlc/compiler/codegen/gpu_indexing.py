"""Device kernels for integer indexing: rows picked by one index vector (``x[idx]``, the
minibatch gather), elements picked by pairs of index vectors (``x[rows, cols]``, as losses
index their predictions) and its gradient, adding values at pairs (duplicates accumulate).
Each sets ``bad[0]`` on an index out of range, which the thunk turns into an IndexError."""
from __future__ import annotations

from .program import EntryPoint, Program


class IndexingKernels:
    """Mixed into ``GPURenderer``: uses its ``index_type``, qualifiers and work-item ids."""

    def take_rows(self, dtype: str) -> Program:
        """``out = x[idx]`` for an int64 index vector over the rows of a C-contiguous ``x``
        (negative indices count from the end); an index out of range sets ``bad[0]``."""
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        name = f"take_rows_{dtype}"
        source = f"""{self.prelude}
{self.kernel_prefix} void {name}(const {idx} n, const {idx} row, const {idx} rows, {q}const {t}* restrict x,
        {q}const {idx}* restrict index, {q}{t}* restrict out, {q}int* restrict bad) {{
    for ({idx} i = {self.global_id}; i < n; i += {self.global_size}) {{
        {idx} k = index[i / row];
        if (k < 0) k += rows;
        if (k < 0 || k >= rows) {{ bad[0] = 1; continue; }}
        out[i] = x[k * row + i % row];
    }}
}}
"""
        args = (("int", idx), ("int", idx), ("int", idx), ("buffer", dtype), ("buffer", "int64"), ("buffer", dtype),
                ("buffer", "int32"))
        return Program(self.language, source, (EntryPoint(name, args),))

    def take_pairs(self, dtype: str) -> Program:
        """``out[k] = x[rows[k * rs], cols[k * cs]]`` for a C-contiguous matrix ``x`` and int64
        index vectors (a step of 0 repeats a one-element vector); negative indices count from
        the end."""
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        name = f"take_pairs_{dtype}"
        source = f"""{self.prelude}
{self.kernel_prefix} void {name}(const {idx} n, const {idx} nrows, const {idx} ncols, {q}const {t}* restrict x,
        {q}const {idx}* restrict rows, const {idx} rs, {q}const {idx}* restrict cols, const {idx} cs,
        {q}{t}* restrict out, {q}int* restrict bad) {{
    for ({idx} k = {self.global_id}; k < n; k += {self.global_size}) {{
        {idx} r = rows[k * rs], c = cols[k * cs];
        if (r < 0) r += nrows;
        if (c < 0) c += ncols;
        if (r < 0 || r >= nrows || c < 0 || c >= ncols) {{ bad[0] = 1; continue; }}
        out[k] = x[r * ncols + c];
    }}
}}
"""
        args = (("int", idx), ("int", idx), ("int", idx), ("buffer", dtype), ("buffer", "int64"), ("int", idx),
                ("buffer", "int64"), ("int", idx), ("buffer", dtype), ("buffer", "int32"))
        return Program(self.language, source, (EntryPoint(name, args),))

    def add_at_pairs(self, dtype: str) -> Program:
        """``out[rows[k], cols[k]] += y[k * ys]`` (or ``=`` with ``set_mode``) for every ``k``,
        in order, by one work-item: repeated pairs accumulate exactly as NumPy's ``add.at``
        and the result does not depend on scheduling (the loop is as long as the index
        vectors, a minibatch for a loss's gradient)."""
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        name = f"add_at_pairs_{dtype}"
        source = f"""{self.prelude}
{self.kernel_prefix} void {name}(const {idx} n, const {idx} nrows, const {idx} ncols, {q}{t}* restrict out,
        {q}const {t}* restrict y, const {idx} ys, {q}const {idx}* restrict rows, const {idx} rs,
        {q}const {idx}* restrict cols, const {idx} cs, const int set_mode, {q}int* restrict bad) {{
    if ({self.global_id} != 0) return;
    for ({idx} k = 0; k < n; k++) {{
        {idx} r = rows[k * rs], c = cols[k * cs];
        if (r < 0) r += nrows;
        if (c < 0) c += ncols;
        if (r < 0 || r >= nrows || c < 0 || c >= ncols) {{ bad[0] = 1; continue; }}
        if (set_mode) out[r * ncols + c] = y[k * ys];
        else out[r * ncols + c] += y[k * ys];
    }}
}}
"""
        args = (("int", idx), ("int", idx), ("int", idx), ("buffer", dtype), ("buffer", dtype), ("int", idx),
                ("buffer", "int64"), ("int", idx), ("buffer", "int64"), ("int", idx), ("int", "int32"),
                ("buffer", "int32"))
        return Program(self.language, source, (EntryPoint(name, args),))
