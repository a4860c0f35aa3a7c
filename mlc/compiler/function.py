"""``function``: compile symbolic inputs/outputs/updates into a Python callable.

>>> import mlc.compiler.tensor as T
>>> x, y = T.scalar('x'), T.scalar('y')
>>> add = function([x, y], x + y)
>>> float(add(2, 3))
5.0
"""
from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import numpy as np

from .config import config
from .fgraph import FunctionGraph, memory_sources
from .graph import Constant, Variable, clone_replace, graph_inputs
from .mode import Mode
from . import sharedvalue
from .runtime.linker import settle
from .sharedvalue import SharedVariable
from .tensor.variable import as_tensor_variable
from .types import TensorType


# Held by every call that updates shared variables, from reading them to writing them.
UPDATES_LOCK = threading.RLock()


class UnusedInputError(ValueError):
    """An input of ``function`` is not used to compute any output or update."""


class MissingInputError(ValueError):
    """The outputs need a variable that is neither an input nor shared nor constant."""


class In:
    """An input with options: ``In(x, value=default, name=...)``."""

    def __init__(self, variable: Variable, name: str | None = None, value: Any = None,
                 borrow: bool = False, mutable: bool = False, strict: bool = False,
                 allow_downcast: bool | None = None) -> None:
        self.variable = variable
        self.name = name or variable.name
        self.value = value
        self.has_default = value is not None
        self.borrow, self.mutable, self.strict, self.allow_downcast = borrow, mutable, strict, allow_downcast


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


class FunctionMaker:
    """What ``function`` built: the rewritten ``fgraph`` and the schedule that runs it."""

    def __init__(self, inputs: list[In], outputs: list[Variable], updates: list, mode: Mode) -> None:
        self.inputs, self.mode = inputs, mode
        input_vars = [i.variable for i in inputs]
        shared = [v for v in graph_inputs(outputs + [u for _, u in updates], stop=input_vars)
                  if isinstance(v, SharedVariable) and v not in input_vars]
        for var, _ in updates:
            if var not in shared:
                shared.append(var)
        self.shared = shared
        self.fgraph = FunctionGraph(input_vars + shared, outputs + [u for _, u in updates])
        self.fgraph.update_targets = {len(outputs) + k: var for k, (var, _) in enumerate(updates)}
        from .rewrite import optimize
        from .runtime.linker import link
        optimize(self.fgraph, mode)
        self.linked = link(self.fgraph, mode, len(input_vars))
        self.fgraph = self.linked.fgraph  # with the device transfers, if any
        first = self.linked.instance()
        self.vm = first.vm  # the first instance's, for inspection (debugprint, tests)
        self.instances = [first]  # idle instances, taken by one call at a time


class Function:
    """A compiled function. Call it with the inputs (positionally or by name)."""

    def __init__(self, inputs: list[In], outputs: list[Variable], output_kind: Any, updates: list,
                 mode: Mode, name: str | None, allow_input_downcast: bool | None,
                 spec: tuple) -> None:
        self.name = name
        self.maker = FunctionMaker(inputs, outputs, updates, mode)
        self.input_specs = inputs
        self.output_kind = output_kind
        self.n_outputs = len(outputs)
        self.updated_shared = [var for var, _ in updates]
        self.allow_input_downcast = allow_input_downcast
        self._spec = spec
        self._positions = {spec_.name: i for i, spec_ in enumerate(inputs) if spec_.name}
        self._converters = [self._converter(i) for i in range(len(inputs))]
        self._may_alias = may_alias(self.maker.fgraph)
        self._any_alias = any(self._may_alias)
        self._pool = self.maker.instances
        self._lock = UPDATES_LOCK if updates else None
        self._residency = self.maker.linked.residency  # where each shared value must be
        self._device_resident = any(backend is not None for _, backend in self._residency)

    def _what(self, i: int) -> str:
        spec = self.input_specs[i]
        fname = f" of function {self.name!r}" if self.name else ""
        label = f"{spec.name!r}" if spec.name else f"{spec.variable.type}"
        return f"input {label} (position {i}){fname}"

    def _converter(self, i: int):
        """A function checking and converting a value for input ``i``; arrays that already fit
        pass straight through."""
        spec = self.input_specs[i]
        ttype = spec.variable.type
        allow = spec.allow_downcast if spec.allow_downcast is not None else self.allow_input_downcast
        what = self._what(i)
        dtype = np.dtype(ttype.dtype) if isinstance(ttype, TensorType) else None
        ndim = ttype.ndim if dtype is not None and not any(ttype.broadcastable) else -1

        def convert(value: Any) -> Any:
            if type(value) is np.ndarray and value.ndim == ndim and ((d := value.dtype) is dtype or d == dtype):
                return value
            return ttype.filter(value, strict=spec.strict, allow_downcast=allow, what=what)
        return convert

    def _arguments(self, args: tuple, kwargs: dict) -> list:
        specs = self.input_specs
        if len(args) > len(specs):
            raise TypeError(f"function{' ' + repr(self.name) if self.name else ''} takes {len(specs)} "
                            f"inputs, got {len(args)}")
        values = list(args) + [_MISSING] * (len(specs) - len(args))
        for key, value in kwargs.items():
            if key not in self._positions:
                raise TypeError(f"unknown input name {key!r}; inputs: {', '.join(self._positions) or '(unnamed)'}")
            values[self._positions[key]] = value
        for i, (spec, value) in enumerate(zip(specs, values)):
            if value is _MISSING:
                if not spec.has_default:
                    raise TypeError(f"missing {self._what(i)}")
                values[i] = spec.value
        return values

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function. Safe from several threads: each call runs on its own copy of
        the schedule and buffers, so calls without updates run concurrently; calls that
        update shared variables hold one process-wide lock from reading those variables to
        writing them, so they are serialized (with each other, not with other calls)."""
        if kwargs or len(args) != len(self._converters):
            args = self._arguments(args, kwargs)
        pool = self._pool
        try:
            instance = pool.pop()
        except IndexError:
            instance = self.maker.linked.instance()
        cells = instance.input_cells
        lock = self._lock
        try:
            for cell, convert, value in zip(cells, self._converters, args):
                cell[0] = convert(value)
            if lock is not None:
                lock.acquire()
            try:
                if self._residency and (self._device_resident or sharedvalue.on_device):
                    settle(self._residency)
                try:
                    instance.run()
                except Exception as err:
                    raise instance.vm.error(err) from err
                results = [c[0] for c in instance.output_cells]
                if self._any_alias:
                    protected = [v.container[0] for v in self.maker.shared] + [
                        a for a in args if isinstance(a, np.ndarray)]
                    results = [_private(r, protected) if alias else r for r, alias in zip(results, self._may_alias)]
                # Every update was computed before any is applied: a failure above changes nothing.
                for var, value in zip(self.updated_shared, results[self.n_outputs:]):
                    var.container[0] = value
            finally:
                if lock is not None:
                    lock.release()
        finally:
            for c in cells:
                c[0] = None
            pool.append(instance)
        kind, n = self.output_kind, self.n_outputs
        if kind is None:
            return results[0]
        if kind == "list":
            return results[:n]
        return dict(zip(kind, results))

    def kernel_source(self, target: str = "c") -> str:
        """The translation unit that ``target`` (``"c"``, ``"opencl"``, ``"cuda"``) would build
        for this function's loop kernels (fused elementwise and reductions)."""
        from .codegen import render_nodes, renderer_for
        from .runtime.cpu import renderer
        chosen = renderer() if target == "c" else renderer_for(target)
        return render_nodes(self.maker.fgraph.toposort(), chosen)[0].source

    def __reduce__(self):
        return (_rebuild, self._spec)

    def __repr__(self) -> str:
        return f"<mlc Function {self.name or ''} ({len(self.input_specs)} inputs, {self.n_outputs} outputs)>"


def may_alias(fgraph: FunctionGraph) -> list[bool]:
    """For each output, whether its value may share memory with an input, a shared variable
    or a constant, so must be copied out. An update computed in place into its own shared
    variable needs no copy."""
    targets = getattr(fgraph, "update_targets", {})
    return [any(v.owner is None and v is not targets.get(k) for v in memory_sources(out))
            for k, out in enumerate(fgraph.outputs)]


_MISSING = object()


def _private(value: Any, protected: list) -> Any:
    """``value``, copied if it shares memory with a shared variable or a caller's array."""
    if isinstance(value, np.ndarray):
        for p in protected:
            if isinstance(p, np.ndarray) and np.may_share_memory(value, p):
                return value.copy()
    return value


def _rebuild(*spec: Any) -> Function:
    inputs, outputs, updates, mode, name, allow_input_downcast = spec
    return function(inputs, outputs, mode=mode, updates=updates, name=name,
                    allow_input_downcast=allow_input_downcast, on_unused_input="ignore")


def function(inputs: Sequence[Any], outputs: Any = None, mode: Any = None, updates: Any = None,
             givens: Any = None, no_default_updates: Any = False, accept_inplace: bool = False,
             name: str | None = None, rebuild_strict: bool = True, allow_input_downcast: bool | None = None,
             profile: Any = None, on_unused_input: str | None = None) -> Function:
    """Compile a callable computing ``outputs`` from ``inputs`` and applying ``updates``.

    ``outputs``: a variable, a list, or a dict (then calls return a dict). ``updates``:
    ``(shared, new_value)`` pairs or a dict; all are computed from the values before the
    call, then applied together. ``givens``: substitutions made before compiling, e.g.
    ``{x: data[i * bs:(i + 1) * bs]}``.
    """
    if config.environment_error is not None:
        raise config.environment_error
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"function: inputs must be a list, got {type(inputs).__name__}")
    on_unused_input = on_unused_input or config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    specs = [i if isinstance(i, In) else In(i) for i in inputs]
    for k, spec in enumerate(specs):
        v = spec.variable
        if not isinstance(v, Variable):
            raise TypeError(f"function: input {k} must be a symbolic variable, got {type(v).__name__}")
        if isinstance(v, SharedVariable):
            raise TypeError(f"function: input {k} ({v}) is a shared variable; shared variables are used "
                            "implicitly and cannot be inputs (use givens to substitute one)")
        if isinstance(v, Constant):
            raise TypeError(f"function: input {k} ({v}) is a constant and cannot be an input")
    if len({id(s.variable) for s in specs}) != len(specs):
        raise ValueError("function: an input variable is listed twice")

    if outputs is None:
        out_list, kind = [], "list"
    elif isinstance(outputs, Mapping):
        kind = list(outputs.keys())
        out_list = list(outputs.values())
    elif isinstance(outputs, (list, tuple)):
        out_list, kind = list(outputs), "list"
    else:
        out_list, kind = [outputs], None
    out_list = [o.variable if isinstance(o, Out) else o for o in out_list]
    out_list = [o if isinstance(o, Variable) else as_tensor_variable(o) for o in out_list]
    update_pairs = _normalize_updates(updates)
    spec = (specs, outputs, update_pairs, mode, name, allow_input_downcast)

    _collect_default_updates(out_list, update_pairs, no_default_updates)
    graph = _apply_givens(out_list + [u for _, u in update_pairs], givens)
    out_list, update_pairs = graph[:len(out_list)], [(v, u) for (v, _), u in
                                                      zip(update_pairs, graph[len(out_list):])]
    _check_inputs(specs, out_list + [u for _, u in update_pairs], on_unused_input)
    return Function(specs, out_list, kind, update_pairs, Mode.get(mode), name, allow_input_downcast, spec)


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
