"""The pass order. Passes are added as they are implemented."""
from __future__ import annotations

from ..fgraph import FunctionGraph
from ..mode import Mode

PASSES: list = []


def run_pipeline(fgraph: FunctionGraph, mode: Mode) -> None:
    excluded = set(mode.all_excluded())
    for name, levels, run in PASSES:
        if mode.optimizer in levels and name not in excluded:
            run(fgraph)
