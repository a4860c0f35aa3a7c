"""Code generation, pure: graph nodes are lowered to a plain-data loop IR (``lower``,
``loop_ir``), which a C-style renderer (``c``, ``gpu``) turns into a ``Program`` (the
contract with the runtime); ``cache`` stores what toolchains build from programs. Nothing
here imports ``runtime``.
"""
from __future__ import annotations

import hashlib

from .cstyle import CStyleRenderer
from .loop_ir import LoopKernel
from .program import EntryPoint, Program

TARGETS = ("c", "opencl", "cuda")


def renderer_for(target: str, **options) -> CStyleRenderer:
    """The renderer of ``target`` (``"c"``, ``"opencl"`` or ``"cuda"``)."""
    if target == "c":
        from .c import CRenderer
        return CRenderer(**options)
    if target == "opencl":
        from .gpu import OpenCLRenderer
        return OpenCLRenderer()
    if target == "cuda":
        from .gpu import CUDARenderer
        return CUDARenderer()
    raise ValueError(f"unknown code target {target!r}; valid: {', '.join(TARGETS)}")


def kernel_name(kernel: LoopKernel) -> str:
    """A kernel's name, from what it computes: the same kernel has the same name (and source)
    in every function, so a toolchain can cache it once for all of them."""
    return "k" + hashlib.sha256(repr(kernel).encode()).hexdigest()[:16]


def render_nodes(nodes, renderer: CStyleRenderer) -> tuple[Program, dict]:
    """The program computing every node ``renderer`` supports (one kernel per distinct loop
    kernel, named by ``kernel_name``), and ``{node: (kernel name, LoopKernel)}``."""
    from .lower import kernel_for
    unique: dict = {}
    kernels = {}
    for node in nodes:
        kernel = kernel_for(node, renderer)
        if kernel is not None:
            kernels[node] = (unique.setdefault(kernel, kernel_name(kernel)), kernel)
    return renderer.render([(name, k) for k, name in unique.items()]), kernels


def target_of(device: str) -> str:
    """The language the kernels of ``device`` (``cpu``, ``openclN``, ``cudaN``) are written in."""
    for prefix, target in (("opencl", "opencl"), ("cuda", "cuda")):
        if device.startswith(prefix):
            return target
    return "c"


__all__ = ["CStyleRenderer", "EntryPoint", "Program", "TARGETS", "kernel_name", "render_nodes", "renderer_for", "target_of"]
