"""Ops of ``T.extra_ops`` that look values up or count them: ``BinCount``, ``SearchSorted``,
``Unique``, ``NonZero``, ``RavelMultiIndex``, ``UnravelIndex`` and ``Choose``. Their results
are integers or data-dependent in shape, so each is NumPy's function as a ``perform``; only
``BinCount``'s weights and ``Choose``'s choices carry a gradient."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType
from ..choices import check_choice


def _T():
    from ..tensor import basic
    return basic


def _int_tensor(x: Any, what: str) -> Any:
    x = _T().as_tensor_variable(x)
    if not x.dtype.startswith(("int", "uint")):
        raise TypeError(f"{what} must hold integers, got {x.dtype}")
    return x


class BinCount(Op):
    """How often each value of a non-negative int vector occurs (with ``weights``: their sums)."""

    __props__ = ("minlength",)

    def __init__(self, minlength: int | None = None) -> None:
        self.minlength = minlength

    def make_node(self, x: Any, weights: Any = None) -> Apply:
        x = _int_tensor(x, "bincount: x")
        if x.ndim != 1:
            raise TypeError(f"bincount: x must be a vector, got a {x.ndim}-d tensor")
        inputs, dtype = [x], "int64"
        if weights is not None:
            weights = _T().as_tensor_variable(weights)
            inputs.append(weights)
            dtype = weights.dtype if weights.dtype.startswith("float") else "float64"
        return Apply(self, inputs, [TensorType(dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        if len(x) and x.min() < 0:
            raise ValueError(f"bincount: x must be non-negative, got {x.min()}")
        counts = np.bincount(x, inputs[1] if len(inputs) > 1 else None, self.minlength or 0)
        output_storage[0][0] = counts.astype(node.outputs[0].dtype, copy=False)

    def grad(self, inputs, output_grads):
        if len(inputs) == 1:
            return [None]
        return [None, output_grads[0][inputs[0]]]  # each weight went to the bin of its value


class SearchSorted(Op):
    """Where each ``v`` would go in the sorted vector ``a`` to keep it sorted (``side``)."""

    __props__ = ("side",)

    def __init__(self, side: str = "left") -> None:
        check_choice("searchsorted: side", side, ("left", "right"))
        self.side = side

    def make_node(self, a: Any, v: Any, sorter: Any = None) -> Apply:
        T = _T()
        a, v = T.as_tensor_variable(a), T.as_tensor_variable(v)
        if a.ndim != 1:
            raise TypeError(f"searchsorted: a must be a vector, got a {a.ndim}-d tensor")
        inputs = [a, v] + ([_int_tensor(sorter, "searchsorted: sorter")] if sorter is not None else [])
        return Apply(self, inputs, [TensorType("int64", v.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        a, v = inputs[:2]
        sorter = inputs[2] if len(inputs) > 2 else None
        output_storage[0][0] = np.asarray(np.searchsorted(a, v, self.side, sorter), dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def grad(self, inputs, output_grads):  # piecewise constant: zero wherever it is defined
        return [_T().zeros_like(i) if i.dtype.startswith("float") else None for i in inputs]


class Unique(Op):
    """The sorted distinct values (of the flattened input, or along ``axis``), and as asked
    the first index of each, the inverse mapping and the counts (all int64)."""

    __props__ = ("return_index", "return_inverse", "return_counts", "axis")

    def __init__(self, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
                 axis: int | None = None) -> None:
        self.return_index, self.return_inverse = bool(return_index), bool(return_inverse)
        self.return_counts, self.axis = bool(return_counts), axis

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        values = TensorType(x.dtype, (False,) if self.axis is None else (False,) * x.ndim)()
        extra = [TensorType("int64", (False,))() for flag in (self.return_index, self.return_inverse,
                                                              self.return_counts) if flag]
        return Apply(self, [x], [values] + extra)

    def perform(self, node, inputs, output_storage):
        results = np.unique(inputs[0], self.return_index, self.return_inverse, self.return_counts, self.axis)
        results = results if isinstance(results, tuple) else (results,)
        for cell, value, out in zip(output_storage, results, node.outputs):
            cell[0] = np.asarray(value, dtype=out.dtype).reshape(-1) if out.dtype == "int64" else value

    def grad(self, inputs, output_grads):
        raise NotImplementedError("unique has no gradient (as in Theano)")


class NonZero(Op):
    """The indices of the non-zero elements, one int64 vector per axis (``numpy.nonzero``)."""

    __props__ = ()

    def make_node(self, a: Any) -> Apply:
        a = _T().as_tensor_variable(a)
        if a.ndim == 0:
            raise TypeError("nonzero: a 0-d input has no indices; reshape it first")
        return Apply(self, [a], [TensorType("int64", (False,))() for _ in range(a.ndim)])

    def perform(self, node, inputs, output_storage):
        for cell, idx in zip(output_storage, np.nonzero(inputs[0])):
            cell[0] = idx.astype("int64", copy=False)

    def grad(self, inputs, output_grads):
        return [_T().zeros_like(inputs[0])]


class RavelMultiIndex(Op):
    """Flat indices of index tuples in an array of shape ``dims`` (``numpy.ravel_multi_index``)."""

    __props__ = ("mode", "order")

    def __init__(self, mode: str = "raise", order: str = "C") -> None:
        self.mode, self.order = mode, order

    def make_node(self, *inputs: Any) -> Apply:
        *indices, dims = [_int_tensor(i, "ravel_multi_index: indices and dims") for i in inputs]
        if dims.ndim != 1:
            raise TypeError("ravel_multi_index: dims must be a vector")
        return Apply(self, [*indices, dims], [TensorType("int64", indices[0].broadcastable)()])

    def perform(self, node, inputs, output_storage):
        *indices, dims = inputs
        output_storage[0][0] = np.asarray(np.ravel_multi_index(tuple(indices), tuple(dims), self.mode, self.order),
                                          dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        return [None] * len(inputs)


class UnravelIndex(Op):
    """The index tuples (one int64 array per dimension) of flat indices into an array of
    shape ``dims`` (``numpy.unravel_index``); ``ndim`` is the length of ``dims``."""

    __props__ = ("ndim", "order")

    def __init__(self, ndim: int, order: str = "C") -> None:
        self.ndim, self.order = int(ndim), order

    def make_node(self, indices: Any, dims: Any) -> Apply:
        indices, dims = _int_tensor(indices, "unravel_index: indices"), _int_tensor(dims, "unravel_index: dims")
        return Apply(self, [indices, dims], [TensorType("int64", indices.broadcastable)() for _ in range(self.ndim)])

    def perform(self, node, inputs, output_storage):
        indices, dims = inputs
        if len(dims) != self.ndim:
            raise ValueError(f"unravel_index: dims has {len(dims)} entries, the graph was built for {self.ndim}")
        for cell, idx in zip(output_storage, np.unravel_index(indices, tuple(dims), self.order)):
            cell[0] = np.asarray(idx, dtype="int64")

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]] * self.ndim

    def grad(self, inputs, output_grads):
        return [None, None]


class Choose(Op):
    """``choices[a[i]][i]`` elementwise (``numpy.choose``; ``mode`` raise, wrap or clip)."""

    __props__ = ("mode",)

    def __init__(self, mode: str = "raise") -> None:
        check_choice("choose: mode", mode, ("raise", "wrap", "clip"))
        self.mode = mode

    def make_node(self, a: Any, choices: Any) -> Apply:
        T = _T()
        a = _int_tensor(a, "choose: a")
        choices = T.stack(list(choices)) if isinstance(choices, (list, tuple)) else T.as_tensor_variable(choices)
        ndim = max(a.ndim, choices.ndim - 1)
        return Apply(self, [a, choices], [TensorType(choices.dtype, (False,) * ndim)()])

    def perform(self, node, inputs, output_storage):
        a, choices = inputs
        output_storage[0][0] = np.asarray(np.choose(a, choices, mode=self.mode), dtype=node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        raise NotImplementedError("choose has no gradient (as in Theano)")
