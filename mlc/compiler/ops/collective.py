"""Collective ops: values combined over the processes of an MPI job, inside a compiled graph.

``Allreduce`` sums (or averages) one tensor over the ranks; ``AllreduceMean`` averages many
tensors weighted per rank (by each rank's batch size, say) with **one** MPI call on one flat
buffer, which is what data-parallel training needs once per step. Both run through mpi4py,
imported only when a graph holding them runs. Gradients follow the rule that makes ``grad``
on one rank give the derivative of the sum of every rank's cost: the gradient of a sum over
ranks is the sum over ranks of the gradients.

With a single process (no ``mpiexec``) both are identities, so graphs that hold them run
and can be differentiated anywhere.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..choices import check_choice

_communicator: Any = None


def communicator() -> Any:
    """The MPI communicator the collective ops use (mpi4py's ``COMM_WORLD`` unless set)."""
    global _communicator
    if _communicator is None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError("an Allreduce in this graph needs mpi4py and an MPI library: "
                              "pip install 'mlc[mpi]'") from None
        _communicator = MPI.COMM_WORLD
    return _communicator


def set_communicator(comm: Any) -> None:
    """Make the collective ops use ``comm`` (an mpi4py communicator; None: ``COMM_WORLD``)."""
    global _communicator
    _communicator = comm


def _T():
    from ..tensor import basic
    return basic


def _sum_in_place(buffer: np.ndarray) -> None:
    from mpi4py import MPI
    communicator().Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)


class Allreduce(Op):
    """The sum (``reduction='sum'``) or mean (``'mean'``) of ``x`` over the ranks; every rank
    gets the same result."""

    __props__ = ("reduction",)

    def __init__(self, reduction: str = "sum") -> None:
        check_choice("Allreduce: reduction", reduction, ("sum", "mean"))
        self.reduction = reduction

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        if self.reduction == "mean" and x.dtype not in ("float32", "float64"):
            raise TypeError(f"Allreduce('mean') needs a float32 or float64 input, got {x.dtype}")
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        comm = communicator()
        buffer = np.array(inputs[0], dtype=node.outputs[0].dtype, order="C")  # a copy: MPI writes into it
        if comm.size > 1:
            _sum_in_place(buffer.reshape(-1))
            if self.reduction == "mean":
                buffer /= comm.size
        output_storage[0][0] = buffer

    def infer_shape(self, node, input_shapes):
        return input_shapes

    def grad(self, inputs, output_grads):
        return [Allreduce(self.reduction)(output_grads[0])]


class AllreduceMean(Op):
    """``sum_r w_r x_r / sum_r w_r`` for each of the tensors ``xs``, where ``w`` is this
    rank's weight (a scalar); one Allreduce of one buffer for all of them. A rank whose
    weight is 0 contributes nothing (not even the NaN of a mean over no examples)."""

    __props__ = ()

    def make_node(self, weight: Any, *xs: Any) -> Apply:
        T = _T()
        weight = T.as_tensor_variable(weight)
        if weight.ndim != 0:
            raise TypeError(f"AllreduceMean: the weight must be a scalar, got a {weight.ndim}-d tensor")
        xs = [T.as_tensor_variable(x) for x in xs]
        for k, x in enumerate(xs):
            if x.dtype not in ("float32", "float64"):
                raise TypeError(f"AllreduceMean: tensor {k} ({x}) is {x.dtype}; only float32/float64 average")
        return Apply(self, [weight, *xs], [x.type() for x in xs])

    def perform(self, node, inputs, output_storage):
        comm = communicator()
        weight, xs = float(inputs[0]), inputs[1:]
        if comm.size == 1:  # an identity, bit for bit
            for cell, x, out in zip(output_storage, xs, node.outputs):
                cell[0] = np.array(x, dtype=out.dtype)
            return
        dtype = np.result_type(*[out.dtype for out in node.outputs])
        sizes = [int(np.size(x)) for x in xs]
        buffer = np.empty(sum(sizes) + 1, dtype=dtype)
        start = 0
        for x, size in zip(xs, sizes):
            segment = buffer[start:start + size]
            if weight:
                np.multiply(np.reshape(x, -1), weight, out=segment)
            else:
                segment.fill(0)
            start += size
        buffer[-1] = weight
        _sum_in_place(buffer)
        buffer /= buffer[-1]
        start = 0
        for cell, x, size, out in zip(output_storage, xs, sizes, node.outputs):
            # views of a buffer made for this call alone
            cell[0] = buffer[start:start + size].reshape(np.shape(x)).astype(out.dtype, copy=False)
            start += size

    def infer_shape(self, node, input_shapes):
        return input_shapes[1:]

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        weight, xs = inputs[0], inputs[1:]
        total = Allreduce("sum")(weight)
        grads, weight_grad = [], 0
        for x, out, gz in zip(xs, outputs, output_grads):
            summed = Allreduce("sum")(gz)  # every rank's cost depends on this rank's x
            grads.append(summed * T.cast(weight / total, x.dtype))
            weight_grad = weight_grad + T.sum(summed * (x - out))
        return [T.cast(weight_grad / total, weight.dtype) if weight.dtype.startswith("float") else None, *grads]


def allreduce(x: Any, reduction: str = "sum") -> Any:
    """Symbolic sum (or mean) of ``x`` over the ranks of the MPI job."""
    return Allreduce(reduction)(x)


def allreduce_mean(xs: list, weight: Any = 1.0) -> list:
    """Symbolic weighted means over the ranks of the tensors ``xs``, in one Allreduce."""
    if not xs:
        return []
    out = AllreduceMean()(weight, *xs)
    return out if isinstance(out, list) else [out]
