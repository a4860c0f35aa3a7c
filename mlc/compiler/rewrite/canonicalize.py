"""Canonicalization: algebraic simplification into one normal form.

``x*1``, ``x+0``, ``x-0``, ``x-x``, ``--x``, ``x/x``, ``x/1``, ``exp(log x)``, ``log(exp x)``,
n-ary add/mul flattening, constants collected into one, sums of sums (and max of max, ...),
dimshuffle of dimshuffle (so transpose of transpose), useless dimshuffles and
rebroadcasts, and shape entries known from the type.
"""
from __future__ import annotations

import numpy as np

from ..directional import GradientOnly
from ..gradient import DisconnectedGrad
from ..graph import Constant
from ..ops.elemwise import DimShuffle, Elemwise
from ..ops.reduce import Reduce
from ..ops.shape import Rebroadcast, Shape
from ..ops.subtensor import Subtensor
from ..tensor import basic as T
from ..tensor.variable import TensorConstant
from .engine import WalkingPass, node_rewriter
from .patterns import is_constant_value, producer, single_client


@node_rewriter(["add", "mul"])
def flatten_add_mul(fgraph, node):
    name = node.op.scalar_op.name
    new_inputs, changed = [], False
    for inp in node.inputs:
        inner = producer(inp, name)
        if inner is not None and single_client(fgraph, inp) and inp.dtype == node.outputs[0].dtype:
            new_inputs.extend(inner.inputs)
            changed = True
        else:
            new_inputs.append(inp)
    return [node.op(*new_inputs)] if changed else None


@node_rewriter(["add", "mul"])
def collect_constants(fgraph, node):
    consts = [i for i in node.inputs if isinstance(i, Constant)]
    if len(consts) < 2:
        return None
    ufunc = np.add if node.op.scalar_op.name == "add" else np.multiply
    value = consts[0].data
    for c in consts[1:]:
        value = ufunc(value, c.data)
    value = np.asarray(value, dtype=node.outputs[0].dtype)
    merged = TensorConstant(T.TensorType(value.dtype, tuple(s == 1 for s in value.shape)), value)
    rest = [i for i in node.inputs if not isinstance(i, Constant)]
    return [node.op(*rest, merged) if rest else merged]


@node_rewriter(["add", "mul"])
def identity_elements(fgraph, node):
    neutral = 0 if node.op.scalar_op.name == "add" else 1
    keep = [i for i in node.inputs if not is_constant_value(i, neutral)]
    if len(keep) == len(node.inputs):
        return None
    if not keep:
        return [T.second(node.inputs[0], T.constant(neutral, dtype=node.outputs[0].dtype))]
    out = keep[0] if len(keep) == 1 else node.op(*keep)
    if out.broadcastable != node.outputs[0].broadcastable:
        return None  # the constant set the output shape; keep it
    return [out]


@node_rewriter(["add"])
def add_repeated(fgraph, node):
    """``x + x`` → ``2 * x``."""
    inputs = list(node.inputs)
    for k, v in enumerate(inputs):
        count = sum(1 for w in inputs if w is v)
        if count > 1:
            rest = [w for w in inputs if w is not v]
            scaled = T.mul(T.constant(count, dtype=v.dtype), v)
            return [T.add(scaled, *rest) if rest else scaled]
    return None


def _covers(inputs, out) -> bool:
    """Together, ``inputs`` are non-broadcastable wherever ``out`` is (so they fix its shape)."""
    return all(b or any(not i.broadcastable[d] for i in inputs) for d, b in enumerate(out.broadcastable))


@node_rewriter([Elemwise])
def useless_fill(fgraph, node):
    """``second(a, v)`` only broadcasts ``v`` to ``a``'s shape. Elemwise checks that
    non-broadcastable dims agree, so where other inputs (or ``v`` itself) already fix the
    shape, the fill is not needed."""
    out = node.outputs[0]
    if producer(out, "second"):
        a, v = node.inputs
        return [v] if v.broadcastable == out.broadcastable and v.dtype == out.dtype else None
    if node.op.inplace_pattern:
        return None
    for k, inp in enumerate(node.inputs):
        fill = producer(inp, "second")
        if fill is None or fill.outputs[0].dtype != fill.inputs[1].dtype:
            continue
        others = [i for j, i in enumerate(node.inputs) if j != k] + [fill.inputs[1]]
        if _covers(others, out):
            new_inputs = list(node.inputs)
            new_inputs[k] = fill.inputs[1]
            return [node.op(*new_inputs)]
    return None


@node_rewriter(["sub"])
def sub_rules(fgraph, node):
    x, y = node.inputs
    if x is y:
        return [T.zeros_like(x)]
    if is_constant_value(y, 0) and x.broadcastable == node.outputs[0].broadcastable:
        return [x]
    return None


@node_rewriter(["neg"])
def neg_neg(fgraph, node):
    inner = producer(node.inputs[0], "neg")
    return [inner.inputs[0]] if inner is not None else None


@node_rewriter(["true_div"])
def div_rules(fgraph, node):
    x, y = node.inputs
    if x is y:
        return [T.ones_like(x)]
    if is_constant_value(y, 1) and x.broadcastable == node.outputs[0].broadcastable:
        return [x]
    return None


@node_rewriter(["exp", "log"])
def exp_log(fgraph, node):
    inverse = "log" if node.op.scalar_op.name == "exp" else "exp"
    inner = producer(node.inputs[0], inverse)
    if inner is not None and inner.inputs[0].dtype == node.outputs[0].dtype:
        return [inner.inputs[0]]
    return None


@node_rewriter([Reduce])
def reduce_of_reduce(fgraph, node):
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, Reduce) or inner.op.name != node.op.name:
        return None
    if not single_client(fgraph, node.inputs[0]) or inner.op.dtype != node.op.dtype:
        return None
    x = inner.inputs[0]
    remaining = [d for d in range(x.ndim) if d not in inner.op.axis]
    axes = sorted(set(inner.op.axis) | {remaining[a] for a in node.op.axis})
    return [Reduce(node.op.name, axes, node.op.dtype)(x)]


@node_rewriter([DimShuffle])
def dimshuffle_rules(fgraph, node):
    x = node.inputs[0]
    order = node.op.new_order
    if order == tuple(range(x.ndim)):
        return [x]
    inner = x.owner
    if inner is not None and isinstance(inner.op, DimShuffle):
        composed = tuple("x" if d == "x" else inner.op.new_order[d] for d in order)
        base = inner.inputs[0]
        if composed == tuple(range(base.ndim)):
            return [base]
        return [DimShuffle(base.broadcastable, composed)(base)]
    if isinstance(x, Constant):
        return [TensorConstant(node.outputs[0].type, np.asarray(
            x.data.transpose(node.op.shuffle + node.op.drop).reshape(
                [1 if d == "x" else x.data.shape[d] for d in order])))]
    return None


@node_rewriter([Rebroadcast])
def useless_rebroadcast(fgraph, node):
    x = node.inputs[0]
    return [x] if x.broadcastable == node.op.broadcastable else None


@node_rewriter([Subtensor])
def shape_entry(fgraph, node):
    """``x.shape[i]``: 1 when the type says so, else read off the inputs of the node making
    ``x`` (its ``infer_shape``), so intermediate results need not exist to know their size."""
    vec = node.inputs[0]
    if vec.owner is None or not isinstance(vec.owner.op, Shape) or len(node.op.idx_list) != 1:
        return None
    (entry,) = node.op.idx_list
    x = vec.owner.inputs[0]
    if not isinstance(entry, int) or not -x.ndim <= entry < x.ndim:
        return None
    if x.broadcastable[entry]:
        return [T.constant(1, dtype="int64")]
    producer_node = x.owner
    if producer_node is None:
        return None
    input_shapes = [tuple(T.shape(i)[d] for d in range(i.ndim)) if hasattr(i.type, "ndim") else None
                    for i in producer_node.inputs]
    try:
        shapes = producer_node.op.infer_shape(producer_node, input_shapes)
    except (NotImplementedError, AttributeError, TypeError, IndexError):
        return None
    size = shapes[x.index][entry] if shapes[x.index] is not None else None
    if size is None:
        return None
    return [T.cast(T.as_tensor_variable(size), "int64")]


@node_rewriter(["identity"])
def useless_identity(fgraph, node):
    return [node.inputs[0]]


@node_rewriter([DisconnectedGrad, GradientOnly])
def backward_only_identity(fgraph, node):
    """Ops that only change the backward pass are identities once the gradient is built."""
    return [node.inputs[0]]


CANONICALIZE = WalkingPass("canonicalize", [
    flatten_add_mul, collect_constants, identity_elements, add_repeated, useless_fill, sub_rules, neg_neg, div_rules, exp_log,
    reduce_of_reduce, dimshuffle_rules, useless_rebroadcast, useless_identity, backward_only_identity])
SHAPES = WalkingPass("shapes", [shape_entry])
