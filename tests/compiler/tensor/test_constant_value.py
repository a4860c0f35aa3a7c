"""get_scalar_constant_value and extract_constant: what the graph alone determines, and a
NotScalarConstantError for everything else."""
import numpy as np
import pytest

import mlc.compiler.tensor as T

KNOWN = [  # name, expression, NumPy value
    ("python number", lambda: 3, np.asarray(3)),
    ("constant", lambda: T.constant(np.float32(2.5)), np.float32(2.5)),
    ("one-element constant", lambda: T.constant(np.array([[4]])), np.asarray(4)),
    ("arithmetic", lambda: T.constant(2.0) * 3 - T.constant(0.5), np.asarray(2.0 * 3 - 0.5)),
    ("cast", lambda: T.cast(T.constant(2.7), "int32"), np.asarray(2.7).astype("int32")),
    ("dimshuffle", lambda: T.constant(5.0).dimshuffle("x", "x"), np.asarray(5.0)),
    ("broadcastable dim", lambda: T.row().shape[0], np.asarray(1)),
    ("broadcastable dim from the end", lambda: T.tensor("float64", (False, False, True)).shape[-1], np.asarray(1)),
    ("stacked scalar", lambda: T.stack([T.constant(7), T.iscalar()])[0], np.asarray(7)),
    ("alloc", lambda: T.alloc(T.constant(1.5), 1, 1), np.asarray(1.5)),
]


@pytest.mark.parametrize("name,build,want", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_values(name, build, want):
    got = T.get_scalar_constant_value(build())
    assert got.ndim == 0 and got == want and got.dtype == want.dtype


UNKNOWN = [
    ("a variable", lambda: T.dscalar()),
    ("a dim that is not broadcastable", lambda: T.matrix().shape[1]),
    ("a constant of many elements", lambda: T.constant(np.arange(3))),
    ("the symbolic item of a stack", lambda: T.stack([T.constant(7), T.iscalar()])[1]),
    ("arithmetic on a variable", lambda: T.constant(2.0) * T.dscalar()),
]


@pytest.mark.parametrize("name,build", UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_unknown_values_raise(name, build):
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(build())


def test_elemwise_false_and_only_constants_stop_early():
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(T.constant(2.0) + 1, elemwise=False)
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(T.row().shape[0], only_process_constants=True)


def test_extract_constant_folds_what_it_can_and_leaves_the_rest():
    folded = T.extract_constant(T.constant(3.0) + 1)
    assert isinstance(folded, T.TensorConstant) and float(folded.data) == 4.0
    x = T.dscalar()
    assert T.extract_constant(x + 1).owner is not None


def test_get_vector_length():
    assert T.get_vector_length(T.tensor3().shape) == 3
    assert T.get_vector_length(T.constant(np.arange(4))) == 4
    with pytest.raises(ValueError, match="not known"):
        T.get_vector_length(T.lvector())
