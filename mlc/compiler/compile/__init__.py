"""Theano's ``theano.compile`` namespace: functions, their inputs and outputs, modes,
profiling, and ops from Python functions."""
from ..function import Function, In, Out, Param, function
from ..mode import Mode
from ..sharedvalue import SharedVariable, shared
from . import ops  # noqa: F401
from .modes import DebugMode, MonitorMode, NanGuardMode
from .ops import as_op
from .profiling import ProfileStats


def get_mode(mode: object) -> Mode:
    """A ``Mode`` from its name (``'FAST_RUN'``, ``'DebugMode'``...) or a Mode itself."""
    return Mode.get(mode)


def get_default_mode() -> Mode:
    """The mode ``function`` uses when none is given (``config.mode``)."""
    return Mode.get(None)


__all__ = ["function", "Function", "In", "Out", "Param", "Mode", "get_mode", "get_default_mode", "DebugMode",
           "NanGuardMode", "MonitorMode", "ProfileStats", "SharedVariable", "shared", "as_op", "ops"]
