"""Types of symbolic values: ``TensorType`` (dtype + which dims are known to be 1).

>>> t = TensorType("float32", (False, True))
>>> t.ndim, t.dtype
(2, 'float32')
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from .config import config

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
ALL_DTYPES = ("bool",) + INT_DTYPES + FLOAT_DTYPES + ("complex64", "complex128")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES


def resolve_dtype(dtype: Any) -> str:
    """Normalise a dtype spec; ``None`` and ``'floatX'`` mean ``config.floatX``."""
    if dtype is None or dtype == "floatX":
        return config.floatX
    if dtype.__class__ is str and dtype in _NAMES:
        return dtype  # already a name: most calls, and np.dtype(...).name costs microseconds
    name = np.dtype(dtype).name
    if name not in ALL_DTYPES:
        raise TypeError(f"unsupported dtype {name!r}; supported: {', '.join(ALL_DTYPES)}")
    return name


_NAMES = frozenset(ALL_DTYPES)


@lru_cache(maxsize=1024)
def upcast(*dtypes: str) -> str:
    """The dtype NumPy gives when combining arrays of these dtypes."""
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


def upgrade_to_float(dtype: str) -> str:
    """The float dtype an integer is promoted to by transcendental ops (as in Theano)."""
    if dtype in FLOAT_DTYPES or dtype.startswith("complex"):
        return dtype
    if dtype in ("bool", "int8", "uint8", "int16", "uint16"):
        return "float32"
    return "float64"


class Type:
    """Base of all types: a type filters run-time values and makes variables."""

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        raise NotImplementedError

    def make_variable(self, name: str | None = None):
        from .graph import Variable
        return Variable(self, name=name)

    def __call__(self, name: str | None = None):
        return self.make_variable(name)


class TensorType(Type):
    """An n-d array type. ``broadcastable[i]`` is True where dim i is known to be 1."""

    def __init__(self, dtype: Any, broadcastable: Sequence[bool] = ()) -> None:
        self.dtype = resolve_dtype(dtype)
        self.broadcastable = tuple(bool(b) for b in broadcastable)

    ndim = property(lambda self: len(self.broadcastable))

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other.dtype == self.dtype  # type: ignore[attr-defined]
                and other.broadcastable == self.broadcastable)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.dtype, self.broadcastable))

    def __repr__(self) -> str:
        return f"TensorType({self.dtype}, {self.broadcastable})"

    def __str__(self) -> str:
        names = {(): "scalar", (False,): "vector", (False, False): "matrix",
                 (True, False): "row", (False, True): "col"}
        return f"{self.dtype} {names.get(self.broadcastable, str(self.ndim) + 'd')}"

    def make_variable(self, name: str | None = None):
        from .tensor.variable import TensorVariable
        return TensorVariable(self, name=name)

    def clone(self, dtype: Any = None, broadcastable: Sequence[bool] | None = None) -> "TensorType":
        return TensorType(self.dtype if dtype is None else dtype,
                          self.broadcastable if broadcastable is None else broadcastable)

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None,
               what: str = "value") -> np.ndarray:
        """Convert ``value`` to an array of this type, or raise naming ``what`` and the expectation.

        A lossy dtype conversion is refused unless ``allow_downcast``; with
        ``allow_downcast=None`` only Python floats may be narrowed to floatX (as in Theano).
        """
        expected = f"expected a {self.dtype} {self.ndim}-d array ({self})"
        if value is None:
            raise TypeError(f"{what}: got None; {expected}")
        if hasattr(value, "owner") and hasattr(value, "type"):
            raise TypeError(f"{what}: got the symbolic variable {value!r}; a compiled function takes values "
                            f"({expected}), not graph variables (substitute one with givens)")
        python_float = isinstance(value, float) or (
            isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in _flat(value)))
        try:
            arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        except ValueError as err:
            raise TypeError(f"{what}: cannot make an array of the {type(value).__name__} given ({err}); "
                            f"{expected}") from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{what}: got {type(value).__name__} holding {arr.dtype.name} data "
                            f"({_preview(value)}); {expected}")
        if arr.ndim != self.ndim and not isinstance(value, np.ndarray) and np.ndim(value) == 0:
            raise TypeError(f"{what}: got a Python {type(value).__name__} ({value!r}), a 0-d value; {expected}")
        if arr.dtype.name != self.dtype:
            if strict:
                raise TypeError(f"{what}: expected dtype {self.dtype}, got {arr.dtype.name}")
            ok = np.can_cast(arr.dtype, self.dtype, "safe") or allow_downcast or (
                allow_downcast is None and python_float and self.dtype == config.floatX
                and arr.dtype.kind in "fiub")
            if not ok and arr.dtype.kind in "iub" and arr.size and self.dtype in FLOAT_DTYPES + INT_DTYPES:
                # Integer data that fits exactly is no loss (e.g. labels 0..9 into int32).
                if np.dtype(self.dtype).kind in "iu":  # by range: a round trip through a wrapped value can come back equal
                    info = np.iinfo(self.dtype)
                    ok = info.min <= int(arr.min()) and int(arr.max()) <= info.max
                else:
                    ok = np.array_equal(arr.astype(self.dtype).astype(arr.dtype), arr)
            if not ok:
                raise TypeError(
                    f"{what}: expected dtype {self.dtype}, got {arr.dtype.name}; converting would lose "
                    f"precision (cast it yourself, or pass allow_input_downcast=True)")
            arr = arr.astype(self.dtype)
        if arr.ndim != self.ndim:
            raise TypeError(f"{what}: wrong number of dimensions: expected {self.ndim} "
                            f"({self}), got {arr.ndim} (shape {arr.shape})")
        for axis, (bcast, size) in enumerate(zip(self.broadcastable, arr.shape)):
            if bcast and size != 1:
                raise TypeError(f"{what}: dim {axis} is declared broadcastable (size 1) "
                                f"but has size {size} (shape {arr.shape})")
        return arr

    def value_zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _flat(seq: Any):
    for item in seq:
        if isinstance(item, (list, tuple)):
            yield from _flat(item)
        else:
            yield item


class RandomStateType(Type):
    """The type of a ``numpy.random.Generator`` held in a shared variable."""

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None,
               what: str = "value") -> np.random.Generator:
        if not isinstance(value, np.random.Generator):
            raise TypeError(f"{what}: expected a numpy.random.Generator, got {type(value).__name__}")
        return value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return "RandomStateType()"
