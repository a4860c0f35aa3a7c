"""What ``function`` is asked for, normalized and checked before anything is built:
inputs (``In``), outputs (``Out``), updates of shared variables and of input states,
``givens``, and the inputs the outputs need."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from .graph import Constant, Variable, clone_replace, graph_inputs
from .sharedvalue import SharedVariable
from .tensor.variable import as_tensor_variable
from .types import TensorType


class UnusedInputError(ValueError):
    """An input of ``function`` is not used to compute any output or update."""


class MissingInputError(ValueError):
    """The outputs need a variable that is neither an input nor shared nor constant."""


class In:
    """An input with options: ``In(x, value=default, name=...)``. With ``update``, the input
    is a state the function keeps: a call that does not pass it uses the stored value, and
    stores ``update`` (computed from this call's values) for the next call.

    >>> import mlc.compiler.tensor as T
    >>> x, inc = T.dscalar("x"), T.dscalar("inc")
    >>> count = function([In(x, value=0.0, update=x + inc), inc], x)
    >>> [float(count(inc=2.0)) for _ in range(3)]
    [0.0, 2.0, 4.0]
    """

    def __init__(self, variable: Variable, name: str | None = None, value: Any = None, update: Any = None,
                 borrow: bool = False, mutable: bool = False, strict: bool = False,
                 allow_downcast: bool | None = None, implicit: bool | None = None) -> None:
        self.variable = variable
        self.name = name or variable.name
        self.value = value
        self.update = update
        self.has_default = value is not None
        self.borrow, self.mutable, self.strict, self.allow_downcast = borrow, mutable, strict, allow_downcast
        self.implicit = bool(implicit)


Param = In


class Out:
    """An output with options: ``Out(y, borrow=True)`` may return an internal buffer."""

    def __init__(self, variable: Variable, borrow: bool = False) -> None:
        self.variable, self.borrow = variable, borrow


def _normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    if updates is None:
        return []
    if isinstance(updates, Mapping):
        if not isinstance(updates, (OrderedDict, dict)):
            updates = dict(updates)
        pairs = list(updates.items())
    else:
        pairs = list(updates)
    result, seen = [], set()
    for i, pair in enumerate(pairs):
        try:
            var, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"updates: entry {i} must be a (shared variable, new value) pair, got {pair!r}") from None
        if not isinstance(var, SharedVariable):
            raise TypeError(f"updates: entry {i} updates {var}, which is not a shared variable "
                            "(only shared variables can be updated)")
        if id(var) in seen:
            raise ValueError(f"updates: shared variable {var} is updated twice")
        seen.add(id(var))
        value = value if isinstance(value, Variable) else as_tensor_variable(value)
        result.append((var, _fit_update(var, value)))
    return result


def _fit_update(var: SharedVariable, value: Variable) -> Variable:
    from .tensor import basic as T
    if value.type == var.type:
        return value
    if not isinstance(var.type, TensorType):
        raise TypeError(f"update of {var}: expected {var.type}, got {value.type}")
    if value.ndim != var.ndim:
        raise TypeError(f"update of shared variable {var}: the new value is {value.ndim}-d "
                        f"({value.type}) but the variable is {var.ndim}-d ({var.type})")
    if value.dtype != var.dtype:
        if not np.can_cast(value.dtype, var.dtype, "same_kind") or (
                var.dtype.startswith("float") and np.dtype(value.dtype).itemsize > np.dtype(var.dtype).itemsize):
            raise TypeError(f"update of shared variable {var}: the new value has dtype {value.dtype} but the "
                            f"variable is {var.dtype}; cast the update (e.g. .astype('{var.dtype}'))")
        value = T.cast(value, var.dtype)
    return T.patternbroadcast(value, var.broadcastable)


def _collect_default_updates(outputs: list[Variable], updates: list, no_default_updates: Any) -> None:
    """Add the ``default_update`` of shared variables the graph reads (e.g. random generators)."""
    updated = {id(v) for v, _ in updates}
    frontier = outputs + [u for _, u in updates]
    while True:
        added = []
        for v in graph_inputs(frontier):
            if (isinstance(v, SharedVariable) and v.default_update is not None and id(v) not in updated
                    and not (no_default_updates is True or (no_default_updates and v in no_default_updates))):
                updated.add(id(v))
                added.append((v, _fit_update(v, v.default_update)))
        if not added:
            return
        updates.extend(added)
        frontier = [u for _, u in added]


def _apply_givens(variables: list[Variable], givens: Any) -> list[Variable]:
    if not givens:
        return variables
    pairs = list(givens.items()) if isinstance(givens, Mapping) else list(givens)
    replace = {}
    for var, new in pairs:
        if not isinstance(var, Variable):
            raise TypeError(f"givens: key {var!r} is not a symbolic variable")
        new = new if isinstance(new, Variable) else as_tensor_variable(new)
        if isinstance(var.type, TensorType):
            if new.ndim != var.ndim:
                raise TypeError(f"givens: {var} is {var.ndim}-d ({var.type}) but its replacement {new} is "
                                f"{new.ndim}-d ({new.type})")
            if new.dtype != var.dtype:
                if not np.can_cast(new.dtype, var.dtype, "safe"):
                    raise TypeError(f"givens: {var} has dtype {var.dtype} but its replacement has dtype "
                                    f"{new.dtype}; cast the replacement")
                from .tensor import basic as T
                new = T.cast(new, var.dtype)
        replace[var] = new
    return clone_replace(variables, replace)


def _fit_input_update(k: int, spec: In) -> Variable:
    """``In(x, update=...)``'s update, of ``x``'s type."""
    from .tensor import basic as T
    value = spec.update if isinstance(spec.update, Variable) else as_tensor_variable(spec.update)
    var = spec.variable
    if isinstance(var.type, TensorType) and value.type != var.type:
        if value.ndim != var.ndim or not np.can_cast(value.dtype, var.dtype, "same_kind"):
            raise TypeError(f"function: the update of input {k} ({var}) is {value.type}, expected {var.type}")
        value = T.patternbroadcast(T.cast(value, var.dtype), var.broadcastable)
    return value


def _check_inputs(specs: list[In], outputs: list[Variable], on_unused_input: str) -> None:
    input_vars = [s.variable for s in specs]
    used = {id(v) for v in graph_inputs(outputs, stop=input_vars)}
    for k, spec in enumerate(specs):
        if id(spec.variable) not in used:
            label = f"{spec.name!r}" if spec.name else str(spec.variable.type)
            message = (f"function: input {label} (position {k}) is not used to compute any output or update; "
                       "pass on_unused_input='ignore' (or 'warn') to allow it")
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            if on_unused_input == "warn":
                warnings.warn(message, stacklevel=3)
    for v in graph_inputs(outputs, stop=input_vars):
        if id(v) not in {id(i) for i in input_vars} and not isinstance(v, (Constant, SharedVariable)):
            raise MissingInputError(f"function: the outputs need {v!r} ({v.type}), which is not among the "
                                    "inputs; add it to the inputs list (or replace it with givens)")
