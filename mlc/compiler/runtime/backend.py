"""The backend seam: what the runtime needs of a device, and thunk registries keyed by op type.

A ``Backend`` allocates and copies arrays, builds a codegen ``Program`` and makes the
thunks that run a function's nodes on its device. Each backend keeps one
``ThunkRegistry``: op types mapped to thunk makers (PyTensor's ``link/*/dispatch``), so a
new op or a new device adds entries instead of growing an ``isinstance`` chain.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Protocol

from ..graph import Apply

_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Warn with ``message`` the first time ``key`` is seen in this process."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


Thunk = Callable[[], None]
ThunkMaker = Callable[[Apply, list, list, Any], "Thunk | None"]


class ThunkRegistry:
    """Thunk makers by op type; a subclass of a registered type uses its base's maker.

    >>> registry = ThunkRegistry()
    >>> @registry.register(int)
    ... def make(node, ins, outs, context):
    ...     return None
    >>> registry.lookup(True) is make  # bool is an int
    True
    """

    def __init__(self) -> None:
        self._makers: dict[type, ThunkMaker] = {}

    def register(self, *op_types: type) -> Callable[[ThunkMaker], ThunkMaker]:
        def decorate(maker: ThunkMaker) -> ThunkMaker:
            for t in op_types:
                self._makers[t] = maker
            return maker
        return decorate

    def lookup(self, op: Any) -> ThunkMaker | None:
        for cls in type(op).__mro__:
            maker = self._makers.get(cls)
            if maker is not None:
                return maker
        return None


class Backend(Protocol):
    """One kind of device. ``target`` is the codegen language its kernels are written in."""

    device: str
    target: str

    def allocate(self, shape: tuple, dtype: str) -> Any:
        """An uninitialised array on the device."""

    def to_device(self, array: Any) -> Any:
        """A device copy of the host array ``array``."""

    def to_host(self, value: Any) -> Any:
        """A NumPy array holding ``value``."""

    def build(self, program: Any) -> Any:
        """The loaded module of a codegen ``Program`` (None when it cannot be built)."""

    def prepare(self) -> None:
        """Start, in the background, what a first ``build`` will wait for (called as a
        function's compile begins, so that it overlaps the graph's rewriting)."""

    def thunk_maker(self, fgraph: Any, mode: Any) -> Callable[[Apply, list, list], "Thunk | None"]:
        """``make_thunk(node, input_cells, output_cells)`` for the VM (None: ``perform``)."""


_backends: dict[str, Backend] = {}
_unavailable: dict[str, str] = {}  # device -> why it cannot be used (asked once per process)


def get_backend(device: str) -> Backend:
    """The backend running ``device``. Without the device (no package, no driver, no such
    device): one warning naming why, and the CPU's, unless ``config.force_device``."""
    from ..config import config
    from .cpu import CPU
    if device == "cpu":
        return CPU
    if device not in _backends and device not in _unavailable:
        try:
            if device.startswith("opencl"):
                from .opencl import OpenCLBackend
                _backends[device] = OpenCLBackend(device)
            else:
                from .cuda import CUDABackend
                _backends[device] = CUDABackend(device)
        except Exception as err:  # noqa: BLE001  (any failure to open a device means: no device)
            why = str(err).splitlines()[0] if str(err) else repr(err)
            _unavailable[device] = f"config.device={device!r} cannot be used: {why}"
    if device in _unavailable:
        if config.force_device:
            raise RuntimeError(_unavailable[device] + " (config.force_device is set)")
        warn_once(f"device-{device}", _unavailable[device] + "; mlc computes on the CPU")
        return CPU
    return _backends[device]
