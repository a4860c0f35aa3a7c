"""Graph rewrites, run as named passes in one documented order (see ``pipeline``)."""
from __future__ import annotations

from ..fgraph import FunctionGraph
from ..mode import Mode


def optimize(fgraph: FunctionGraph, mode: Mode) -> None:
    """Rewrite ``fgraph`` in place with the passes of ``mode``."""
    from .pipeline import run_pipeline
    run_pipeline(fgraph, mode)
