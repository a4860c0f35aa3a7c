"""Theano's module path for ``DebugMode``."""
from .modes import DebugMode

__all__ = ["DebugMode"]
