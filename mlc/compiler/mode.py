"""Compilation modes: which rewrite passes run and which linker executes the graph.

- ``FAST_RUN``: every rewrite pass, compiled C kernels where available.
- ``FAST_COMPILE``: merge + constant folding only, each node's Python ``perform``.
- ``DEBUG``: every rewrite, and each compiled node checked against ``perform``, with
  NaN/Inf reported by the node that produced them.
"""
from __future__ import annotations

import copy
from typing import Any

from .config import config


class Mode:
    """A linker (``'py'``, ``'c'`` or ``'debug'``) and the rewrite passes to run.

    The linker names two separate choices: ``compiled`` (run nodes with the configured
    device's backend, else each node's Python ``perform``) and ``check`` (compare every
    node with its ``perform`` and report NaN/Inf: the ``DEBUG`` mode, on any backend).

    >>> Mode.get("FAST_RUN").excluding("fusion").excluded
    ('fusion',)
    """

    def __init__(self, linker: str = "c", optimizer: str = "fast_run", excluded: tuple = (),
                 name: str | None = None) -> None:
        if linker not in ("py", "c", "debug"):
            raise ValueError(f"unknown linker {linker!r}; valid: 'py', 'c', 'debug'")
        if optimizer not in ("fast_run", "fast_compile", "none"):
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: 'fast_run', 'fast_compile', 'none'")
        self.linker, self.optimizer, self.excluded = linker, optimizer, tuple(_PASS_ALIASES.get(e, e) for e in excluded)
        self.compiled, self.check = linker != "py", linker == "debug"
        self.name = name or f"Mode({linker}, {optimizer})"

    # Wrapped around every node's run: ``watch(position, node, ins, outs, call, compiled) -> call``
    # (``NanGuardMode``, ``MonitorMode`` add theirs).
    watchers: tuple = ()

    def _with(self, excluded: tuple, name: str) -> "Mode":
        mode = copy.copy(self)  # keeps a subclass's watchers
        mode.excluded, mode.name = tuple(_PASS_ALIASES.get(e, e) for e in excluded), name
        return mode

    def excluding(self, *names: str) -> "Mode":
        """This mode without the named rewrite passes (or rewrites); Theano's names
        (``local_elemwise_fusion``, ``inplace``...) are understood."""
        return self._with(self.excluded + names, self.name + f"-{'-'.join(names)}")

    def including(self, *names: str) -> "Mode":
        """This mode with the named passes put back."""
        names = tuple(_PASS_ALIASES.get(n, n) for n in names)
        return self._with(tuple(e for e in self.excluded if e not in names), self.name)

    def all_excluded(self) -> tuple:
        including = {_PASS_ALIASES.get(n, n) for n in filter(None, config.optimizer_including.split(":"))}
        excluded = self.excluded + tuple(_PASS_ALIASES.get(n, n) for n in filter(None, config.optimizer_excluding.split(":")))
        return tuple(e for e in excluded if e not in including)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mode) and (type(self), self.linker, self.optimizer, self.excluded) == (
            type(other), other.linker, other.optimizer, other.excluded) and self.watchers == other.watchers

    def __hash__(self) -> int:
        return hash((type(self), self.linker, self.optimizer, self.excluded))

    def __repr__(self) -> str:
        return self.name

    @staticmethod
    def get(mode: Any = None) -> "Mode":
        """A ``Mode`` from a name, a Mode, or ``None`` (``config.mode``)."""
        if isinstance(mode, Mode):
            return mode
        name = config.mode if mode is None else mode
        if name not in PREDEFINED:
            raise ValueError(f"unknown mode {name!r}; valid: {', '.join(PREDEFINED)} or a Mode object")
        base = PREDEFINED[name]
        if config.optimizer or config.linker:  # Theano's flags override a named mode's parts
            return Mode(config.linker or base.linker, config.optimizer or base.optimizer, base.excluded,
                        f"{base.name}({config.linker or base.linker}, {config.optimizer or base.optimizer})")
        return base


# Theano's names for mlc's passes, as ported scripts write them in excluding()/including().
_PASS_ALIASES = {"local_elemwise_fusion": "fusion", "elemwise_fusion": "fusion", "fusion": "fusion",
                 "inplace": "inplace", "inplace_opt": "inplace", "constant_folding": "constant_folding",
                 "topo_constant_folding": "constant_folding", "merge": "merge", "canonicalize": "canonicalize",
                 "stabilize": "stabilize", "specialize": "specialize"}

PREDEFINED = {
    "FAST_RUN": Mode("c", "fast_run", name="FAST_RUN"),
    "FAST_COMPILE": Mode("py", "fast_compile", name="FAST_COMPILE"),
    "DEBUG": Mode("debug", "fast_run", name="DEBUG"),
    "DebugMode": Mode("debug", "fast_run", name="DebugMode"),
    "PY": Mode("py", "fast_run", name="PY"),
}
