"""Stabilization: rewrite expressions that overflow or lose precision into stable forms.

``log(sigmoid x)`` → ``-softplus(-x)``; ``log(1 - sigmoid x)`` → ``-softplus(x)``;
``log(softmax z)`` (also under indexing) → ``log_softmax z``;
``-log_softmax(z)[arange(n), y]`` and its gradient → ``SoftmaxCrossentropy1Hot``;
and in gradients: ``(a / b) * b`` → ``a`` (the ``g / sigmoid * sigmoid`` of ``log(sigmoid)``)
and softmax gradients of ``g / softmax`` → log-softmax gradients.
"""
from __future__ import annotations

from ..ops.nnet import (LogSoftmax, LogSoftmaxGrad, Softmax, SoftmaxCrossentropy1Hot,
                        SoftmaxCrossentropy1HotGrad, SoftmaxGrad)
from ..ops.shape import ARange, Alloc, Shape
from ..ops.subtensor import AdvancedIncSubtensor, AdvancedSubtensor, Subtensor
from ..tensor import basic as T
from .engine import WalkingPass, node_rewriter
from .patterns import is_constant_value, producer


@node_rewriter(["log"])
def log_sigmoid(fgraph, node):
    (x,) = node.inputs
    sig = producer(x, "sigmoid")
    if sig is not None:
        return [-T.softplus(-sig.inputs[0])]
    sub = producer(x, "sub")
    if sub is not None and is_constant_value(sub.inputs[0], 1):
        sig = producer(sub.inputs[1], "sigmoid")
        if sig is not None:
            return [-T.softplus(sig.inputs[0])]
    return None


def _softmax_input(var):
    node = var.owner
    if node is not None and isinstance(node.op, Softmax) and var.ndim == 2 and node.op.axis == 1:
        return node.inputs[0]
    return None


@node_rewriter(["log"])
def log_softmax(fgraph, node):
    (x,) = node.inputs
    z = _softmax_input(x)
    if z is not None:
        return [LogSoftmax(1)(z)]
    if x.owner is not None and isinstance(x.owner.op, AdvancedSubtensor):
        z = _softmax_input(x.owner.inputs[0])
        if z is not None:
            return [AdvancedSubtensor(x.owner.op.idx_list)(LogSoftmax(1)(z), *x.owner.inputs[1:])]
    return None


@node_rewriter(["mul"])
def cancel_division(fgraph, node):
    """``mul(..., a / b, ..., b, ...)`` → ``mul(..., a, ...)`` (also ``-(a / b)``)."""
    inputs = list(node.inputs)
    for k, factor in enumerate(inputs):
        negated = False
        div = producer(factor, "true_div")
        if div is None:
            neg = producer(factor, "neg")
            div = producer(neg.inputs[0], "true_div") if neg is not None else None
            negated = div is not None
        if div is None:
            continue
        a, b = div.inputs
        for j, other in enumerate(inputs):
            if j != k and other is b and b.broadcastable == node.outputs[0].broadcastable:
                rest = [v for i, v in enumerate(inputs) if i not in (j, k)]
                top = -a if negated else a
                out = T.mul(top, *rest) if rest else top
                if out.broadcastable != node.outputs[0].broadcastable:
                    out = T.second(b, out)  # b set the shape; keep it
                return [out]
    return None


def _division(var):
    """``(a, b)`` if ``var`` is ``a / b`` or ``-(a / b)``, else None."""
    div = producer(var, "true_div")
    if div is None:
        neg = producer(var, "neg")
        div = producer(neg.inputs[0], "true_div") if neg is not None else None
    return tuple(div.inputs) if div is not None else None


@node_rewriter(["mul"])
def distribute_to_cancel(fgraph, node):
    """``(a / b + c / d) * b * d`` → ``a * d + c * b``: distribute a product over a sum when
    that lets a factor cancel a division (gradients of ``log(sigmoid)`` and ``log(1 - sigmoid)``)."""
    inputs = list(node.inputs)
    for k, factor in enumerate(inputs):
        total = producer(factor, "add", "sub")
        if total is None:
            continue
        rest = [v for i, v in enumerate(inputs) if i != k]
        divisions = [_division(t) for t in total.inputs]
        if not any(d is not None and any(d[1] is r for r in rest) for d in divisions):
            continue
        parts = [T.mul(t, *rest) for t in total.inputs]
        out = T.add(*parts) if total.op.scalar_op.name == "add" else T.sub(*parts)
        return [out] if out.broadcastable == node.outputs[0].broadcastable else None
    return None


@node_rewriter([SoftmaxGrad])
def softmax_grad_of_division(fgraph, node):
    g, sm = node.inputs
    z = _softmax_input(sm)
    if z is None:
        return None
    div = producer(g, "true_div")
    if div is not None and div.inputs[1] is sm:
        return [LogSoftmaxGrad(1)(div.inputs[0], LogSoftmax(1)(z))]
    inc = g.owner
    if inc is not None and isinstance(inc.op, AdvancedIncSubtensor) and not inc.op.set_instead_of_inc:
        zeros, value, *idx = inc.inputs
        div = producer(value, "true_div")
        read = div.inputs[1].owner if div is not None else None
        if (read is not None and isinstance(read.op, AdvancedSubtensor) and read.inputs[0] is sm
                and read.op.idx_list == inc.op.idx_list and list(read.inputs[1:]) == idx and _is_zeros(zeros)):
            new_inc = AdvancedIncSubtensor(inc.op.idx_list, False)(zeros, div.inputs[0], *idx)
            return [LogSoftmaxGrad(1)(new_inc, LogSoftmax(1)(z))]
    return None


def _is_zeros(var) -> bool:
    if is_constant_value(var, 0):
        return True
    fill = producer(var, "second")
    if fill is not None and is_constant_value(fill.inputs[1], 0):
        return True
    return var.owner is not None and isinstance(var.owner.op, Alloc) and is_constant_value(var.owner.inputs[0], 0)


def _is_row_range(r, z) -> bool:
    """``r`` is ``arange(n)`` where ``n`` is the number of rows of ``z`` (read off ``z``,
    its softmax/log-softmax, or the labels, whose lengths the op checks at run time)."""
    node = r.owner
    if node is None or not isinstance(node.op, ARange):
        return False
    start, stop, step = node.inputs
    if not (is_constant_value(start, 0) and is_constant_value(step, 1)):
        return False
    sub = stop.owner
    if sub is None or not isinstance(sub.op, Subtensor) or sub.op.idx_list != (0,):
        return False
    shape = sub.inputs[0].owner
    if shape is None or not isinstance(shape.op, Shape):
        return False
    v = shape.inputs[0]
    if v is z or (v.ndim == 1 and v.dtype.startswith(("int", "uint"))):
        return True
    return v.owner is not None and isinstance(v.owner.op, (Softmax, LogSoftmax)) and v.owner.inputs[0] is z


def _labels_pattern(var):
    """``(z, y)`` if ``var`` is ``log_softmax(z)[arange(n), y]``, else None."""
    node = var.owner
    if node is None or not isinstance(node.op, AdvancedSubtensor) or node.op.idx_list != ("a", "a"):
        return None
    ls, r, y = node.inputs
    if ls.owner is None or not isinstance(ls.owner.op, LogSoftmax) or ls.ndim != 2 or ls.owner.op.axis != 1:
        return None
    z = ls.owner.inputs[0]
    if y.ndim != 1 or not y.dtype.startswith(("int", "uint")) or not _is_row_range(r, z):
        return None
    return z, y


@node_rewriter([AdvancedSubtensor])
def crossentropy_1hot(fgraph, node):
    """``log_softmax(z)[arange(n), y]`` → ``-SoftmaxCrossentropy1Hot(z, y)[0]`` (the sign then
    cancels against the loss's own negation)."""
    pattern = _labels_pattern(node.outputs[0])
    if pattern is None:
        return None
    return [-SoftmaxCrossentropy1Hot()(*pattern)[0]]


@node_rewriter([LogSoftmaxGrad])
def crossentropy_1hot_grad(fgraph, node):
    g, ls = node.inputs
    inc = g.owner
    if (inc is None or not isinstance(inc.op, AdvancedIncSubtensor) or inc.op.set_instead_of_inc
            or inc.op.idx_list != ("a", "a") or ls.owner is None or not isinstance(ls.owner.op, LogSoftmax)):
        return None
    zeros, value, r, y = inc.inputs
    z = ls.owner.inputs[0]
    if not _is_zeros(zeros) or value.ndim != 1 or y.ndim != 1 or not _is_row_range(r, z):
        return None
    _, sm = SoftmaxCrossentropy1Hot()(z, y)
    return [SoftmaxCrossentropy1HotGrad()(-value, sm, y)]


STABILIZE = WalkingPass("stabilize", [log_sigmoid, log_softmax, cancel_division, distribute_to_cancel,
                                      softmax_grad_of_division,
                                      crossentropy_1hot, crossentropy_1hot_grad])
