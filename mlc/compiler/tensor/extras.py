"""Theano 1.0 constructors that ported programs use: ``specify_shape``, ``stacklists``,
``mgrid``/``ogrid``."""
from __future__ import annotations

from typing import Any, Sequence


from ..graph import Apply, Op
from .variable import TensorVariable, as_tensor_variable

__all__ = ["specify_shape", "SpecifyShape", "stacklists", "mgrid", "ogrid"]


class SpecifyShape(Op):
    """``x``, checked at run time to have ``shape``; the rewriter may use the shape."""

    view_map = {0: [0]}

    def make_node(self, x: Any, shape: Any) -> Apply:
        from .shape import make_vector, shape_list
        x = as_tensor_variable(x)
        items = shape_list(shape) if not (hasattr(shape, "ndim") and shape.ndim == 1) else shape
        shape = make_vector(items) if isinstance(items, list) else as_tensor_variable(items)
        if shape.ndim != 1 or (isinstance(items, list) and len(items) != x.ndim):
            raise ValueError(f"specify_shape: {x} is {x.ndim}-d but the shape given has "
                             f"{len(items) if isinstance(items, list) else '?'} entries")
        return Apply(self, [x, shape], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, shape = inputs
        if x.shape != tuple(int(s) for s in shape):
            raise AssertionError(f"specify_shape: {node.inputs[0]} has shape {x.shape}, expected {tuple(int(s) for s in shape)}")
        output_storage[0][0] = x

    def infer_shape(self, node, input_shapes):
        shape = node.inputs[1]
        return [tuple(shape[i] for i in range(node.inputs[0].ndim))]

    def grad(self, inputs, output_grads):
        return [output_grads[0], None]


def specify_shape(x: Any, shape: Any) -> TensorVariable:
    """``x`` with a known shape (a tuple of ints or scalars, or an int vector), checked when run."""
    return SpecifyShape()(x, shape)


def stacklists(arg: Any) -> TensorVariable:
    """A tensor from nested lists of symbolic scalars (or tensors), stacked level by level.

    >>> import mlc.compiler.tensor as T
    >>> a, b, c, d = T.scalars("abcd")
    >>> X = stacklists([[a, b], [c, d]])   # a 2x2 matrix
    """
    from .shape import stack
    if isinstance(arg, (list, tuple)):
        return stack([stacklists(item) for item in arg])
    return as_tensor_variable(arg)


class _Grid:
    """``mgrid[0:5, 0:3]`` (dense, like NumPy's) and ``ogrid`` (open: broadcastable axes);
    bounds may be symbolic."""

    def __init__(self, sparse: bool) -> None:
        self.sparse = sparse

    def __getitem__(self, slices: Any) -> list[TensorVariable]:
        from . import basic as T
        slices = slices if isinstance(slices, tuple) else (slices,)
        ranges = [T.arange(s.start if s.start is not None else 0, s.stop, s.step if s.step is not None else 1)
                  for s in slices]
        n = len(ranges)
        open_ = [r.dimshuffle(*[0 if j == k else "x" for j in range(n)]) for k, r in enumerate(ranges)]
        if self.sparse:
            return open_
        zeros = _sum_of_zeros(open_)
        return [g + zeros for g in open_]


def _sum_of_zeros(grids: Sequence[TensorVariable]) -> TensorVariable:
    from . import basic as T
    total = T.zeros_like(grids[0])
    for g in grids[1:]:
        total = total + T.zeros_like(g)
    return total


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)

