"""``ifelse``: a lazy condition. Only the branch taken is computed: the nodes that feed
nothing but one branch run inside the ``IfElse`` step, after the condition is known (see
``runtime/lazy.py``), unlike ``T.switch``, which computes both sides elementwise.

>>> import mlc.compiler as theano
>>> import mlc.compiler.tensor as T
>>> a, b, x = T.dscalars("abx")
>>> f = theano.function([a, b, x], ifelse(T.lt(a, b), T.exp(x), T.log(x)))
>>> float(f(1.0, 2.0, 0.0))   # log(0) is never evaluated
1.0
"""
from __future__ import annotations

from typing import Any

from .graph import Apply, Op


def _T():
    from .tensor import basic
    return basic


class IfElse(Op):
    """Inputs ``(condition, *then, *else)``; outputs the ``then`` values if the condition is
    true, else the ``else`` values (the same objects: no copy)."""

    __props__ = ("n_outs", "name")

    def __init__(self, n_outs: int, name: str | None = None) -> None:
        self.n_outs, self.name = n_outs, name
        self.view_map = {k: [1 + k, 1 + n_outs + k] for k in range(n_outs)}

    def __str__(self) -> str:
        return f"IfElse{{{self.name}}}" if self.name else "IfElse"

    def make_node(self, condition: Any, *branches: Any) -> Apply:
        return Apply(self, [condition, *branches], [v.type() for v in branches[:self.n_outs]])

    def perform(self, node, inputs, output_storage):
        chosen = inputs[1:1 + self.n_outs] if inputs[0] else inputs[1 + self.n_outs:]
        for cell, value in zip(output_storage, chosen):
            cell[0] = value

    def infer_shape(self, node, input_shapes):
        raise NotImplementedError("the shape of an ifelse depends on the branch taken")

    def grad(self, inputs, output_grads):
        T = _T()
        condition, n = inputs[0], self.n_outs
        then_grads = [ifelse(condition, g, T.zeros_like(g), return_list=True)[0] for g in output_grads]
        else_grads = [ifelse(condition, T.zeros_like(g), g, return_list=True)[0] for g in output_grads]
        return [None] + then_grads + else_grads if n else [None]


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None,
           return_list: bool = False) -> Any:
    """``then_branch`` if the scalar ``condition`` is true, else ``else_branch``; either may be
    a list (several outputs, matched pairwise). Only the branch taken is computed."""
    T = _T()
    condition = T.as_tensor_variable(condition)
    if condition.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got a {condition.ndim}-d tensor ({condition.type})")
    single = not isinstance(then_branch, (list, tuple))
    thens = [T.as_tensor_variable(v) for v in ([then_branch] if single else then_branch)]
    elses = [T.as_tensor_variable(v) for v in ([else_branch] if not isinstance(else_branch, (list, tuple))
                                                 else else_branch)]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: the then branch has {len(thens)} outputs and the else branch {len(elses)}")
    for k, (a, b) in enumerate(zip(thens, elses)):
        if a.ndim != b.ndim or a.dtype != b.dtype:
            raise TypeError(f"ifelse: output {k}: the then branch gives {a.type} but the else branch {b.type}; "
                            "they must have the same dtype and number of dimensions")
        if a.broadcastable != b.broadcastable:  # only axes both know to be 1 stay broadcastable
            both = tuple(x and y for x, y in zip(a.broadcastable, b.broadcastable))
            thens[k], elses[k] = T.patternbroadcast(a, both), T.patternbroadcast(b, both)
    outs = IfElse(len(thens), name).make_node(condition, *thens, *elses).outputs
    return outs[0] if single and not return_list else list(outs)


__all__ = ["ifelse", "IfElse"]
