"""Shared variables: symbolic variables with a value that persists across function calls.

>>> import numpy as np
>>> w = shared(np.zeros(3), name='w')
>>> w.get_value()
array([0., 0., 0.])
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from .graph import Variable
from .tensor.variable import _TensorMethods
from .types import RandomStateType, TensorType, Type


# Set once any shared value is moved to a device: from then on every function call checks
# that the shared values it reads are where it needs them (host-only programs never pay).
on_device = False


def on_a_device(value: Any) -> bool:
    """Whether ``value`` is a device array (pyopencl's and pycuda's have ``get()``)."""
    return hasattr(value, "get") and not isinstance(value, (np.ndarray, np.generic, np.random.Generator, dict))


class SharedVariable(Variable):
    """A variable whose value lives in ``container[0]``; functions read it implicitly and
    their ``updates`` write it after each call."""

    def __init__(self, type: Type, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None) -> None:
        super().__init__(type, None, None, name)
        self.container = [type.filter(value, strict=strict, allow_downcast=allow_downcast,
                                      what=self._what())]
        self.default_update: Variable | None = None

    def _what(self) -> str:
        return f"shared variable {self.name!r}" if self.name else "shared variable"

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current value; a copy unless ``borrow=True`` (always a host copy when the
        value lives on a device)."""
        value = self.container[0]
        if on_a_device(value):
            return value.get()
        return value if borrow else copy.deepcopy(value)

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value (converted to this variable's type, or a clear error)."""
        new = self.type.filter(value, allow_downcast=None, what=self._what())
        if not borrow and new is value:
            new = copy.deepcopy(new)
        self.container[0] = new

    @property
    def value(self) -> Any:
        return self.get_value()

    def clone(self) -> "SharedVariable":
        return self  # a shared variable is one storage: graph clones keep pointing at it

    def __getstate__(self) -> dict:
        """Pickled (and deep-copied) with its value on the host."""
        state = dict(self.__dict__)
        if on_a_device(self.container[0]):
            state["container"] = [self.container[0].get()]
        return state

    def __deepcopy__(self, memo: dict) -> "SharedVariable":
        new = object.__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        return new


class TensorSharedVariable(_TensorMethods, SharedVariable):
    """A shared tensor, usable in expressions like any symbolic tensor."""


class RandomStateSharedVariable(SharedVariable):
    """A shared ``numpy.random.Generator``."""


def shared(value: Any, name: str | None = None, strict: bool = False, allow_downcast: bool | None = None,
           borrow: bool = False, broadcastable: Sequence[bool] | None = None) -> SharedVariable:
    """A shared variable initialised with ``value`` (copied unless ``borrow=True``).

    Its dtype is the value's (``shared(0.)`` is float64, as in Theano); all dims are
    non-broadcastable unless ``broadcastable`` says otherwise.
    """
    if isinstance(value, np.random.Generator):
        return RandomStateSharedVariable(RandomStateType(), value if borrow else copy.deepcopy(value), name)
    if isinstance(value, Variable):
        raise TypeError(f"shared() takes a value (e.g. a NumPy array), got the symbolic variable {value}")
    try:
        arr = np.array(value, copy=not borrow) if not isinstance(value, np.ndarray) or not borrow else value
    except (TypeError, ValueError) as err:
        raise TypeError(f"shared(): cannot make an array from {type(value).__name__}: {err}") from None
    if arr.dtype == object or arr.dtype.name not in _DTYPES:
        raise TypeError(f"shared(): unsupported value of dtype {arr.dtype} (from {type(value).__name__})")
    bcast = tuple(broadcastable) if broadcastable is not None else (False,) * arr.ndim
    return TensorSharedVariable(TensorType(arr.dtype.name, bcast), arr, name, strict, allow_downcast)


from .types import ALL_DTYPES as _DTYPES  # noqa: E402
