"""Specialization: cheaper forms of general ops.

``x**2`` → ``sqr``, ``x**0.5`` → ``sqrt``, ``x**1`` → ``x``, ``x**-1`` → ``reciprocal`` (and
0, -0.5, -2, 3, which gradients of these produce);
linear combinations containing a matrix product (``dot(x, W) + b``,
``W - lr * dot(a, b)``, ``W - lr * (dot(a, b) + c * W)``) → one ``Gemm``;
increments of zeros at slices that tile an axis → one ``Join`` (``slices``);
``argmax(softmax(z))`` → ``argmax(z)`` along the softmax's axis (also argmin, log-softmax:
each is increasing along that axis, so the validation error needs no exponentials).
"""
from __future__ import annotations

from ..ops.blas import Dot, Gemm
from ..ops.nnet import LogSoftmax, Softmax
from ..ops.reduce import Argmax
from ..tensor import basic as T
from .engine import WalkingPass, node_rewriter
from .patterns import producer, scalar_constant, single_client
from .slices import SLICES


@node_rewriter(["pow"])
def pow_specialize(fgraph, node):
    x, y = node.inputs
    exponent = scalar_constant(y)
    if exponent is None or x.broadcastable != node.outputs[0].broadcastable:
        return None
    if exponent == 2:
        return [T.sqr(x)]
    if exponent == 0.5:
        return [T.sqrt(x)]
    if exponent == 1:
        return [x]
    if exponent == -1:
        return [T.reciprocal(x)]
    if exponent == 0:
        return [T.ones_like(x)]
    if exponent == -0.5:
        return [T.reciprocal(T.sqrt(x))]
    if exponent == -2:
        return [T.reciprocal(T.sqr(x))]
    if exponent == 3:
        return [x * T.sqr(x)]
    return None


def _is_scalar_like(v) -> bool:
    return all(v.broadcastable)


def _terms(fgraph, var, coef: list, top: bool) -> list[tuple[list, object]]:
    """``var`` as a sum of ``(scalar factors, term)``, looking through single-client add,
    sub, neg and multiplication by scalars."""
    node = var.owner
    if node is not None and (top or single_client(fgraph, var)):
        if producer(var, "add"):
            return [t for inp in node.inputs for t in _terms(fgraph, inp, coef, False)]
        if producer(var, "sub"):
            return _terms(fgraph, node.inputs[0], coef, False) + _terms(fgraph, node.inputs[1], coef + [-1.0], False)
        if producer(var, "neg"):
            return _terms(fgraph, node.inputs[0], coef + [-1.0], False)
        if producer(var, "mul"):
            big = [i for i in node.inputs if not _is_scalar_like(i)]
            if len(big) == 1:
                scalars = [i for i in node.inputs if _is_scalar_like(i)]
                return _terms(fgraph, big[0], coef + scalars, False)
    return [(coef, var)]


def _scale(coef: list, dtype: str):
    """The product of ``coef`` as a 0-d scalar (None when it is 1)."""
    factors = [T.dimshuffle(c, []) if not isinstance(c, float) and c.ndim else c for c in coef]
    if not factors:
        return None
    out = factors[0] if len(factors) == 1 else T.mul(*factors)
    return T.cast(T.as_tensor_variable(out), dtype)


@node_rewriter(["add", "sub"])
def gemm_from_linear_combination(fgraph, node):
    out = node.outputs[0]
    if out.ndim != 2:
        return None
    terms = _terms(fgraph, out, [], True)
    for k, (coef, term) in enumerate(terms):
        d = term.owner
        if (d is None or not isinstance(d.op, Dot) or term.ndim != 2 or not single_client(fgraph, term)
                or d.inputs[0].ndim != 2 or d.inputs[1].ndim != 2):
            continue
        rest = _like_terms([(c, t) for j, (c, t) in enumerate(terms) if j != k], out.dtype)
        if not rest:
            return None
        one = T.constant(1.0, dtype=out.dtype)
        if len(rest) == 1:  # beta * z: weight decay's W - lr * (g + c * W) scales W in the Gemm itself
            beta, z = rest[0]
        else:
            beta, z = one, T.add(*[t if s is None else s * t for s, t in rest])
        if z.ndim != 2:
            return None
        alpha = _scale(coef, out.dtype)
        return [Gemm()(z, one if alpha is None else alpha, d.inputs[0], d.inputs[1], one if beta is None else beta)]
    return None


def _like_terms(terms: list, dtype: str) -> list:
    """``(scale, term)`` pairs with the terms that are one variable collected into one pair:
    ``W + c * W`` gives ``(1 + c, W)`` (scale None: 1)."""
    scales: dict = {}
    for c, t in terms:
        scales.setdefault(t, []).append(_scale(c, dtype))
    collected = []
    for t, found in scales.items():
        if len(found) == 1:
            collected.append((found[0], t))
        else:
            collected.append((T.add(*[T.constant(1.0, dtype=dtype) if s is None else s for s in found]), t))
    return collected


@node_rewriter([Argmax])
def argmax_of_softmax(fgraph, node):
    (p,) = node.inputs
    softmax = p.owner
    if node.op.axis is None or softmax is None or not isinstance(softmax.op, (Softmax, LogSoftmax)):
        return None
    if node.op.axis % p.ndim != softmax.op.axis % p.ndim:
        return None
    return [node.op(softmax.inputs[0])]


_POWERS = WalkingPass("specialize", [pow_specialize, argmax_of_softmax])
_GEMMS = WalkingPass("specialize", [gemm_from_linear_combination], consumers_first=True)


def SPECIALIZE(fgraph, excluded: set[str] = frozenset()) -> int:
    """Powers first, so that the Gemm rewrite sees a gradient's ``W ** 1`` as ``W`` (and
    collects ``W - lr * c * W`` into the Gemm's beta); the gradients of slices (``slices``)."""
    return _POWERS(fgraph, excluded) + SLICES(fgraph, excluded) + _GEMMS(fgraph, excluded)
