"""Executing a compiled graph: the VM and its thunks."""
from .vm import VM, node_error

__all__ = ["VM", "node_error"]
