"""``Program``: the one contract between a renderer and the runtime that builds and runs it.

A program is a translation unit in one language with named entry points; each entry point
lists its arguments as ``(kind, type)`` pairs, where kind is ``"int"`` (a scalar of that C
type), ``"shape"`` (a pointer to int64 shape or stride data) or ``"buffer"`` (a pointer to
an array of that dtype). The runtime needs nothing else to declare and call them.
"""
from __future__ import annotations

from typing import NamedTuple


class EntryPoint(NamedTuple):
    """A function of the program: its name, its arguments ``(kind, type)`` and, for device
    kernels, how its launch is sized (``"elements"``: one work-item per output element;
    ``"rows"``: one work-group per output element of a reduction)."""

    name: str
    args: tuple
    launch: str = "elements"


class Program(NamedTuple):
    """``language`` (``"c"``, ``"opencl"``, ``"cuda"``), ``source``, and ``entries`` by name;
    ``units``: the same code as smaller programs (one kernel each), which a toolchain may
    build, cache and load separately (empty: ``source`` is the one unit); ``deferred``: more
    such programs, for entry points that most runs never call, built only when one is
    (``source`` and ``entries`` hold them too)."""

    language: str
    source: str
    entries: tuple
    units: tuple = ()
    deferred: tuple = ()

    def entry(self, name: str) -> EntryPoint:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"program has no entry point {name!r}")
