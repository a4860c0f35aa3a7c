"""``Map``: evaluate an inner graph for each index ``i`` in ``range(n)`` and stack the results.

This is what ``jacobian`` needs when the length of the expression is only known at run time.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Constant, Op, Variable, graph_inputs
from ..types import TensorType


class Map(Op):
    """Outputs ``stack([inner(i, *free) for i in range(n)])`` for each inner output."""

    def __init__(self, index: Variable, free: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.index, self.free, self.inner_outputs = index, list(free), list(outputs)
        self._fn = None

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_fn"} | {"_fn": None}

    def make_node(self, n: Any, *free: Any) -> Apply:
        outs = [TensorType(o.dtype, (False,) + o.broadcastable)() for o in self.inner_outputs]
        return Apply(self, [n, *free], outs)

    def perform(self, node, inputs, output_storage):
        from ..function import function
        if self._fn is None:
            self._fn = function([self.index, *self.free], self.inner_outputs, on_unused_input="ignore")
        n, *free = inputs
        rows = [self._fn(np.int64(i), *free) for i in range(int(n))]
        for k, out in enumerate(node.outputs):
            if rows:
                output_storage[k][0] = np.stack([r[k] for r in rows]).astype(out.dtype, copy=False)
            else:
                shape = (0,) + tuple(1 if b else 0 for b in self.inner_outputs[k].broadcastable)
                output_storage[k][0] = np.zeros(shape, dtype=out.dtype)

    def grad(self, inputs, output_grads):
        raise NotImplementedError("the gradient of a jacobian (third derivatives) is not supported")


def map_over_index(index: Variable, n: Variable, outputs: Sequence[Variable]) -> list[Variable]:
    """For each output, the stack over ``index`` in ``range(n)``."""
    from ..sharedvalue import SharedVariable
    free = [v for v in graph_inputs(outputs) if v is not index and not isinstance(v, (Constant, SharedVariable))]
    node = Map(index, free, outputs).make_node(n, *free)
    return node.outputs
