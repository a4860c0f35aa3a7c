"""The CPU backend: C kernels rendered by ``codegen.c`` and built by the system compiler
(``toolchain``), BLAS through NumPy's OpenBLAS (``blas``), thunks by op type (``thunks``)."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ...codegen import Program, render_nodes, renderer_for
from ...config import config
from ...fgraph import FunctionGraph, memory_sources
from ...graph import Apply
from ..backend import warn_once
from . import blas, bn, conv, pool, toolchain, views, xent  # noqa: F401  (these register their thunks)
from .thunks import REGISTRY, Pointers, library_program


def set_num_threads(n: int) -> bool:
    """Use at most ``n`` threads in this process: in OpenBLAS (NumPy's and mlc's products) and
    in mlc's OpenMP loops. For several processes sharing a machine, as MPI ranks do: each
    keeping every core's worth of busy-waiting threads slows all of them down many times.
    Returns whether OpenBLAS was found and told."""
    found = blas.set_blas_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)  # for OpenMP runtimes loaded later (other libraries')
    gomp = blas._libgomp()
    if gomp is not None:
        gomp.omp_set_num_threads(int(n))
    return found


def renderer():
    """The C renderer with this machine's OpenMP threshold and vector math."""
    return renderer_for("c", threshold=config.openmp_elemwise_minsize, vector_math=toolchain.features()[1])


class FunctionContext:
    """What the thunks of one compiled function share: its library, each node's kernel,
    and which outputs may keep their buffers between calls."""

    def __init__(self, fgraph: FunctionGraph, nodes: list) -> None:
        self.program, kernels = render_nodes(nodes, renderer())
        # the fixed libraries its thunks will load, compiled at the same time as its kernels
        libraries = {p.source: p for p in map(library_program, nodes) if p is not None}
        built = CPU.build_all(([self.program] if kernels else []) + list(libraries.values()))
        built = built[0] if kernels else None
        self.kernels = kernels if built is not None else {}  # node -> (kernel name, LoopKernel)
        self.pointers, self.lib = (Pointers(built[0]), built[1]) if built is not None else (None, None)
        self.deferred = {e.name: unit for unit in self.program.deferred for e in unit.entries}
        # Buffers that may reach the caller: the outputs and what they view or overwrote.
        self.escaping = set().union(*[memory_sources(out) for out in fgraph.outputs])

    def reusable(self, node: Apply) -> bool:
        return node.outputs[0] not in self.escaping

    def deferred_function(self, name: str) -> Any:
        """The entry point ``name`` of a deferred unit of the program, built (or found in the
        cache) now; None when it cannot be built."""
        built = CPU.build(self.deferred[name])
        return None if built is None else getattr(built[1], name)


class CPUBackend:
    device = "cpu"
    target = "c"

    def allocate(self, shape: tuple, dtype: str) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def to_device(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def to_host(self, value: Any) -> np.ndarray:
        return np.asarray(value)

    def owns(self, value: Any) -> bool:
        return isinstance(value, np.ndarray)

    def build(self, program: Program) -> Any:
        try:
            return toolchain.load(program)
        except (toolchain.CompileError, OSError) as err:  # OSError: the cache or the disk failed
            warn_once("compile-error", f"{err}\nfalling back to Python perform")
            return None

    def build_all(self, programs: list[Program]) -> list[Any]:
        """``build`` each of ``programs``; those the cache lacks are compiled at the same time
        (a first function's kernels and the libraries its thunks call share the cores)."""
        missing = [p for p in programs if not toolchain.built(p)] if len(programs) > 1 else []
        done = {}
        if len(missing) > 1:
            from concurrent.futures import ThreadPoolExecutor  # only to build: 5 ms to import
            with ThreadPoolExecutor(len(missing)) as workers:  # each thread waits on its compiler
                done = dict(zip(map(id, missing), workers.map(self.build, missing)))
        return [done[id(p)] if id(p) in done else self.build(p) for p in programs]

    def prepare(self) -> None:
        toolchain.probe_in_background()

    def place(self, fgraph: FunctionGraph) -> FunctionGraph:
        return fgraph  # everything runs on the host

    def thunk_maker(self, fgraph: FunctionGraph, mode: Any, nodes: list | None = None
                    ) -> Callable[[Apply, list, list], Any]:
        """Thunks for ``nodes`` (default: every node of ``fgraph``)."""
        context = FunctionContext(fgraph, fgraph.toposort() if nodes is None else nodes)

        def make_thunk(node: Apply, ins: list, outs: list) -> Any:
            maker = REGISTRY.lookup(node.op)
            return maker(node, ins, outs, context) if maker is not None else None
        return make_thunk


CPU = CPUBackend()
