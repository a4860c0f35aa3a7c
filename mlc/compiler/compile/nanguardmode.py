"""Theano's module path for ``NanGuardMode``: ``from theano.compile.nanguardmode import NanGuardMode``."""
from .modes import NanGuardMode

__all__ = ["NanGuardMode"]
