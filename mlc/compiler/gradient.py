"""Reverse-mode differentiation over the graph: ``grad``, ``jacobian``, ``hessian``,
``disconnected_grad`` and ``verify_grad`` (finite differences along a random projection).

The result of ``grad`` is graph, so it is rewritten and compiled like any other.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from .config import config
from .graph import Apply, Op, Variable, toposort
from .types import FLOAT_DTYPES, TensorType
from .choices import check_choice


class DisconnectedInputError(ValueError):
    """``grad`` was asked for a variable the cost does not depend on."""


class GradientError(AssertionError):
    """``verify_grad`` found the symbolic gradient disagreeing with finite differences."""


def _T():
    from .tensor import basic
    return basic


def _describe(v: Variable, i: int) -> str:
    return f"{v.name!r} (position {i})" if v.name else f"{v} (position {i})"


def grad(cost: Variable | None, wrt: Variable | Sequence[Variable],
         consider_constant: Sequence[Variable] | None = None, disconnected_inputs: str = "raise",
         add_names: bool = True, known_grads: Mapping[Variable, Any] | None = None,
         return_disconnected: str = "zero", null_gradients: str = "raise") -> Any:
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt`` (one variable or a list).

    ``consider_constant``: variables treated as constants (no gradient flows into them).
    ``disconnected_inputs``: 'raise' (default), 'warn' or 'ignore' for a ``wrt`` the cost
    does not depend on (its gradient is then zeros). ``known_grads``: a mapping from
    variables to their (given) gradients, used with or instead of ``cost``.

    >>> import mlc.compiler.tensor as T
    >>> x = T.dscalar('x'); g = grad(x ** 2, x)
    """
    check_choice("disconnected_inputs", disconnected_inputs, ("raise", "warn", "ignore"))
    T = _T()
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    for i, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt {i} must be a symbolic variable, got {type(w).__name__}")
    start: dict[int, list] = {}
    roots: list[Variable] = []
    if cost is not None:
        cost = T.as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar (0-d), got a {cost.ndim}-d tensor {cost}; "
                            "take its sum or mean, or pass known_grads")
        if cost.dtype not in FLOAT_DTYPES:
            raise TypeError(f"grad: the cost must be a float, got dtype {cost.dtype}")
        start[id(cost)] = [T.ones_like(cost)]
        roots.append(cost)
    for var, g in (known_grads or {}).items():
        g = T.as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise ValueError(f"grad: known gradient of {var} has ndim {g.ndim}, expected {var.ndim}")
        start.setdefault(id(var), []).append(_match_type(g, var))
        roots.append(var)
    if not roots:
        raise ValueError("grad: give a cost or known_grads")
    grads = _backprop(roots, start, wrt_list, consider_constant or [])
    result = []
    for i, w in enumerate(wrt_list):
        g = grads.get(id(w))
        if g is None:
            if w.type.dtype not in FLOAT_DTYPES if isinstance(w.type, TensorType) else True:
                g = T.zeros_like(w, dtype=config.floatX)  # discrete inputs: zero, as Theano
            else:
                message = (f"grad: the cost does not depend on wrt {_describe(w, i)}; pass "
                           "disconnected_inputs='ignore' (or 'warn') to get zeros for it")
                if disconnected_inputs == "raise":
                    raise DisconnectedInputError(message)
                if disconnected_inputs == "warn":
                    warnings.warn(message, stacklevel=2)
                g = T.zeros_like(w)
        elif add_names and g.name is None and w.name is not None:
            g.name = f"(d{cost}/d{w.name})" if cost is not None and cost.name else f"d/d{w.name}"
        result.append(g)
    return result[0] if single else result


def _match_type(g: Variable, like: Variable) -> Variable:
    T = _T()
    if like.dtype in FLOAT_DTYPES and g.dtype != like.dtype:
        g = T.cast(g, like.dtype)
    if g.broadcastable != like.broadcastable:
        g = T.patternbroadcast(g, like.broadcastable)
    return g


def _backprop(roots: list[Variable], start: dict[int, list], wrt: list[Variable],
              consider_constant: Sequence[Variable]) -> dict[int, Variable]:
    """Accumulate gradients from ``roots`` back to every variable that depends on ``wrt``."""
    T = _T()
    order = toposort(roots, stop=consider_constant)
    stop_ids = {id(v) for v in consider_constant}
    depends = {id(w) for w in wrt}
    for node in order:
        if any(id(i) in depends for i in node.inputs):
            depends.update(id(o) for o in node.outputs)
    pending = dict(start)
    done: dict[int, Variable] = {}

    def total(v: Variable) -> Variable | None:
        if id(v) not in done:
            parts = pending.pop(id(v), None)
            if parts is None:
                return None
            done[id(v)] = parts[0] if len(parts) == 1 else T.add(*parts)
        return done[id(v)]

    for node in reversed(order):
        if not any(id(o) in depends for o in node.outputs):
            continue
        out_grads = [total(o) for o in node.outputs]
        if all(g is None for g in out_grads):
            continue
        out_grads = [g if g is not None or not _is_float(o) else T.zeros_like(o)
                     for o, g in zip(node.outputs, out_grads)]
        in_grads = node.op.L_op(node.inputs, node.outputs, out_grads)
        if len(in_grads) != len(node.inputs):
            raise ValueError(f"{node.op}.grad returned {len(in_grads)} gradients for {len(node.inputs)} inputs")
        for inp, g in zip(node.inputs, in_grads):
            if g is None or id(inp) not in depends or id(inp) in stop_ids:
                continue
            g = T.as_tensor_variable(g)
            if g.ndim != inp.ndim:
                raise ValueError(f"{node.op}.grad gave a {g.ndim}-d gradient for a {inp.ndim}-d input")
            pending.setdefault(id(inp), []).append(_match_type(g, inp))
    for w in wrt:
        total(w)
    return done


def _is_float(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and v.type.dtype in FLOAT_DTYPES


class DisconnectedGrad(Op):
    """Identity in the forward pass; no gradient flows through it."""

    view_map = {0: [0]}

    def make_node(self, x: Any) -> Apply:
        x = _T().as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def infer_shape(self, node, input_shapes):
        return input_shapes

    def grad(self, inputs, output_grads):
        return [None]


def disconnected_grad(x: Any) -> Variable:
    """``x`` as a constant for differentiation: ``grad`` does not flow into it."""
    return DisconnectedGrad()(x)


zero_grad = disconnected_grad
stop_gradient = disconnected_grad


def jacobian(expression: Variable, wrt: Variable | Sequence[Variable],
             consider_constant: Sequence[Variable] | None = None,
             disconnected_inputs: str = "raise") -> Any:
    """d ``expression[i]`` / d ``wrt``, stacked over ``i``: shape ``expression.shape + wrt.shape``.

    ``expression`` is a vector (a scalar gives ``grad``); its length may be symbolic.
    """
    from .ops.loop import map_over_index
    T = _T()
    expression = T.as_tensor_variable(expression)
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        result = grad(expression, wrt_list, consider_constant, disconnected_inputs)
        return result[0] if single else result
    if expression.ndim != 1:
        raise TypeError(f"jacobian: the expression must be a vector, got a {expression.ndim}-d tensor; flatten it")
    i = T.lscalar("i")
    rows = grad(expression[i], wrt_list, consider_constant, disconnected_inputs)
    result = map_over_index(i, T.shape(expression)[0], rows)
    return result[0] if single else result


def hessian(cost: Variable, wrt: Variable | Sequence[Variable],
            consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """The matrix of second derivatives of the scalar ``cost`` for each vector ``wrt``."""
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    result = []
    for w in wrt_list:
        if w.ndim != 1:
            raise TypeError(f"hessian: wrt must be vectors, got a {w.ndim}-d {w}")
        g = grad(cost, w, consider_constant, disconnected_inputs)
        result.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return result[0] if single else result


def numeric_grad(f, pt: list[np.ndarray], eps: float) -> list[np.ndarray]:
    """Central finite differences of the scalar function ``f`` at ``pt``."""
    grads = []
    for k, x in enumerate(pt):
        g = np.zeros(x.shape, dtype="float64")
        for idx in np.ndindex(*x.shape):
            orig = x[idx]
            x[idx] = orig + eps
            up = float(f(*pt))
            x[idx] = orig - eps
            down = float(f(*pt))
            x[idx] = orig
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def verify_grad(fun, pt: Sequence[Any], n_tests: int = 2, rng: Any = None, eps: float | None = None,
                out_type: Any = None, abs_tol: float | None = None, rel_tol: float | None = None,
                mode: Any = None, cast_to_output_type: bool = False) -> None:
    """Check ``grad`` of ``fun`` (a function of symbolic inputs) at the point ``pt`` against
    central finite differences of ``sum(fun(*pt) * r)`` for random projections ``r``.

    Raises ``GradientError`` naming the input, the worst element and both values.

    >>> import mlc.compiler.tensor as T
    >>> verify_grad(T.tanh, [np.array([0.3, -1.2])])
    """
    from .function import function
    T = _T()
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        rng.randint(2 ** 31) if hasattr(rng, "randint") else rng)
    pt = [np.array(p) if not isinstance(p, np.ndarray) else p.copy() for p in pt]
    for k, p in enumerate(pt):
        if p.dtype.name not in FLOAT_DTYPES:
            raise TypeError(f"verify_grad: point {k} must be a float array, got dtype {p.dtype}")
    low_precision = any(p.dtype.name != "float64" for p in pt)
    eps = eps or (1e-2 if low_precision else 1e-6)
    abs_tol = abs_tol if abs_tol is not None else (3e-2 if low_precision else 1e-5)
    rel_tol = rel_tol if rel_tol is not None else (3e-2 if low_precision else 1e-5)
    inputs = [T.tensor(p.dtype, (False,) * p.ndim, name=f"input{k}") for k, p in enumerate(pt)]
    out = T.as_tensor_variable(fun(*inputs))
    f_out = function(inputs, out, mode=mode)
    for test in range(n_tests):
        projection = rng.random(f_out(*pt).shape)
        r = T.constant(projection.astype(out.dtype if out.dtype in FLOAT_DTYPES else "float64"))
        cost = T.sum(out * r)
        f_cost = function(inputs, cost, mode=mode)
        f_grad = function(inputs, grad(cost, inputs, disconnected_inputs="ignore"), mode=mode)
        symbolic = f_grad(*pt)
        numeric = numeric_grad(lambda *a: f_cost(*[x.astype(p.dtype) for x, p in zip(a, pt)]),
                               [p.astype("float64") for p in pt], eps)
        for k, (s, n) in enumerate(zip(symbolic, numeric)):
            err = np.abs(s - n)
            bound = abs_tol + rel_tol * np.abs(n)
            if np.any(~(err <= bound)):
                worst = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err - bound)), err.shape) \
                    if err.ndim else ()
                raise GradientError(
                    f"verify_grad: gradient of input {k} (shape {pt[k].shape}) disagrees with finite "
                    f"differences at element {worst}: symbolic {np.asarray(s)[worst]!r}, numeric "
                    f"{np.asarray(n)[worst]!r} (abs_tol={abs_tol}, rel_tol={rel_tol}, test {test})")


from .directional import Lop, Rop, consider_constant, grad_clip, grad_scale, subgraph_grad  # noqa: E402,F401
