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

from .cstyle import CStyleRenderer, reduce_parts
from .loop_ir import LoopKernel
from .program import EntryPoint, Program

LOCAL_SIZE = 256


class GPURenderer(CStyleRenderer):
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
