"""Convolution thunks on the CPU (``runtime/cpu/conv.py``): the per-image C drivers and the
batch-wide C lowering they fall back to, each against the ops' NumPy ``perform``."""
import ctypes
import os

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.runtime.cpu import blas
from mlc.compiler.runtime.cpu.conv import ConvThunk
from mlc.compiler.tensor.signal.pool import pool_2d

DRIVERS = pytest.mark.skipif(blas.blas_pointers(blas.native.ffi) is None, reason="no OpenBLAS or no OpenMP found")


def conv_thunks(f):
    return [s[3] for s in f.maker.vm.steps if isinstance(s[3], ConvThunk)]


def two_layer_train_outputs(dtype, groups=1, flip=True):
    x, w1, w2 = (T.tensor(dtype, (False,) * 4, name=n) for n in ("x", "w1", "w2"))
    h = pool_2d(T.nnet.relu(T.nnet.conv2d(x, w1, border_mode=(1, 2), subsample=(1, 2), filter_flip=flip)), (2, 2),
                stride=(1, 2))
    cost = (T.nnet.conv2d(h, w2, border_mode="half", filter_dilation=(2, 1), num_groups=groups,
                          filter_flip=flip) ** 2).sum()
    return [x, w1, w2], [cost, *theano.grad(cost, [x, w1, w2])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("path", ["drivers", "batch"])
@pytest.mark.parametrize("groups, flip", [(1, True), (2, False)])
def test_both_c_paths_equal_perform(rng, dtype, path, groups, flip):
    if path == "drivers" and blas.blas_pointers(blas.native.ffi) is None:
        pytest.skip("no OpenBLAS or no OpenMP found")
    inputs, outputs = two_layer_train_outputs(dtype, groups, flip)
    values = [rng.normal(size=(3, 2, 9, 11)).astype(dtype), rng.normal(size=(4, 2, 3, 3)).astype(dtype),
              rng.normal(size=(6, 4 // groups, 3, 2)).astype(dtype)]
    fast = theano.function(inputs, outputs)
    thunks = conv_thunks(fast)
    assert len(thunks) == 6  # two of each op
    for t in thunks:
        if path == "batch":
            t.blas = None
        assert (t.blas is not None) == (path == "drivers")
    want = theano.function(inputs, outputs, mode="FAST_COMPILE")(*values)  # each op's NumPy perform
    tol = 1e-4 if dtype == "float32" else 1e-10
    for got, expected in zip(fast(*values), want):
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _omp_set_num_threads(n):
    gomp = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    gomp.omp_set_num_threads(ctypes.c_int(n))


@DRIVERS
@pytest.mark.skipif(blas.CORES < 2, reason="one core: one block")
def test_gradients_are_the_same_bits_whatever_the_thread_count(rng):
    inputs, outputs = two_layer_train_outputs("float32")
    f = theano.function(inputs, outputs[1:])
    values = [rng.normal(size=(9, 2, 9, 11)).astype("float32"), rng.normal(size=(4, 2, 3, 3)).astype("float32"),
              rng.normal(size=(6, 4, 3, 2)).astype("float32")]
    results = []
    try:
        for threads in (blas.CORES, 1, blas.CORES + 1):
            f(*values)  # loads the kernels, and with them libgomp
            _omp_set_num_threads(threads)
            results.append(f(*values))
    finally:
        _omp_set_num_threads(blas.CORES)
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))


@pytest.mark.parametrize("path", ["drivers", "batch"])
def test_an_output_gradient_of_the_wrong_shape_is_named(rng, path):
    x, g = T.ftensor4("x"), T.ftensor4("g")
    gw = T.nnet.abstract_conv.conv2d_grad_wrt_weights(x, g, (4, 2, 3, 3), border_mode="half")
    f = theano.function([x, g], gw)
    if path == "batch":
        for t in conv_thunks(f):
            t.blas = None
    with pytest.raises(ValueError, match=r"output gradient of shape \(2, 4, 5, 4\) does not fit an input of shape "
                                         r"\(2, 2, 5, 5\) and filters \(4, 2, 3, 3\) \(expected \(2, 4, 5, 5\)\)"):
        f(np.ones((2, 2, 5, 5), "float32"), np.ones((2, 4, 5, 4), "float32"))


def test_an_empty_batch_gives_empty_results(rng):
    inputs, outputs = two_layer_train_outputs("float64")
    values = [np.zeros((0, 2, 9, 11)), rng.normal(size=(4, 2, 3, 3)), rng.normal(size=(6, 4, 3, 2))]
    cost, gx, gw1, gw2 = theano.function(inputs, outputs)(*values)
    assert cost == 0 and gx.shape == (0, 2, 9, 11)
    assert not gw1.any() and gw1.shape == (4, 2, 3, 3) and not gw2.any() and gw2.shape == (6, 4, 3, 2)
