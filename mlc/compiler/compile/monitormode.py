"""Theano's module path for ``MonitorMode``."""
from .modes import MonitorMode

__all__ = ["MonitorMode"]
