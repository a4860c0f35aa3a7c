"""``function``: compile symbolic inputs/outputs/updates into a Python callable.

>>> import mlc.compiler.tensor as T
>>> x, y = T.scalar('x'), T.scalar('y')
>>> add = function([x, y], x + y)
>>> float(add(2, 3))
5.0
"""
from __future__ import annotations

import copy
import threading
import time
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from .config import config
from .choices import check_choice
from .fgraph import FunctionGraph, memory_sources
from .graph import Constant, Variable, graph_inputs
from .mode import Mode
from . import sharedvalue
from .runtime.linker import settle
from .sharedvalue import SharedVariable
from .tensor.variable import as_tensor_variable
from .types import TensorType
from .function_spec import (In, MissingInputError, Out, Param, UnusedInputError, _apply_givens,  # noqa: F401
                            _check_inputs, _collect_default_updates, _fit_input_update, _normalize_updates)

# Held by every call that updates shared variables, from reading them to writing them.
UPDATES_LOCK = threading.RLock()


class FunctionMaker:
    """What ``function`` built: the rewritten ``fgraph`` and the schedule that runs it."""

    def __init__(self, inputs: list[In], outputs: list[Variable], updates: list, mode: Mode,
                 profile: Any = None) -> None:
        started = time.perf_counter()
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
        from .runtime.linker import link, prepare
        prepare(mode)
        optimize(self.fgraph, mode)
        if config.warn_float64 != "ignore":
            _check_float64(self.fgraph)
        rewritten = time.perf_counter()
        self.linked = link(self.fgraph, mode, len(input_vars), profile)
        self.fgraph = self.linked.fgraph  # with the device transfers, if any
        first = self.linked.instance()
        self.vm = first.vm  # the first instance's, for inspection (debugprint, tests)
        self.instances = [first]  # idle instances, taken by one call at a time
        if profile is not None:
            profile.optimizer_time += rewritten - started
            profile.linker_time += time.perf_counter() - rewritten
            profile.compile_time += time.perf_counter() - started


class Function:
    """A compiled function. Call it with the inputs (positionally or by name)."""

    def __init__(self, inputs: list[In], outputs: list[Variable], output_kind: Any, updates: list,
                 mode: Mode, name: str | None, allow_input_downcast: bool | None,
                 spec: tuple, profile: Any = None, state_updates: Sequence[Variable] = ()) -> None:
        self.name = name
        self.profile = profile
        # Inputs kept as state (In(x, update=...)): their next values are extra outputs.
        self._states = [k for k, spec_ in enumerate(inputs) if spec_.update is not None]
        self.maker = FunctionMaker(inputs, outputs + list(state_updates), updates, mode, profile)
        self.input_specs = inputs
        self.defaults = [spec_.value for spec_ in inputs]
        self.output_kind = output_kind
        self.n_outputs = len(outputs)
        self._first_update = self.n_outputs + len(self._states)
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
        # A Python int into an integer scalar (a minibatch index): the checks below would all pass.
        bounds = (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)) if (
            ndim == 0 and dtype.kind in "iu" and not spec.strict) else (1, 0)

        def convert(value: Any) -> Any:
            if type(value) is np.ndarray and value.ndim == ndim and ((d := value.dtype) is dtype or d == dtype):
                return value
            if type(value) is int and bounds[0] <= value <= bounds[1]:
                return np.array(value, dtype)
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
                if self.defaults[i] is None:
                    raise TypeError(f"missing {self._what(i)}")
                values[i] = self.defaults[i]
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
                for var, value in zip(self.updated_shared, results[self._first_update:]):
                    var.container[0] = value
                if self._states:
                    for k, value in zip(self._states, results[self.n_outputs:self._first_update]):
                        self.defaults[k] = value
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

    def _position(self, key: Any) -> int:
        for k, spec in enumerate(self.input_specs):
            if key is spec.variable or key is spec or (isinstance(key, str) and key == spec.name):
                return k
        raise KeyError(f"{key!r} is not an input of this function")

    def __getitem__(self, key: Any) -> Any:
        """The stored value (default or state) of an input, by variable or name: ``f[x]``."""
        return self.defaults[self._position(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        k = self._position(key)
        self.defaults[k] = self._converters[k](value)

    def copy(self, share_memory: bool = False, swap: Mapping | None = None, delete_updates: bool = False,
             name: str | None = None) -> "Function":
        """A new function computing the same thing: with ``swap`` ({shared variable: another of
        the same type}) it reads and updates the other shared variables; ``delete_updates``
        drops the updates; input states start from this function's current values."""
        specs, outputs, update_pairs, mode, old_name, allow = self._spec
        swap = dict(swap or {})
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or not isinstance(new, SharedVariable) or old.type != new.type:
                raise TypeError(f"copy: swap maps shared variables to shared variables of the same type; "
                                f"got {old!r} → {new!r}")
        new_specs = []
        for spec, value in zip(specs, self.defaults):
            clone = copy.copy(spec)
            clone.value = value if share_memory or not isinstance(value, np.ndarray) else value.copy()
            clone.has_default = value is not None
            new_specs.append(clone)
        updates = [] if delete_updates else [(swap.get(var, var), value) for var, value in update_pairs]
        return function(new_specs, outputs, mode=mode, updates=updates, givens=list(swap.items()) or None,
                        name=name or old_name, allow_input_downcast=allow, on_unused_input="ignore",
                        no_default_updates=True, profile=self.profile)

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


def _check_float64(fgraph: FunctionGraph) -> None:
    """``config.warn_float64``: warn about (or refuse) a function that computes in float64."""
    from .graph import format_trace
    for node in fgraph.toposort():
        if any(isinstance(o.type, TensorType) and o.dtype == "float64" for o in node.outputs):
            message = (f"{node.op} computes in float64 (config.warn_float64 = {config.warn_float64!r}); cast its "
                       f"inputs to float32 or set floatX\n  the node was created at: {format_trace(node.tag.trace)}")
            if config.warn_float64 == "warn":
                warnings.warn(message, stacklevel=4)
                return
            raise TypeError(message)


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
    check_choice("on_unused_input", on_unused_input, ("raise", "warn", "ignore"))
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
    states = [_fit_input_update(k, s) for k, s in enumerate(specs) if s.update is not None]
    graph = _apply_givens(out_list + states + [u for _, u in update_pairs], givens)
    n_out, n_state = len(out_list), len(states)
    out_list, states = graph[:n_out], graph[n_out:n_out + n_state]
    update_pairs = [(v, u) for (v, _), u in zip(update_pairs, graph[n_out + n_state:])]
    _check_inputs(specs, out_list + states + [u for _, u in update_pairs], on_unused_input)
    return Function(specs, out_list, kind, update_pairs, Mode.get(mode), name, allow_input_downcast, spec,
                    _profile_stats(profile, name), states)


def _profile_stats(profile: Any, name: str | None) -> Any:
    """The ``ProfileStats`` that ``profile=`` (or ``config.profile``) asks for, or None."""
    from .compile.profiling import ProfileStats
    if isinstance(profile, ProfileStats):
        return profile
    if profile or config.profile:
        return ProfileStats(profile if isinstance(profile, str) else name, atexit_print=config.profile)
    return None
