"""``scan``: Theano's loop, built as one ``Scan`` node.

>>> import mlc.compiler as theano
>>> import mlc.compiler.tensor as T
>>> k, A = T.iscalar("k"), T.vector("A")
>>> result, updates = theano.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
...                               non_sequences=A, n_steps=k)
>>> power = theano.function([A, k], result[-1], updates=updates)
>>> power([1.0, 2.0, 3.0], 3).tolist()
[1.0, 8.0, 27.0]
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Sequence

from ..graph import Constant, Variable, clone_replace, toposort
from ..sharedvalue import SharedVariable
from ..types import RandomStateType, TensorType
from .op import Last, Loop, Scan, Start


class until:  # noqa: N801  (Theano's name)
    """Returned by a step function (last) to stop the loop after the step where ``condition``
    holds: ``return h, until(h > 10)``."""

    def __init__(self, condition: Any) -> None:
        from ..tensor.basic import as_tensor_variable
        self.condition = as_tensor_variable(condition)
        if self.condition.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got a {self.condition.ndim}-d tensor")


class OrderedUpdates(OrderedDict):
    """The updates a scan returns: shared variable → its value after the loop (pass them to
    ``function(..., updates=...)``)."""


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _sequence_spec(k: int, s: Any) -> tuple[Variable, list[int]]:
    from ..tensor.basic import as_tensor_variable
    if isinstance(s, dict):
        if "input" not in s:
            raise ValueError(f"scan: sequences[{k}] is a dict without an 'input' key")
        taps = sorted(s.get("taps", [0]) or [0])
        s = s["input"]
    else:
        taps = [0]
    s = as_tensor_variable(s)
    if s.ndim == 0:
        raise TypeError(f"scan: sequences[{k}] is a scalar; a sequence is iterated over its first axis")
    return s, taps


def _output_spec(k: int, o: Any) -> tuple[Variable | None, list[int]]:
    from ..tensor.basic import as_tensor_variable
    if isinstance(o, dict):
        if o.get("initial") is None:
            return None, []
        taps = sorted(o.get("taps", [-1]) or [-1])
        if any(t >= 0 for t in taps):
            raise ValueError(f"scan: outputs_info[{k}] has taps {taps}; taps of an output must be negative")
        return as_tensor_variable(o["initial"]), taps
    if o is None:
        return None, []
    return as_tensor_variable(o), [-1]


def _split_return(result: Any) -> tuple[list, list, Variable | None]:
    """``(outputs, update pairs, until condition)`` from what a step function returned."""
    condition, updates = None, []
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    if items and isinstance(items[-1], until):
        condition = items.pop().condition
    if items and isinstance(items[-1], dict):
        updates = list(items.pop().items())
    elif len(items) == 2 and isinstance(items[1], (list, tuple)) and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], SharedVariable) for p in items[1]) and items[1]:
        updates = list(items.pop())
    if len(items) == 1 and isinstance(items[0], (list, tuple)):
        items = list(items[0])
    return items, updates, condition


def _step_of(v: Variable) -> Variable:
    """A placeholder for one step of ``v`` (its type without the leading axis)."""
    if v.ndim == 0:
        raise TypeError(f"scan: {v} is a scalar but needs a leading axis (steps) here")
    placeholder = TensorType(v.dtype, v.broadcastable[1:])()
    placeholder.name = v.name
    return placeholder


def _inner(v: Variable) -> Variable:
    """A placeholder of ``v``'s type for the inner graph."""
    placeholder = v.type()
    placeholder.name = v.name
    return placeholder


def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None, non_sequences: Any = None,
         n_steps: Any = None, truncate_gradient: int = -1, go_backwards: bool = False, mode: Any = None,
         name: str | None = None, profile: bool = False, allow_gc: Any = None, strict: bool = False,
         return_list: bool = False) -> tuple[Any, OrderedUpdates]:
    """Apply ``fn`` over ``sequences`` step after step, feeding back ``outputs_info``.

    ``fn`` receives, in order: each sequence's values at the step (one per tap), each
    recurrent output's earlier values (one per tap), the ``non_sequences``; it returns the
    step's outputs, optionally a dict of shared-variable updates and ``until(cond)``.
    Returns ``(outputs, updates)``: each output stacked over the steps, and the updates of
    the shared variables the loop changed (random generators included) to pass to
    ``function``.
    """
    from ..tensor import basic as T
    seq_specs = [_sequence_spec(k, s) for k, s in enumerate(_as_list(sequences))]
    if go_backwards:
        seq_specs = [(s[::-1], taps) for s, taps in seq_specs]
    out_specs = [_output_spec(k, o) for k, o in enumerate(_as_list(outputs_info))]
    nonseqs = [T.as_tensor_variable(v) if not isinstance(v, Variable) else v for v in _as_list(non_sequences)]

    # What fn sees: placeholders for the step's values; the non-sequences themselves (any
    # loop-invariant value fn reads, passed or not, becomes an input of the loop below).
    seq_places = [[_step_of(s) for _ in taps] for s, taps in seq_specs]
    state_places = [[_inner(init) if taps == [-1] else _step_of(init) for _ in taps] if init is not None else []
                    for init, taps in out_specs]
    args = [p for ps in seq_places for p in ps] + [p for ps in state_places for p in ps] + nonseqs
    outputs, update_pairs, condition = _split_return(fn(*args))
    outputs = [T.as_tensor_variable(o) for o in outputs]
    if out_specs and len(outputs) != len(out_specs):
        raise ValueError(f"scan: the step function returned {len(outputs)} outputs but outputs_info has "
                         f"{len(out_specs)} entries (use None for an output that is not fed back)")
    out_specs = out_specs or [(None, [])] * len(outputs)

    recurrent = [k for k, (init, _) in enumerate(out_specs) if init is not None]
    nit = [k for k, (init, _) in enumerate(out_specs) if init is None]
    for k in recurrent:
        outputs[k] = _fit_state(k, outputs[k], state_places[k][0])

    # Shared variables the loop changes: through the returned updates, or their own default
    # update (random generators' states). Each becomes a recurrent state.
    updated = OrderedDict((var, value) for var, value in update_pairs)
    for node in toposort(outputs + list(updated.values()) + ([condition] if condition is not None else [])):
        for v in node.inputs:
            if isinstance(v, SharedVariable) and v.default_update is not None and v not in updated:
                updated[v] = v.default_update  # a random generator's state (or another default update)
    shared_places = {var: _inner(var) for var in updated}
    new_values = [_fit_shared(var, value) for var, value in updated.items()]

    inner_in = [p for ps in seq_places for p in ps] + [p for k in recurrent for p in state_places[k]] + list(
        shared_places.values())
    inner_out = [outputs[k] for k in recurrent] + new_values + [outputs[k] for k in nit] + (
        [condition] if condition is not None else [])
    inner_out = clone_replace(inner_out, shared_places)
    invariant = _loop_invariants(inner_out, inner_in)
    invariant_places = [_inner(v) for v in invariant]
    inner_out = clone_replace(inner_out, dict(zip(invariant, invariant_places)))

    loop = Loop([taps for _, taps in seq_specs],
                [out_specs[k][1] for k in recurrent] + [[-1]] * len(updated), len(nit), len(invariant),
                condition is not None, truncate_gradient, name)
    op = Scan(loop, inner_in + invariant_places, inner_out, mode)
    inits = [_initial(out_specs[k][0], out_specs[k][1]) for k in recurrent] + [
        Start()(var) if isinstance(var.type, RandomStateType) else T.shape_padleft(var) for var in updated]
    steps = T.as_tensor_variable(-1 if n_steps is None else n_steps)
    if steps.ndim != 0 or not steps.dtype.startswith(("int", "uint")):
        raise TypeError(f"scan: n_steps must be an integer scalar, got {steps.type}")
    node = op.make_node(T.cast(steps, "int64"), *[s for s, _ in seq_specs], *inits, *invariant)
    buffers = node.outputs[:loop.n_state]

    results: list = [None] * len(outputs)
    for r, k in enumerate(recurrent):
        results[k] = buffers[r][loop.lags[r]:]
    for j, k in enumerate(nit):
        results[k] = node.outputs[loop.n_state + j]
    for k, result in enumerate(results):
        if name and result.name is None:
            result.name = f"{name}[{k}]"
    new_updates = OrderedUpdates()
    for var, buf in zip(updated, buffers[len(recurrent):]):
        new_updates[var] = Last()(buf) if isinstance(var.type, RandomStateType) else buf[-1]
    if len(results) == 1 and not return_list:
        return results[0], new_updates
    return results, new_updates


def _fit_state(k: int, out: Variable, init: Variable) -> Variable:
    """``out`` with the type of the step value ``init`` it feeds back into."""
    from ..tensor import basic as T
    if out.ndim != init.ndim:
        raise TypeError(f"scan: output {k} of the step function is {out.ndim}-d but its initial value "
                        f"(outputs_info[{k}]) gives {init.ndim}-d steps; they must match")
    if out.dtype != init.dtype:
        raise TypeError(f"scan: output {k} of the step function has dtype {out.dtype} but its initial value "
                        f"(outputs_info[{k}]) has dtype {init.dtype}; cast one of them (e.g. .astype('{init.dtype}'))")
    return T.patternbroadcast(out, init.broadcastable) if out.broadcastable != init.broadcastable else out


def _fit_shared(var: SharedVariable, value: Any) -> Variable:
    from ..function_spec import _fit_update
    from ..tensor.basic import as_tensor_variable
    if isinstance(var.type, RandomStateType):
        return value
    return _fit_update(var, value if isinstance(value, Variable) else as_tensor_variable(value))


def _initial(init: Variable, taps: Sequence[int]) -> Variable:
    """The buffer of values before step 0: ``init`` itself for taps ``[-1]`` (one value), else
    ``init``'s last ``-min(taps)`` entries."""
    from ..tensor import basic as T
    if taps == [-1]:
        return T.shape_padleft(init)
    return init[init.shape[0] + min(taps):] if init.ndim else init


def _loop_invariants(outputs: list[Variable], placeholders: list[Variable]) -> list[Variable]:
    """The values the loop body reads that do not change from step to step: everything that
    does not depend on a placeholder and is not a constant (inputs, shared variables, and
    whole outer subgraphs, which are so computed once, before the loop)."""
    varying = {id(p) for p in placeholders}
    constant = set()  # computed from constants only: stays inside, where rewrites see its value
    order = toposort(outputs)
    for node in order:
        if any(id(i) in varying for i in node.inputs):
            varying.update(id(o) for o in node.outputs)
        elif all(isinstance(i, Constant) or id(i) in constant for i in node.inputs):
            constant.update(id(o) for o in node.outputs)
    found: OrderedDict = OrderedDict()
    outer = lambda v: id(v) not in varying and id(v) not in constant and not isinstance(v, Constant)  # noqa: E731
    for node in order:
        if any(id(o) in varying for o in node.outputs):
            for v in node.inputs:
                if outer(v):
                    found.setdefault(id(v), v)
    for o in outputs:
        if outer(o):
            found.setdefault(id(o), o)
    return list(found.values())
