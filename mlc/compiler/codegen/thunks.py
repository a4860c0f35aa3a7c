"""Thunks for the VM. Until an op has a compiled kernel, its thunk calls ``perform``."""
from __future__ import annotations

from typing import Callable

from ..fgraph import FunctionGraph
from ..mode import Mode


def maker(fgraph: FunctionGraph, mode: Mode) -> Callable | None:
    """A ``make_thunk(node, input_cells, output_cells)`` for the VM, or None for plain ``perform``."""
    return None
