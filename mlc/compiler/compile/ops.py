"""``as_op``: a Python function as an op, as Theano's ``theano.compile.ops.as_op``."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..graph import Apply, Op


class FromFunctionOp(Op):
    """An op running a Python function on NumPy values (no gradient, no C code)."""

    def __init__(self, fn: Callable, itypes: Sequence[Any], otypes: Sequence[Any],
                 infer_shape: Callable | None = None) -> None:
        self.fn, self.itypes, self.otypes, self._infer_shape = fn, list(itypes), list(otypes), infer_shape
        self.__name__ = getattr(fn, "__name__", "as_op")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.fn is self.fn  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.fn))

    def __str__(self) -> str:
        return f"FromFunctionOp{{{self.__name__}}}"

    def make_node(self, *inputs: Any) -> Apply:
        from ..tensor.basic import as_tensor_variable
        if len(inputs) != len(self.itypes):
            raise TypeError(f"{self}: takes {len(self.itypes)} inputs, got {len(inputs)}")
        inputs = [as_tensor_variable(v) for v in inputs]
        for k, (v, t) in enumerate(zip(inputs, self.itypes)):
            if v.type != t:
                raise TypeError(f"{self}: input {k} is {v.type}, expected {t}")
        return Apply(self, inputs, [t() for t in self.otypes])

    def perform(self, node, inputs, output_storage):
        results = self.fn(*inputs)
        if len(self.otypes) == 1:
            results = [results]
        for cell, value, t in zip(output_storage, results, self.otypes):
            cell[0] = np.asarray(value, dtype=t.dtype)

    def infer_shape(self, node, input_shapes):
        if self._infer_shape is None:
            raise NotImplementedError(f"{self} was given no infer_shape")
        return self._infer_shape(node, input_shapes)

    def grad(self, inputs, output_grads):
        raise NotImplementedError(f"{self} (made by as_op) has no gradient; write an Op with grad() for one")


def as_op(itypes: Sequence[Any], otypes: Sequence[Any], infer_shape: Callable | None = None) -> Callable:
    """Decorator turning a NumPy function into an op with the given input and output types.

    >>> import mlc.compiler.tensor as T
    >>> @as_op(itypes=[T.dmatrix], otypes=[T.dmatrix])
    ... def numpy_dot_self(a):
    ...     return a @ a
    """
    def decorate(fn: Callable) -> FromFunctionOp:
        return FromFunctionOp(fn, itypes, otypes, infer_shape)
    return decorate
