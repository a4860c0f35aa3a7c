"""Executing a compiled graph: the backend seam (``backend``), the CPU backend (``cpu/``),
the linker that turns a rewritten graph into a VM (``linker``), and the VM (``vm``)."""
from .vm import VM, node_error

__all__ = ["VM", "node_error"]
