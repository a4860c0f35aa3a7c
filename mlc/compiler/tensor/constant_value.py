"""What the graph alone says a scalar is: Theano's ``get_scalar_constant_value`` and
``extract_constant``, which ported layer code uses to fold shapes and hyper-parameters
when a graph is built (``T.get_scalar_constant_value(x.shape[1])`` for a broadcastable dim)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Constant, Variable
from ..ops.elemwise import DimShuffle, Elemwise
from ..ops.shape import Alloc, Join, MakeVector, Shape
from ..ops.subtensor import Subtensor
from .variable import TensorVariable, constant


class NotScalarConstantError(ValueError):
    """The value is not known when the graph is built."""


def get_scalar_constant_value(v: Any, elemwise: bool = True, only_process_constants: bool = False,
                              max_recur: int = 10) -> np.ndarray:
    """The value of scalar ``v`` as a 0-d array when the graph determines it (a constant of one
    element, its dimshuffles and allocations, elementwise arithmetic on such values when
    ``elemwise``, the length of a broadcastable dim, an item of a vector made of such scalars),
    else ``NotScalarConstantError``. ``only_process_constants`` looks at constants only.

    >>> import mlc.compiler.tensor as T
    >>> int(T.get_scalar_constant_value(T.constant(2) * 3 + T.row().shape[0]))
    7
    """
    if not isinstance(v, Variable):
        data = np.asarray(v)
        if data.size != 1:
            raise NotScalarConstantError(f"{v!r} has {data.size} elements, not one")
        return data.reshape(())
    if isinstance(v, Constant):
        data = np.asarray(v.data)
        if data.size != 1:
            raise NotScalarConstantError(f"{v} is a constant of {data.size} elements, not one")
        return data.reshape(()).copy()
    node = v.owner
    if only_process_constants or node is None or max_recur <= 0:
        raise NotScalarConstantError(f"{v} is not a constant")

    def inner(x):
        return get_scalar_constant_value(x, elemwise, only_process_constants, max_recur - 1)

    if isinstance(node.op, (DimShuffle, Alloc)):
        return inner(node.inputs[0]).astype(v.dtype)
    if isinstance(node.op, Elemwise) and elemwise and all(v.broadcastable):
        args = [np.asarray(inner(x), dtype=x.dtype).reshape((1,) * x.ndim) for x in node.inputs]
        storage = [[None] for _ in node.outputs]
        node.op.perform(node, args, storage)
        return np.asarray(storage[node.outputs.index(v)][0], dtype=v.dtype).reshape(())
    if isinstance(node.op, Subtensor) and len(node.op.idx_list) == 1 and isinstance(node.op.idx_list[0], int):
        source, i = node.inputs[0], node.op.idx_list[0]
        if source.owner is not None and isinstance(source.owner.op, Shape):
            shaped = source.owner.inputs[0]
            if -shaped.ndim <= i < shaped.ndim and shaped.broadcastable[i]:
                return np.array(1, dtype=v.dtype)
        items = _scalar_items(source)
        if items is not None and -len(items) <= i < len(items):
            return inner(items[i]).astype(v.dtype)
    raise NotScalarConstantError(f"{v} is not known when the graph is built (made by {node.op})")


def _scalar_items(vector: Variable) -> list | None:
    """The scalars a vector is made of, item by item (``MakeVector``, or ``stack`` of
    scalars: a join of length-one vectors), else None."""
    node = vector.owner
    if node is not None and isinstance(node.op, MakeVector):
        return list(node.inputs)
    if (node is not None and isinstance(node.op, Join) and vector.ndim == 1
            and all(x.broadcastable == (True,) for x in node.inputs)):
        return list(node.inputs)
    return None


def extract_constant(x: Any, elemwise: bool = True, only_process_constants: bool = False) -> Any:
    """``x`` as a constant when ``get_scalar_constant_value`` knows it (a scalar stays a
    scalar, a tensor of the same type), else ``x`` unchanged."""
    try:
        value = get_scalar_constant_value(x, elemwise, only_process_constants)
    except NotScalarConstantError:
        return x
    if isinstance(x, TensorVariable) and x.ndim > 0:
        return constant(value.reshape((1,) * x.ndim))
    return constant(value)


__all__ = ["NotScalarConstantError", "get_scalar_constant_value", "extract_constant"]
