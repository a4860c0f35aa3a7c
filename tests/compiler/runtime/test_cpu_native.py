"""Loading C functions through cffi's backend alone (``runtime/cpu/native.py``)."""
import ctypes.util

import pytest

from mlc.compiler.runtime.cpu import native

LIBM = ctypes.util.find_library("m") or "libm.so.6"


def test_functions_are_typed_by_their_prototype():
    lib = native.dlopen(LIBM, {"cos": "double(*)(double)", "ldexp": "double(*)(double, int)"})
    assert lib.cos(0.0) == 1.0 and lib.ldexp(1.5, 3) == 12.0
    assert native.address(lib.cos) != 0


def test_a_missing_function_or_library_is_named():
    with pytest.raises(AttributeError, match="no_such_function"):
        native.dlopen(LIBM, {"no_such_function": "void(*)(void)"})
    with pytest.raises(OSError, match="/no/such/library.so"):
        native.dlopen("/no/such/library.so", {})
