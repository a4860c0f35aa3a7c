"""One IR, three languages: every graph renders in C, OpenCL and CUDA, and the CUDA kernels
compile with ``nvcc -ptx`` (the OpenCL ones run in ``tests/compiler/runtime/test_opencl.py``)."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.codegen import render_nodes, renderer_for
from mlc.compiler.codegen.loop_ir import LoopKernel
from mlc.compiler.ops.scalar import SCALAR_OPS
from mlc.compiler.runtime.backend import ThunkRegistry
from tests.compiler.ops.test_scalar_table import REFERENCE


def _graphs():
    """Functions whose kernels cover the op table, broadcasting, casts and every reduction."""
    x, y, z = T.fmatrix("x"), T.fmatrix("y"), T.fmatrix("z")
    graphs = [theano.function([x, y], T.exp(-x * x) * T.sin(y) + T.tanh(x * y)),
              theano.function([x, y], (x ** 2).sum(axis=1) + y.max(axis=1)),
              theano.function([x], [x.sum(), x.min(axis=0), x.prod(axis=1), T.cast(x, "int32").sum(axis=1)]),
              theano.function([x, y, z], T.switch(x > y, T.clip(z, -1, 1), T.sigmoid(x) + T.softplus(y))),
              theano.function([x, y], (x.dimshuffle(1, 0) * y.T).mean(axis=0))]
    d = T.dvector("d")
    i, j = T.lvector("i"), T.lvector("j")
    graphs += [theano.function([d], [T.isnan(d), T.isinf(d * 2), abs(d) // 3, d % 2.5, T.round(d)]),
               theano.function([i, j], [i // j, i % j, i ** 2, abs(i), T.sgn(j), ~i])]
    for name in sorted(REFERENCE):
        make = T.lmatrix if name in ("and_", "or_", "xor", "invert") else T.dmatrix
        args = [make() for _ in range(SCALAR_OPS[name].nin or 3)]
        graphs.append(theano.function(args, T.elemwise_op(name)(*args) * 2))
    return graphs


GRAPHS = _graphs()


def test_every_graph_renders_in_every_language():
    for f in GRAPHS:
        for target in ("c", "opencl", "cuda"):
            source = f.kernel_source(target)
            assert re.search(r"\bk[0-9a-f]{16}_", source), (target, f)
        assert "__kernel" in f.kernel_source("opencl") and "__global__" in f.kernel_source("cuda")


def test_kernel_source_names_unknown_targets():
    with pytest.raises(ValueError, match="valid: c, opencl, cuda"):
        GRAPHS[0].kernel_source("metal")


def test_renderers_differ_only_in_spelling():
    k = LoopKernel(("float32",), (False,), (("exp", (("i", 0),), "float32"),), "float32", 1)
    assert "expf(in0[i])" in renderer_for("c").render([("k0", k)]).source
    assert "exp(in0[i])" in renderer_for("opencl").render([("k0", k)]).source
    assert "expf(in0[i])" in renderer_for("cuda").render([("k0", k)]).source


def test_c_loops_that_call_vector_math_ask_for_the_widest_vectors():
    from mlc.compiler.codegen.c import WIDE_MATH, CRenderer
    math = LoopKernel(("float32",), (False,), (("tanh", (("i", 0),), "float32"),), "float32", 1)
    plain = LoopKernel(("float32",), (False,), (("add", (("i", 0), ("i", 0)), "float32"),), "float32", 1)
    assert WIDE_MATH in CRenderer(vector_math=True).render([("k0", math)]).source
    assert WIDE_MATH not in CRenderer(vector_math=True).render([("k0", plain)]).source
    assert WIDE_MATH not in CRenderer(vector_math=False).render([("k0", math)]).source  # scalar calls: no vectors


def test_c_row_loops_are_written_once():
    # the loop over rows of a strided or reduction kernel is one loop with an if() clause, not a
    # parallel and a serial copy: the C compiler's time is most of a cold compile
    source = GRAPHS[1].kernel_source("c")
    assert source.count("for (long r = 0; r < outer; r++)") == source.count("_strided(int ndim") >= 1
    assert source.count("for (long o = 0; o < outer; o++)") == source.count("_reduce(int nk") >= 1
    assert "#pragma omp parallel for schedule(static) if (outer * inner > " in source


def test_c_strided_rows_that_are_contiguous_run_the_flat_loop():
    # a slice's rows or a row plus a broadcast bias: unit strides, so vector loads and libmvec
    # calls (the strided loop's gathers made tanh of a slice 8x slower)
    source = GRAPHS[0].kernel_source("c")
    assert source.count("_run(inner, ") == source.count("_strided(int ndim") >= 1
    assert len(re.findall(r"static void k[0-9a-f]{16}_run\(long n", source)) == 1


def test_c_rows_with_per_row_constants_read_them_once():
    # a per-channel bias over an image's pixels has stride 0 along the row: its own row loop
    # reads it once (the strided loop gathered it), and a kernel with no such input has none
    k = LoopKernel(("float32", "float32"), (False, False), (("add", (("i", 0), ("i", 1)), "float32"),), "float32",
                   4, input_row_constant=(False, True))
    source = renderer_for("c").render([("k0", k)]).source
    assert "(in0[i] + in1[0])" in source and "s0 == 1 && s1 == 0 && sout == 1" in source
    assert "_constants_run" not in renderer_for("c").render([("k0", k._replace(input_row_constant=()))]).source


def test_c_scalar_kernels_and_full_reductions_build_only_what_runs(rng):
    # a 0-d kernel's one element is contiguous in every layout, and a full reduction has one
    # row: neither gets a strided loop, threads or a loop over rows to compile
    x, a, b = T.fmatrix("x"), T.fscalar("a"), T.fscalar("b")
    f = theano.function([x, a, b], [T.exp(a) * b - a, (x * x).sum() + a, x.max()])
    source = f.kernel_source("c")
    assert "_strided" not in source and "for (long o = 0; o < outer; o++)" not in source
    assert source.count("_flat(long n") == 2 and source.count("_reduce(int nk") == 2
    xv = rng.normal(size=(9, 12)).astype("float32")
    for view in (xv, xv[::2, ::3], xv.T):
        got = f(view, np.float32(0.5), np.float32(-2.0))
        want = [np.exp(0.5) * -2.0 - 0.5, (view.astype("float64") ** 2).sum() + 0.5, view.max()]
        for g, w in zip(got, want):
            assert g.shape == () and np.allclose(g, w, rtol=1e-5)


def test_supports_rejects_ops_without_an_expression():
    from mlc.compiler.ops.scalar import ScalarOp
    no_code = ScalarOp("no_code", 1, np.negative, "")
    assert not renderer_for("c").supports(no_code, ["float64"], "float64")
    assert renderer_for("c").supports(SCALAR_OPS["exp"], ["float64"], "float64")


def test_thunk_registry_finds_makers_by_op_type_and_base_type():
    registry = ThunkRegistry()

    class Base:
        pass

    class Derived(Base):
        pass

    @registry.register(Base)
    def make(node, ins, outs, context):
        return "made"
    assert registry.lookup(Derived()) is make and registry.lookup(1) is None


def test_compiled_predicates_see_nan_and_inf():
    d = T.dvector()
    f = theano.function([d], [T.isnan(d), T.isinf(d * 2)])
    v = np.array([1.0, np.nan, np.inf, -np.inf])
    assert [type(s[3]).__name__ for s in f.maker.vm.steps] == ["ElemwiseThunk", "ElemwiseThunk"]
    assert f(v)[0].tolist() == [False, True, False, False] and f(v)[1].tolist() == [False, False, True, True]


# ------------------------------------------------------------------ CUDA: nvcc -ptx
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found: CUDA kernels not compiled")
@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_cuda_kernels_compile_with_nvcc(arch, tmp_path):
    nodes = [node for f in GRAPHS for node in f.maker.fgraph.toposort()]
    cuda = renderer_for("cuda")
    program, kernels = render_nodes(nodes, cuda)
    assert len(kernels) >= len(GRAPHS) and "__syncthreads" in program.source
    structured = [getattr(cuda, kind)(dtype) for kind in ("gemm", "take_rows", "take_pairs", "add_at_pairs",
                                                           "softmax_crossentropy", "row_kernels", "random",
                                                           "conv_kernels", "pool_kernels", "bn_kernels")
                  for dtype in ("float32", "float64")]
    for k, unit in enumerate([program] + structured):
        cu = tmp_path / f"unit{k}.cu"
        cu.write_text(unit.source)
        result = subprocess.run(["nvcc", "-ptx", f"-arch={arch}", str(cu), "-o", str(cu.with_suffix(".ptx"))],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[:3000]
        ptx = cu.with_suffix(".ptx").read_text()
        assert all(f".entry {e.name}(" in ptx for e in unit.entries)
