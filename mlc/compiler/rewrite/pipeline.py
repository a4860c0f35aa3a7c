"""The pass order (DESIGN.md §3.4). Each entry: name, the optimizer levels running it, the pass.

merge → constant_folding → merge → scan_merge → canonicalize → stabilize → canonicalize → shapes → specialize →
canonicalize → merge → fusion → inplace → dead_code

``FAST_COMPILE`` runs merge and constant folding; ``FAST_RUN`` and ``DEBUG`` run all. A pass
or a single rewriter is skipped by name with ``Mode.excluding(name)`` or
``config.optimizer_excluding='name1:name2'``.
"""
from __future__ import annotations

from ..fgraph import FunctionGraph
from ..mode import Mode
from .basic import constant_folding, dead_code, merge
from .canonicalize import CANONICALIZE, SHAPES
from .engine import GraphPass
from .fusion import fusion
from .inplace import inplace
from .scan import scan_merge
from .specialize import SPECIALIZE
from .stabilize import STABILIZE

BOTH = ("fast_run", "fast_compile")
FULL = ("fast_run",)

PASSES: list[tuple[str, tuple, object]] = [
    ("merge", BOTH, GraphPass("merge", merge)),
    ("constant_folding", BOTH, GraphPass("constant_folding", constant_folding)),
    ("merge", BOTH, GraphPass("merge", merge)),
    ("scan_merge", BOTH, GraphPass("scan_merge", scan_merge)),
    ("canonicalize", FULL, CANONICALIZE),
    ("merge", FULL, GraphPass("merge", merge)),
    ("stabilize", FULL, STABILIZE),
    ("canonicalize", FULL, CANONICALIZE),
    ("shapes", FULL, SHAPES),
    ("specialize", FULL, SPECIALIZE),
    ("canonicalize", FULL, CANONICALIZE),
    ("merge", FULL, GraphPass("merge", merge)),
    ("fusion", FULL, GraphPass("fusion", fusion)),
    ("inplace", FULL, GraphPass("inplace", inplace)),
    ("dead_code", BOTH, GraphPass("dead_code", dead_code)),
]

PASS_NAMES = sorted({name for name, _, _ in PASSES})


def run_pipeline(fgraph: FunctionGraph, mode: Mode) -> dict[str, int]:
    """Run the passes of ``mode`` in order; returns how many changes each pass made."""
    excluded = set(mode.all_excluded())
    counts: dict[str, int] = {}
    for name, levels, run in PASSES:
        if mode.optimizer in levels and name not in excluded:
            counts[name] = counts.get(name, 0) + run(fgraph, excluded)
    return counts
