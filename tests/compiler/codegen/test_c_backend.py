"""Compiled kernels against each op's perform, over the op table, shapes and layouts."""
import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.ops.scalar import SCALAR_OPS
from tests.compiler.ops.test_scalar_table import REFERENCE

PY = theano.Mode("py", "fast_run", name="PY")


def _compiled_nodes(f):
    return [type(step[3]).__name__ for step in f.maker.vm.steps]


LAYOUTS = ["contiguous", "transposed", "row-slice", "row-col", "zero-size", "scalar"]


def _values(name, rng, layout, dtype):
    _, samplers = REFERENCE[name]
    nin = SCALAR_OPS[name].nin or 3
    vals, syms = [], []
    for i in range(nin):
        sampler = samplers[i % len(samplers)]
        if layout == "contiguous":
            v = sampler(rng, (3, 5), dtype)
        elif layout == "transposed":  # non-contiguous views
            v = sampler(rng, (5, 3), dtype).T
        elif layout == "row-slice":  # contiguous rows of a strided view (a slice of columns)
            v = sampler(rng, (3, 8), dtype)[:, 1 + i % 2:6 + i % 2]
        elif layout == "row-col":
            v = sampler(rng, (1, 5) if i % 2 else (3, 1), dtype)
        elif layout == "zero-size":
            v = sampler(rng, (0, 4), dtype)
        else:
            v = sampler(rng, (), dtype)
        vals.append(v)
        syms.append(T.tensor(v.dtype, [s == 1 for s in v.shape] if layout == "row-col" else [False] * v.ndim))
    return syms, vals


# the rows with a compiled form
COMPILED = sorted(n for n in REFERENCE if SCALAR_OPS[n].c or SCALAR_OPS[n].c_int or SCALAR_OPS[n].c_bool)


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_equals_perform(name, layout, dtype, rng):
    syms, vals = _values(name, rng, layout, dtype)
    out = T.elemwise_op(name)(*syms)
    fast = theano.function(syms, out)
    assert "ElemwiseThunk" in _compiled_nodes(fast) or not fast.maker.vm.steps
    slow = theano.function(syms, out, mode=PY)
    got, want = fast(*vals), slow(*vals)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = 2e-6 if out.dtype == "float32" else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "int_div", "mod", "maximum", "minimum", "neg", "abs", "sgn",
                                  "eq", "lt", "and_", "or_", "xor", "invert", "switch", "exp", "true_div"])
def test_integer_and_bool_kernels(name, dtype, rng):
    if dtype == "bool" and name in ("sub", "neg", "int_div", "mod", "abs", "sgn", "true_div"):
        pytest.skip("NumPy itself rejects or warns on this for bool")
    nin = SCALAR_OPS[name].nin or 2
    syms = [T.tensor("bool" if (name == "switch" and i == 0) else dtype, (False,)) for i in range(nin)]
    vals = [rng.integers(-5 if dtype.startswith("int") else 0, 6, 20).astype(s.dtype) for s in syms]
    if name in ("int_div", "mod") and dtype != "bool":
        vals[1][vals[1] == 0] = 3
    out = T.elemwise_op(name)(*syms)
    fast, slow = theano.function(syms, out), theano.function(syms, out, mode=PY)
    np.testing.assert_allclose(fast(*vals), slow(*vals), rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, (0, 2), None, -1])
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_reductions_and_fused_reductions(name, axis, dtype, rng):
    x = T.tensor(dtype, (False, False, False))
    v = (rng.uniform(0.5, 1.5, (3, 4, 5)) * (10 if dtype == "int32" else 1)).astype(dtype)
    for expr in (getattr(T, name)(x, axis=axis), getattr(T, name)(x * 2 + 1, axis=axis)):
        fast, slow = theano.function([x], expr), theano.function([x], expr, mode=PY)
        assert any(t in ("ReduceThunk", "ElemwiseThunk") for t in _compiled_nodes(fast))
        np.testing.assert_allclose(fast(v), slow(v), rtol=1e-5 if dtype == "float32" else 1e-12)
        np.testing.assert_allclose(fast(v.transpose(2, 1, 0).copy().transpose(2, 1, 0)), slow(v), rtol=1e-5)


def test_reduction_edge_cases():
    x = T.dmatrix()
    f = theano.function([x], [x.sum(axis=0), (x * 2).prod(axis=1)])
    s, p = f(np.zeros((0, 3)))
    assert s.tolist() == [0, 0, 0] and p.shape == (0,)
    g = theano.function([x], (x * 2).max(axis=0))
    with pytest.raises(ValueError, match="empty"):
        g(np.zeros((0, 3)))
    h = theano.function([x], T.max(x * 1.5, axis=1))
    np.testing.assert_array_equal(h(np.array([[1.0, np.nan], [2.0, 3.0]])), [np.nan, 4.5])


def test_inplace_kernels_and_buffer_reuse_do_not_leak_into_results(rng):
    x = T.dvector("x")
    f = theano.function([x], [T.exp(x) * 2 + 1, T.tanh(x).sum()])
    a = f(np.zeros(3))[0]
    b = f(np.ones(3))[0]
    np.testing.assert_allclose(a, [3, 3, 3])  # the first result is not overwritten by the second call
    np.testing.assert_allclose(b, np.exp(1) * 2 + 1)


def test_large_arrays_use_openmp_path_and_agree(rng):
    # above the threshold, each thread runs the flat loop on its share: a length that is no
    # multiple of the share's blocks, and a scalar operand that every share reads whole
    n = theano.config.openmp_elemwise_minsize * 2 + 37
    x, y, s = T.fvector(), T.fvector(), T.fscalar()
    out = T.exp(-x * x) * T.sin(y) + T.tanh(x * y) * s
    v, w = rng.normal(size=n).astype("float32"), rng.normal(size=n).astype("float32")
    f = theano.function([x, y, s], out)
    assert "ElemwiseThunk" in [type(step[3]).__name__ for step in f.maker.vm.steps]
    got = f(v, w, np.float32(1.5))
    want = np.exp(-v * v) * np.sin(w) + np.tanh(v * w) * 1.5
    scale = np.abs(np.exp(-v * v) * np.sin(w)) + np.abs(np.tanh(v * w) * 1.5)
    assert np.all(np.abs(got - want) <= 8 * np.finfo(np.float32).eps * scale + 1e-30)


@pytest.mark.parametrize("name,npfn", [("exp", np.exp), ("sin", np.sin), ("tanh", np.tanh), ("log", np.log),
                                       ("cos", np.cos), ("expm1", np.expm1)])
@pytest.mark.parametrize("view", ["flat", "row-slice", "transposed"])
def test_vector_math_within_4_ulp(name, npfn, view, rng):
    # flat: the flat loop; row-slice: the strided kernel's contiguous rows; transposed: its gathers
    v = rng.uniform(0.01, 20, 100_000).astype("float32")
    x = T.fmatrix()
    if view == "flat":
        v = v.reshape(1, -1)
    elif view == "row-slice":
        v = v.reshape(100, 1000)[:, 3:803]
    else:
        v = v.reshape(1000, 100).T
    got = theano.function([x], T.elemwise_op(name)(x) * 1)(v)
    correctly_rounded = npfn(v.astype("float64")).astype("float32")
    np.testing.assert_array_max_ulp(got, correctly_rounded, maxulp=4)
    if name in ("exp", "sin", "tanh"):  # the functions of the elementwise benchmark
        np.testing.assert_array_max_ulp(got, npfn(v), maxulp=4)


def test_nan_inf_propagate_like_numpy():
    x = T.fvector()
    f = theano.function([x], T.exp(-x * x) * T.sin(x) + T.tanh(x * x))
    v = np.array([np.nan, np.inf, -np.inf, 0.0, 1e30], dtype="float32")
    with np.errstate(all="ignore"):
        want = np.exp(-v * v) * np.sin(v) + np.tanh(v * v)
    np.testing.assert_array_equal(f(v), want)


@pytest.mark.parametrize("shape", [(1600, 1024), (3, 700), (513, 257), (2, 2)])
@pytest.mark.parametrize("build,ref", [(lambda x: x.sum(axis=0), lambda a: a.sum(0)),
                                       (lambda x: (x * x).sum(axis=0), lambda a: (a * a).sum(0)),
                                       (lambda x: x.max(axis=0), lambda a: a.max(0)),
                                       (lambda x: x[:, ::2].sum(axis=0), lambda a: a[:, ::2].sum(0)),
                                       (lambda x: x.T.sum(axis=1), lambda a: a.sum(0))])
def test_sums_down_the_rows_of_columns_equal_numpy(rng, shape, build, ref):
    """The column-block path of reductions over axis 0 (row by row), and the layouts it leaves alone."""
    a = rng.normal(size=shape)
    x = T.dmatrix("x")
    f = theano.function([x], build(x))
    assert any(type(s[3]).__name__ == "ReduceThunk" for s in f.maker.vm.steps)  # compiled, not perform
    np.testing.assert_allclose(f(a), ref(a), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_full_sum_below_the_elementwise_threshold_is_split_too_and_equals_numpy(rng, dtype):
    # full reductions split from a quarter of the elementwise threshold (a weight's squared norm)
    a = rng.normal(size=(2, theano.config.openmp_elemwise_minsize // 3 + 5)).astype(dtype)
    x = T.tensor(dtype, (False, False), name="x")
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(theano.function([x], (x * x).sum())(a), (a.astype("float64") ** 2).sum(), rtol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("build,ref,layout", [
    (lambda x: (x * x).sum(), lambda a: (a * a).sum(), "flat"),          # split across threads
    (lambda x: x[:, ::2].sum(), lambda a: a[:, ::2].sum(), "flat"),      # strided: one thread
    (lambda x: x.max(axis=1), lambda a: a.max(axis=1), "one row"),       # a row sum of a single row
    (lambda x: x.sum(axis=0), lambda a: a.sum(axis=0), "one column"),    # keeps the last axis
    (lambda x: x.sum(axis=(0, 1)), lambda a: a.sum(axis=(0, 1)), "transposed")])
def test_reductions_past_the_openmp_threshold_equal_numpy(rng, dtype, build, ref, layout):
    n = theano.config.openmp_elemwise_minsize * 2 + 37
    a = rng.normal(size={"flat": (2, n), "one row": (1, n), "one column": (n, 1), "transposed": (3, n)}[layout])
    a = a.astype(dtype)
    if layout == "transposed":
        a = np.ascontiguousarray(a.T).T
    x = T.tensor(dtype, (False, False), name="x")
    f = theano.function([x], build(x))
    assert any(type(s[3]).__name__ == "ReduceThunk" for s in f.maker.vm.steps)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(f(a), ref(a.astype("float64")), rtol=tol, atol=tol * np.sqrt(a.size))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("build,ref", [(lambda x: x.sum(axis=(0, 2, 3)), lambda a: a.sum((0, 2, 3))),
                                       (lambda x: (x * x).sum(axis=(0, 2, 3)), lambda a: (a * a).sum((0, 2, 3))),
                                       (lambda x: x.max(axis=(0, 2, 3)), lambda a: a.max((0, 2, 3))),
                                       (lambda x: x[:, :, :, ::2].sum(axis=(0, 2, 3)),
                                        lambda a: a[:, :, :, ::2].sum((0, 2, 3))),
                                       (lambda x: x.dimshuffle(0, 1, 3, 2).sum(axis=(0, 2, 3)),
                                        lambda a: a.sum((0, 2, 3)))])
@pytest.mark.parametrize("shape", [(16, 8, 14, 14), (3, 5, 16, 32), (2, 3, 1, 7)])
def test_per_channel_reductions_equal_numpy(rng, dtype, build, ref, shape):
    """Two reduced axes around a kept one (a bias gradient, batch statistics): the inner axis a
    contiguous run (float32 sums in blocks), strided, or transposed."""
    a = rng.normal(size=shape).astype(dtype)
    x = T.tensor(dtype, (False,) * 4, name="x")
    f = theano.function([x], build(x))
    assert any(type(s[3]).__name__ == "ReduceThunk" for s in f.maker.vm.steps)
    tol = 2e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(f(a), ref(a.astype("float64")), rtol=tol, atol=tol * np.sqrt(a.size))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_per_channel_constants_over_image_rows_equal_numpy(rng, dtype, layout):
    """A per-channel bias and scale over NCHW rows (read once per row, the pixels as vectors),
    and the layouts whose rows are not contiguous."""
    a = rng.normal(size=(4, 3, 5, 12)).astype(dtype)
    if layout == "transposed":
        a = np.ascontiguousarray(a.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    elif layout == "strided":
        a = rng.normal(size=(4, 3, 5, 24)).astype(dtype)[..., ::2]
    b, s = rng.normal(size=3).astype(dtype), rng.normal(size=(1, 3, 5, 1)).astype(dtype)
    x, bs = T.tensor(dtype, (False,) * 4, name="x"), T.vector("b", dtype=dtype)
    ss = T.tensor(dtype, (True, False, False, True), name="s")
    f = theano.function([x, bs, ss], T.tanh(x + bs.dimshuffle("x", 0, "x", "x")) * ss)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(f(a, b, s), np.tanh(a + b[None, :, None, None]) * s, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_strided_rows_gathered_in_blocks_write_any_output_layout(rng, dtype):
    """The strided entry: rows of transposed, sliced and broadcast operands copied to the stack
    in blocks (rows longer than a block, with a tail) and run by the vector loop, into a
    contiguous, a transposed or a sliced output (an in-place result may be such a view)."""
    from mlc.compiler.codegen import render_nodes
    from mlc.compiler.runtime.cpu import CPU, renderer
    x, y = T.tensor(dtype, (False, False)), T.tensor(dtype, (False, False))
    c = T.scalar(dtype=dtype)
    f = theano.function([x, y, c], T.tanh(x) * y + c)
    program, kernels = render_nodes(f.maker.linked.nodes, renderer())
    (name, _), = kernels.values()
    (unit,) = program.deferred  # the strided entry: built when a call needs it
    ffi, lib = CPU.build(unit)
    strided = getattr(lib, f"{name}_strided")
    a = rng.normal(size=(700, 3)).astype(dtype).T           # rows of stride 3
    b = rng.normal(size=(3, 1400)).astype(dtype)[:, ::2]   # rows of stride 2
    scalar = np.array(1.5, dtype)
    want = np.tanh(a) * b + 1.5
    for out in (np.empty((3, 700), dtype), np.empty((700, 3), dtype).T, np.empty((3, 1400), dtype)[:, ::2]):
        arrays = [a, b, scalar, out]
        shape = np.array(out.shape, dtype=np.int64)
        strides = np.array([[s // out.itemsize for s in v.strides] if v.ndim else [0, 0] for v in arrays],
                           dtype=np.int64)
        strided(2, ffi.cast("void*", shape.ctypes.data), ffi.cast("void*", strides.ctypes.data),
                *[ffi.cast("void*", v.ctypes.data) for v in arrays])
        np.testing.assert_allclose(out, want, atol=2e-6 if dtype == "float32" else 1e-13)
