"""Device renderers: the same loop kernels as OpenCL C and as CUDA C.

The two languages differ only in the attributes of ``GPURenderer`` (kernel and buffer
qualifiers, how a work-item finds its index, the barrier, type names, the prelude), as in
tinygrad's ``renderer/cstyle.py``. The skeletons:

- ``kN_flat(n, in..., out)``: a grid-stride loop over contiguous elements;
- ``kN_strided(ndim, n, shape, strides, in..., out)``: the same over any layout, each
  work-item turning its flat index into offsets;
- ``kN_reduce(nk, nr, outer, inner, kshape, rshape, kstrides, rstrides, in..., out)``: one
  work-group per output element (grid-stride over them); its work-items accumulate strided
  parts of the reduced range, then combine them in local memory, halving with a barrier
  between steps. The work-group size must be a power of two, at most ``LOCAL_SIZE``.
"""
from __future__ import annotations

from typing import Sequence

from .cstyle import MACROS as MACROS_FOR_KERNELS
from .cstyle import CStyleRenderer, reduce_parts
from .gpu_conv import ConvKernels
from .gpu_indexing import IndexingKernels
from .loop_ir import LoopKernel
from .program import EntryPoint, Program

LOCAL_SIZE = 256


class GPURenderer(IndexingKernels, ConvKernels, CStyleRenderer):
    kernel_prefix = ""
    buffer_prefix = ""
    local_prefix = ""
    barrier = ""
    global_id = global_size = local_id = local_size = group_id = num_groups = ""
    prelude = ""

    def _params(self, k: LoopKernel) -> str:
        q = self.buffer_prefix
        decls = [f"{q}const {self.types[d]}* restrict in{i}" for i, d in enumerate(k.input_dtypes)]
        decls.append(f"{q}{self.types[k.out_dtype]}* restrict out")
        return ", ".join(decls)

    def _odometer(self, index: str, ndim: str, shape: str, strides: str, names: list, prefix: str) -> str:
        idx = self.index_type
        steps = " ".join(f"{prefix}{n} += i_ * {strides}[{j} * {ndim} + d];" for j, n in enumerate(names))
        return (f"{idx} rem_ = {index}; for (int d = {ndim} - 1; d >= 0; d--) "
                f"{{ {idx} i_ = rem_ % {shape}[d]; rem_ /= {shape}[d]; {steps} }}")

    def elementwise(self, name: str, k: LoopKernel) -> str:
        idx, q, params = self.index_type, self.buffer_prefix, self._params(k)
        nin = len(k.input_dtypes)
        flat, res = self.render_body(k, [f"in{i}[0]" if s else f"in{i}[i]" for i, s in enumerate(k.input_scalar)])
        strided, res2 = self.render_body(k, [f"in{i}[o{i}]" for i in range(nin)])
        names = [str(i) for i in range(nin)] + ["out"]
        zero = " ".join(f"{idx} o{n} = 0;" for n in names)
        walk = self._odometer("i", "ndim", "shape", "st", names, "o")
        return f"""
{self.kernel_prefix} void {name}_flat(const {idx} n, {params}) {{
    for ({idx} i = {self.global_id}; i < n; i += {self.global_size}) {{
        {' '.join(flat)}
        out[i] = {res};
    }}
}}

{self.kernel_prefix} void {name}_strided(const int ndim, const {idx} n, {q}const {idx}* restrict shape,
        {q}const {idx}* restrict st, {params}) {{
    for ({idx} i = {self.global_id}; i < n; i += {self.global_size}) {{
        {zero}
        {walk}
        {' '.join(strided)}
        out[oout] = {res2};
    }}
}}
"""

    def reduction(self, name: str, k: LoopKernel) -> str:
        idx, q, params = self.index_type, self.buffer_prefix, self._params(k)
        nin = len(k.input_dtypes)
        acc_t, out_t = self.types[k.acc_dtype], self.types[k.out_dtype]
        body, res = self.render_body(k, [f"in{i}[a{i}]" for i in range(nin)])
        init, combine, _ = reduce_parts(k.reduce_op, k.acc_dtype, self.literal)
        names = [str(i) for i in range(nin)]
        kzero = " ".join(f"{idx} b{n} = 0;" for n in names + ["out"])
        kwalk = self._odometer("o", "nk", "kshape", "kst", names + ["out"], "b")
        rstart = " ".join(f"{idx} a{n} = b{n};" for n in names)
        rwalk = self._odometer("r", "nr", "rshape", "rst", names, "a")
        merge = combine.format(acc="scratch[lid]", v="scratch[lid + s]")
        return f"""
{self.kernel_prefix} void {name}_reduce(const int nk, const int nr, const {idx} outer, const {idx} inner,
        {q}const {idx}* restrict kshape, {q}const {idx}* restrict rshape, {q}const {idx}* restrict kst,
        {q}const {idx}* restrict rst, {params}) {{
    {self.local_prefix}{acc_t} scratch[{LOCAL_SIZE}];
    const int lid = {self.local_id};
    const int lsize = {self.local_size};
    for ({idx} o = {self.group_id}; o < outer; o += {self.num_groups}) {{
        {kzero}
        {kwalk}
        {acc_t} acc = {init};
        for ({idx} r = lid; r < inner; r += lsize) {{
            {rstart}
            {rwalk}
            {' '.join(body)}
            acc = {combine.format(acc='acc', v=res)};
        }}
        scratch[lid] = acc;
        {self.barrier}
        for (int s = lsize / 2; s > 0; s >>= 1) {{
            if (lid < s) scratch[lid] = {merge};
            {self.barrier}
        }}
        if (lid == 0) out[bout] = ({out_t})scratch[0];
        {self.barrier}
    }}
}}
"""

    def gemm(self, dtype: str) -> Program:
        """``C = alpha * A @ B + beta * Z`` (alpha, beta read from one-element buffers; Z
        ignored when beta is 0, as in BLAS), operands at any strides, ``C`` contiguous. One
        work-group of 256 computes a 16x16 tile of C through 16x16 tiles in local memory."""
        idx, q, t, lp, sync = self.index_type, self.buffer_prefix, self.types[dtype], self.local_prefix, self.barrier
        name = f"gemm_{dtype}"
        source = f"""{self.prelude}
{self.kernel_prefix} void {name}(const {idx} M, const {idx} N, const {idx} K,
        {q}const {t}* restrict alpha, {q}const {t}* restrict beta,
        {q}const {t}* A, const {idx} sa0, const {idx} sa1, {q}const {t}* B, const {idx} sb0, const {idx} sb1,
        {q}const {t}* Z, const {idx} sz0, const {idx} sz1, {q}{t}* C) {{
    {lp}{t} As[16][16];
    {lp}{t} Bs[16][16];
    const int lid = {self.local_id};
    const int tx = lid % 16, ty = lid / 16;
    const {idx} tiles_n = (N + 15) / 16, tiles = ((M + 15) / 16) * tiles_n;
    const {t} a = alpha[0], b = beta[0];
    for ({idx} tile = {self.group_id}; tile < tiles; tile += {self.num_groups}) {{
        const {idx} i = (tile / tiles_n) * 16 + ty, j = (tile % tiles_n) * 16 + tx;
        {t} acc = 0;
        for ({idx} k0 = 0; k0 < K; k0 += 16) {{
            const {idx} ka = k0 + tx, kb = k0 + ty;
            As[ty][tx] = (i < M && ka < K) ? A[i * sa0 + ka * sa1] : ({t})0;
            Bs[ty][tx] = (kb < K && j < N) ? B[kb * sb0 + j * sb1] : ({t})0;
            {sync}
            for (int k = 0; k < 16; k++) acc += As[ty][k] * Bs[k][tx];
            {sync}
        }}
        if (i < M && j < N) C[i * N + j] = a * acc + (b == 0 ? ({t})0 : b * Z[i * sz0 + j * sz1]);
    }}
}}
"""
        n = ("int", idx)
        args = (n, n, n, ("buffer", dtype), ("buffer", dtype), ("buffer", dtype), n, n, ("buffer", dtype), n, n,
                ("buffer", dtype), n, n, ("buffer", dtype))
        return Program(self.language, source, (EntryPoint(name, args, launch="tiles"),))

    def _tree(self, combine: str) -> str:
        """Statements combining ``v`` over a work-group through ``scratch`` (halving, with
        barriers), leaving the result in ``v`` of every work-item."""
        sync = self.barrier
        return (f"scratch[lid] = v; {sync} for (int s = lsize / 2; s > 0; s >>= 1) {{ if (lid < s) "
                f"scratch[lid] = {combine}; {sync} }} v = scratch[0]; {sync}")

    def softmax_crossentropy(self, dtype: str) -> Program:
        """``xent_{dtype}``: per row (one work-group each), ``sm = softmax(z)`` and
        ``nll = log(sum(exp(z - max))) + max - z[y]``; a label out of range sets ``bad[0]``.
        ``xent_grad_{dtype}``: ``(sm - onehot(y)) * g[:, None]``."""
        idx, q, t, lp = self.index_type, self.buffer_prefix, self.types[dtype], self.local_prefix
        exp, log = self.math("exp", dtype), self.math("log", dtype)
        source = f"""{self.prelude}{MACROS_FOR_KERNELS}
{self.kernel_prefix} void xent_{dtype}(const {idx} rows, const {idx} cols, {q}const {t}* z, const {idx} s0,
        const {idx} s1, {q}const {idx}* restrict y, {q}{t}* restrict nll, {q}{t}* restrict sm, {q}int* restrict bad) {{
    {lp}{t} scratch[{LOCAL_SIZE}];
    const int lid = {self.local_id}, lsize = {self.local_size};
    for ({idx} r = {self.group_id}; r < rows; r += {self.num_groups}) {{
        {t} v = -INFINITY;
        for ({idx} c = lid; c < cols; c += lsize) v = MLC_MAX(v, z[r * s0 + c * s1]);
        {self._tree("MLC_MAX(scratch[lid], scratch[lid + s])")}
        const {t} m = v;
        v = 0;
        for ({idx} c = lid; c < cols; c += lsize) {{ {t} e = {exp}(z[r * s0 + c * s1] - m); sm[r * cols + c] = e; v += e; }}
        {self._tree("scratch[lid] + scratch[lid + s]")}
        for ({idx} c = lid; c < cols; c += lsize) sm[r * cols + c] /= v;
        if (lid == 0) {{
            const {idx} k = y[r];
            if (k < 0 || k >= cols) bad[0] = 1;
            else nll[r] = {log}(v) + m - z[r * s0 + k * s1];
        }}
    }}
}}

{self.kernel_prefix} void xent_grad_{dtype}(const {idx} rows, const {idx} cols, {q}const {t}* restrict g,
        {q}const {t}* restrict sm, {q}const {idx}* restrict y, {q}{t}* restrict out) {{
    for ({idx} i = {self.global_id}; i < rows * cols; i += {self.global_size}) {{
        const {idx} r = i / cols;
        out[i] = sm[i] * g[r] - (i % cols == y[r] ? g[r] : ({t})0);
    }}
}}
"""
        n = ("int", idx)
        return Program(self.language, source, (
            EntryPoint(f"xent_{dtype}", (n, n, ("buffer", dtype), n, n, ("buffer", "int64"), ("buffer", dtype),
                                         ("buffer", dtype), ("buffer", "int32")), launch="rows"),
            EntryPoint(f"xent_grad_{dtype}", (n, n, ("buffer", dtype), ("buffer", dtype), ("buffer", "int64"),
                                              ("buffer", dtype)))))

    def row_kernels(self, dtype: str) -> Program:
        """Along the last axis of a matrix, one work-group per row: ``softmax_{dtype}``,
        ``log_softmax_{dtype}`` (z at any strides, out contiguous) and ``argmax_{dtype}`` /
        ``argmin_{dtype}`` (the first index of the extreme, NaN counting as the extreme, as
        NumPy's)."""
        idx, q, t, lp, sync = self.index_type, self.buffer_prefix, self.types[dtype], self.local_prefix, self.barrier
        exp, log = self.math("exp", dtype), self.math("log", dtype)
        head = f"const {idx} rows, const {idx} cols, {q}const {t}* z, const {idx} s0, const {idx} s1"
        loop = f"for ({idx} r = {self.group_id}; r < rows; r += {self.num_groups})"
        ids = f"const int lid = {self.local_id}, lsize = {self.local_size};"
        parts = [self.prelude, MACROS_FOR_KERNELS]
        for name, finish in (("softmax", f"{exp}(z[r * s0 + c * s1] - m) / v"),
                             ("log_softmax", f"z[r * s0 + c * s1] - m - {log}(v)")):
            parts.append(f"""
{self.kernel_prefix} void {name}_{dtype}({head}, {q}{t}* restrict out) {{
    {lp}{t} scratch[{LOCAL_SIZE}];
    {ids}
    {loop} {{
        {t} v = -INFINITY;
        for ({idx} c = lid; c < cols; c += lsize) v = MLC_MAX(v, z[r * s0 + c * s1]);
        {self._tree("MLC_MAX(scratch[lid], scratch[lid + s])")}
        const {t} m = v;
        v = 0;
        for ({idx} c = lid; c < cols; c += lsize) v += {exp}(z[r * s0 + c * s1] - m);
        {self._tree("scratch[lid] + scratch[lid + s]")}
        for ({idx} c = lid; c < cols; c += lsize) out[r * cols + c] = {finish};
    }}
}}""")
        for name, beats in (("argmax", ">"), ("argmin", "<")):
            better = (f"(bv {beats} av || (bv != bv && av == av) || ((bv == av || (bv != bv && av != av)) "
                      f"&& bi < ai))")
            parts.append(f"""
{self.kernel_prefix} void {name}_{dtype}({head}, {q}{idx}* restrict out) {{
    {lp}{t} vals[{LOCAL_SIZE}];
    {lp}{idx} where[{LOCAL_SIZE}];
    {ids}
    {loop} {{
        {t} av = z[r * s0]; {idx} ai = 0;
        for ({idx} c = lid; c < cols; c += lsize) {{
            const {t} bv = z[r * s0 + c * s1]; const {idx} bi = c;
            if ({better}) {{ av = bv; ai = bi; }}
        }}
        vals[lid] = av; where[lid] = ai;
        {sync}
        for (int s = lsize / 2; s > 0; s >>= 1) {{
            if (lid < s) {{
                const {t} av = vals[lid], bv = vals[lid + s]; const {idx} ai = where[lid], bi = where[lid + s];
                if ({better}) {{ vals[lid] = bv; where[lid] = bi; }}
            }}
            {sync}
        }}
        if (lid == 0) out[r] = where[0];
        {sync}
    }}
}}""")
        n = ("int", idx)
        args = (n, n, ("buffer", dtype), n, n)
        return Program(self.language, "\n".join(parts), tuple(
            EntryPoint(f"{name}_{dtype}", args + (("buffer", "int64" if "arg" in name else dtype),), launch="rows")
            for name in ("softmax", "log_softmax", "argmax", "argmin")))

    def random(self, dtype: str) -> Program:
        """Counter-based sampling: element ``i`` of a draw keyed ``key`` is a function of
        ``(key, i)`` alone (SplitMix64), so any launch gives the same sample. ``uniform_``
        in ``[low, high)``, ``normal_`` (Box-Muller), ``binomial_`` (``trials`` Bernoulli)."""
        idx, q, t = self.index_type, self.buffer_prefix, self.types[dtype]
        u64, f64 = self.types["uint64"], self.types["float64"]
        sqrt, log, cos = (self.math(f, "float64") for f in ("sqrt", "log", "cos"))
        loop = f"for ({idx} i = {self.global_id}; i < n; i += {self.global_size})"
        source = f"""{self.prelude}
{self.function_prefix} {u64} mlc_mix({u64} z) {{
    z += ({u64})0x9E3779B97F4A7C15UL;
    z = (z ^ (z >> 30)) * ({u64})0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * ({u64})0x94D049BB133111EBUL;
    return z ^ (z >> 31);
}}
{self.function_prefix} {f64} mlc_unit({u64} key, {u64} i) {{  /* in [0, 1) */
    return (mlc_mix(key ^ mlc_mix(i)) >> 11) * (1.0 / 9007199254740992.0);
}}
{self.kernel_prefix} void uniform_{dtype}(const {idx} n, const {u64} key, const {f64} low, const {f64} high,
        {q}{t}* restrict out) {{
    {loop} {{
        {t} v = ({t})(low + (high - low) * mlc_unit(key, ({u64})i));
        out[i] = v < ({t})high ? v : ({t})low;  /* rounding to the type must not reach high */
    }}
}}
{self.kernel_prefix} void normal_{dtype}(const {idx} n, const {u64} key, const {f64} mean, const {f64} std,
        {q}{t}* restrict out) {{
    {loop} {{
        const {f64} u1 = 1.0 - mlc_unit(key, 2 * ({u64})i), u2 = mlc_unit(key, 2 * ({u64})i + 1);
        out[i] = ({t})(mean + std * {sqrt}(-2.0 * {log}(u1)) * {cos}(6.283185307179586 * u2));
    }}
}}
{self.kernel_prefix} void binomial_{dtype}(const {idx} n, const {u64} key, const {idx} trials, const {f64} p,
        {q}{t}* restrict out) {{
    {loop} {{
        {idx} count = 0;
        for ({idx} k = 0; k < trials; k++) count += mlc_unit(key, ({u64})(i * trials + k)) < p;
        out[i] = ({t})count;
    }}
}}
"""
        n, key, real = ("int", idx), ("int", "uint64"), ("int", "float64")
        return Program(self.language, source, (
            EntryPoint(f"uniform_{dtype}", (n, key, real, real, ("buffer", dtype))),
            EntryPoint(f"normal_{dtype}", (n, key, real, real, ("buffer", dtype))),
            EntryPoint(f"binomial_{dtype}", (n, key, n, real, ("buffer", dtype)))))

    def render(self, kernels: Sequence[tuple[str, LoopKernel]]) -> Program:
        parts = [self.prelude, self.helpers()]
        entries = []
        idx = ("int", self.index_type)
        for name, k in kernels:
            buffers = tuple(("buffer", d) for d in k.input_dtypes + (k.out_dtype,))
            if k.reduce_op is None:
                parts.append(self.elementwise(name, k))
                entries += [EntryPoint(f"{name}_flat", (idx,) + buffers),
                            EntryPoint(f"{name}_strided", (("int", "int"), idx, ("shape", "int64"),
                                                           ("shape", "int64")) + buffers)]
            else:
                parts.append(self.reduction(name, k))
                entries.append(EntryPoint(f"{name}_reduce", (("int", "int"), ("int", "int"), idx, idx)
                                          + (("shape", "int64"),) * 4 + buffers, launch="rows"))
        return Program(self.language, "\n".join(parts), tuple(entries))


class OpenCLRenderer(GPURenderer):
    """OpenCL C 1.2 (with ``cl_khr_fp64`` for float64)."""

    language = "opencl"
    types = {"bool": "uchar", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
             "uint8": "uchar", "uint16": "ushort", "uint32": "uint", "uint64": "ulong", "float32": "float",
             "float64": "double"}
    index_type = "long"
    function_prefix = "static inline"
    float_suffix_math = False  # OpenCL's math builtins are overloaded
    kernel_prefix = "__kernel"
    buffer_prefix = "__global "
    local_prefix = "__local "
    barrier = "barrier(CLK_LOCAL_MEM_FENCE);"
    global_id, global_size = "(long)get_global_id(0)", "(long)get_global_size(0)"
    local_id, local_size = "(int)get_local_id(0)", "(int)get_local_size(0)"
    group_id, num_groups = "(long)get_group_id(0)", "(long)get_num_groups(0)"
    prelude = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"


class CUDARenderer(GPURenderer):
    """CUDA C++ for NVRTC or ``nvcc``; kernels are ``extern "C"`` so their names are plain."""

    language = "cuda"
    types = {"bool": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
             "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int",
             "uint64": "unsigned long long", "float32": "float", "float64": "double"}
    index_type = "long long"
    function_prefix = "static __device__ inline"
    kernel_prefix = 'extern "C" __global__'
    buffer_prefix = ""
    local_prefix = "__shared__ "
    barrier = "__syncthreads();"
    global_id = "((long long)blockIdx.x * blockDim.x + threadIdx.x)"
    global_size = "((long long)gridDim.x * blockDim.x)"
    local_id, local_size = "(int)threadIdx.x", "(int)blockDim.x"
    group_id, num_groups = "(long long)blockIdx.x", "(long long)gridDim.x"
    prelude = ("#define restrict __restrict__\n"
               "#ifndef INFINITY\n#define INFINITY __int_as_float(0x7f800000)\n#endif\n"
               "#ifndef NAN\n#define NAN __int_as_float(0x7fffffff)\n#endif\n")
