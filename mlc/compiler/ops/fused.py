"""Fused kernels made by the fusion rewrite: ``Composite`` (a small scalar graph run as one
elementwise op) and ``FusedReduce`` (a composite feeding a reduction)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType
from .elemwise import Elemwise, check_broadcast
from .reduce import Reduce
from .scalar import ScalarOp

# A node of a composite: (scalar_op, args, out_dtype); an arg is ("i", k) for input k,
# ("n", j) for node j's result, or ("c", value, dtype) for a scalar constant.


class Composite(ScalarOp):
    """A scalar graph over ``len(input_dtypes)`` inputs whose last node is the output."""

    def __init__(self, input_dtypes: Sequence[str], nodes: Sequence[tuple]) -> None:
        self.input_dtypes, self.nodes = tuple(input_dtypes), tuple(nodes)
        out_dtype = self.nodes[-1][2]
        super().__init__(f"Composite{{{self.expression()}}}", len(self.input_dtypes), self._evaluate, "",
                         out_dtype=lambda *_: out_dtype, grad=None)

    def _key(self):
        return (Composite, self.input_dtypes, self.nodes)

    def __reduce__(self):
        return (Composite, (self.input_dtypes, self.nodes))

    def expression(self) -> str:
        """The composite as one infix expression over ``i0, i1, ...``."""
        from ..printing import _INFIX
        texts: list[str] = []

        def arg(a):
            if a[0] == "i":
                return f"i{a[1]}"
            if a[0] == "c":
                return repr(a[1])
            return texts[a[1]]
        for op, args, _ in self.nodes:
            parts = [arg(a) for a in args]
            if op.name in _INFIX:
                texts.append("(" + f" {_INFIX[op.name]} ".join(parts) + ")")
            elif op.name == "neg":
                texts.append(f"-{parts[0]}")
            else:
                texts.append(f"{op.name}({', '.join(parts)})")
        return texts[-1]

    def _evaluate(self, *inputs: np.ndarray) -> np.ndarray:
        results: list[np.ndarray] = []
        for op, args, dtype in self.nodes:
            values = [inputs[a[1]] if a[0] == "i" else results[a[1]] if a[0] == "n"
                      else np.asarray(a[1], dtype=a[2]) for a in args]
            if op.cast_inputs:
                values = [v if v.dtype == dtype else v.astype(dtype) for v in values]
            with np.errstate(all="ignore"):
                results.append(np.asarray(op.impl(*values), dtype=dtype))
        return results[-1]


class FusedReduce(Op):
    """``Reduce(name, axis)`` of ``Elemwise(composite)`` without the intermediate array."""

    __props__ = ("composite", "name", "axis", "dtype")

    def __init__(self, composite: Composite, name: str, axis: Sequence[int], dtype: str) -> None:
        self.composite, self.name, self.axis, self.dtype = composite, name, tuple(axis), dtype
        self._elemwise = Elemwise(composite)
        self._reduce = Reduce(name, axis, dtype)

    def __str__(self) -> str:
        return f"FusedReduce{{{self.name}, axis={list(self.axis)}, {self.composite.expression()}}}"

    def describe(self) -> str:
        return str(self)

    def make_node(self, *inputs: Any) -> Apply:
        inner = self._elemwise.make_node(*inputs)
        out = self._reduce.make_node(inner.outputs[0]).outputs[0]
        return Apply(self, inner.inputs, [TensorType(out.dtype, out.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        check_broadcast(node, inputs)
        value = self.composite.impl(*inputs)
        cell = [None]
        self._reduce.perform(node, [value], [cell])
        output_storage[0][0] = cell[0]

    def infer_shape(self, node, input_shapes):
        full = Elemwise.infer_shape(self._elemwise, node, input_shapes)[0]
        return [tuple(s for d, s in enumerate(full) if d not in self.axis)]
