"""Products with the Jacobian and gradient plumbing, as ``theano.gradient`` has them:
``Lop`` (vector times Jacobian), ``Rop`` (Jacobian times vector, by differentiating ``Lop``
again: it is linear in its vector), ``subgraph_grad`` (backpropagation one block at a time),
and ops that touch only the backward pass: ``grad_clip``, ``grad_scale``,
``consider_constant``.
"""
from __future__ import annotations

from typing import Any, Sequence

from .gradient import DisconnectedGrad, grad
from .graph import Apply, Op, Variable, clone_replace


def _T():
    from .tensor import basic
    return basic


def _listed(x: Any) -> tuple[list, bool]:
    return ([x], True) if isinstance(x, Variable) else (list(x), False)


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant: Sequence[Variable] | None = None,
        disconnected_inputs: str = "raise") -> Any:
    """``eval_points · ∂f/∂wrt``: the gradient of ``sum(f * eval_points)`` for each ``wrt``.

    >>> import mlc.compiler.tensor as T
    >>> W, v = T.dmatrix("W"), T.dvector("v")
    >>> y = Lop(T.dot(v, W), W, v)   # v ⊗ v, as Theano's tutorial shows
    """
    fs, _ = _listed(f)
    points, _ = _listed(eval_points)
    wrts, single = _listed(wrt)
    if len(fs) != len(points):
        raise ValueError(f"Lop: {len(fs)} expressions but {len(points)} eval_points; give one per expression")
    T = _T()
    known: dict = {}
    for k, (fk, pk) in enumerate(zip(fs, points)):
        pk = T.as_tensor_variable(pk)
        if pk.ndim != fk.ndim:
            raise ValueError(f"Lop: eval_points[{k}] is {pk.ndim}-d but expression {k} ({fk}) is {fk.ndim}-d")
        known[fk] = known[fk] + pk if fk in known else pk
    result = grad(None, wrts, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                  known_grads=known, add_names=False)
    return result[0] if single else result


def Rop(f: Any, wrt: Any, eval_points: Any, disconnected_outputs: str = "raise") -> Any:
    """``∂f/∂wrt · eval_points`` (a directional derivative, same shape as ``f``): for each
    expression, the sum over ``wrt`` of its Jacobian times the matching eval point.

    >>> import mlc.compiler.tensor as T
    >>> W, V, x = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
    >>> jv = Rop(T.dot(x, W), W, V)   # = dot(x, V)
    """
    T = _T()
    fs, single = _listed(f)
    wrts, _ = _listed(wrt)
    points, _ = _listed(eval_points)
    if len(wrts) != len(points):
        raise ValueError(f"Rop: {len(wrts)} wrt variables but {len(points)} eval_points; give one per variable")
    for k, (w, v) in enumerate(zip(wrts, points)):
        v = T.as_tensor_variable(v)
        if v.ndim != w.ndim:
            raise ValueError(f"Rop: eval_points[{k}] is {v.ndim}-d but wrt[{k}] ({w}) is {w.ndim}-d")
    # Lop(f, wrt, u) = uᵀJ is linear in u, so the gradient of <uᵀJ, v> with respect to u is Jv.
    dummies = [fk.type() for fk in fs]
    lops = Lop(fs, wrts, dummies, disconnected_inputs="ignore" if disconnected_outputs == "ignore" else "raise")
    lops = lops if isinstance(lops, list) else [lops]
    inner = T.add(*[(g * T.as_tensor_variable(v)).sum() for g, v in zip(lops, points)])
    products = grad(inner, dummies, disconnected_inputs="ignore", add_names=False)
    # The result does not depend on u's value, only (at most) on its shape, which is f's.
    products = clone_replace(products, dict(zip(dummies, fs)))
    return products[0] if single else products


def subgraph_grad(wrt: Sequence[Variable], end: Sequence[Variable], start: dict | None = None,
                  cost: Variable | None = None, details: bool = False) -> tuple:
    """Backpropagate through one block of a graph: the gradients of ``cost`` (and/or of the
    ``start`` gradients, known for some variables) for ``wrt`` and for the block's ``end``
    variables, stopping at ``end`` (their gradients are the ``start`` of the next block down).

    Returns ``(wrt_grads, end_grads)``; with ``details``, also the parts that came from
    ``start`` and from ``cost``.
    """
    if cost is None and not start:
        raise ValueError("subgraph_grad: give a cost, start gradients, or both")
    wrt, end = list(wrt), list(end)
    # Gradients must reach ``end`` but not pass it: end becomes a leaf of this block.
    leaves = {e: e.type() for e in end}
    roots = ([cost] if cost is not None else []) + list((start or {}).keys())
    cut = dict(zip(roots, clone_replace(roots, leaves)))
    params = wrt + [leaves[e] for e in end]
    parts = []
    if start:
        parts.append(grad(None, params, known_grads={cut[k]: g for k, g in start.items()},
                          disconnected_inputs="ignore", add_names=False))
    if cost is not None:
        parts.append(grad(cut[cost], params, disconnected_inputs="ignore", add_names=False))
    total = parts[0] if len(parts) == 1 else [a + b for a, b in zip(*parts)]
    back = {leaf: e for e, leaf in leaves.items()}
    total = clone_replace(total, back)
    wrt_grads, end_grads = total[:len(wrt)], total[len(wrt):]
    if details:
        restored = [clone_replace(p, back) for p in parts]
        start_part = restored[0] if start else None
        cost_part = restored[-1] if cost is not None else None
        return wrt_grads, end_grads, start_part, cost_part
    return wrt_grads, end_grads


class GradientOnly(Op):
    """Identity forward; the backward pass transforms the gradient (``grad_clip``, ``grad_scale``)."""

    __props__ = ("kind",)
    view_map = {0: [0]}

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def make_node(self, x: Any, *params: Any) -> Apply:
        T = _T()
        x = T.as_tensor_variable(x)
        return Apply(self, [x, *[T.as_tensor_variable(p) for p in params]], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        T = _T()
        g = output_grads[0]
        if self.kind == "clip":
            return [T.clip(g, inputs[1], inputs[2]), None, None]
        return [g * inputs[1], None]


def grad_clip(x: Any, lower_bound: Any, upper_bound: Any) -> Variable:
    """``x``, whose gradient is clipped to ``[lower_bound, upper_bound]`` on the way back."""
    return GradientOnly("clip")(x, lower_bound, upper_bound)


def grad_scale(x: Any, multiplier: Any) -> Variable:
    """``x``, whose gradient is multiplied by ``multiplier`` on the way back."""
    return GradientOnly("scale")(x, multiplier)


def consider_constant(x: Any) -> Variable:
    """``x`` as a constant for differentiation (no gradient flows into it)."""
    return DisconnectedGrad()(x)


__all__ = ["Lop", "Rop", "subgraph_grad", "grad_clip", "grad_scale", "consider_constant"]
