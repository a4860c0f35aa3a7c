"""Calling C from Python through cffi's backend alone: ``_cffi_backend.FFI`` reads simple C
types (``"void(*)(long, void*)"``) in C, so loading a library costs microseconds. cffi's
``FFI.cdef`` parses declarations with pycparser, whose import and first parse cost ~60 ms,
most of a warm compile in a new process.

>>> lib = dlopen("libm.so.6", {"cos": "double(*)(double)"})      # doctest: +SKIP
>>> lib.cos(0.0)                                                 # doctest: +SKIP
1.0
"""
from __future__ import annotations

from typing import Any

import _cffi_backend

ffi = _cffi_backend.FFI()  # cast, typeof, from_buffer; no declarations needed


class Library:
    """A shared library's functions, each typed by its C function-pointer type; the library
    stays loaded while this object lives."""

    def __init__(self, path: str, functions: dict[str, str]) -> None:
        self._handle = _cffi_backend.load_library(path, _cffi_backend.RTLD_NOW)
        self.load(functions)

    def load(self, functions: dict[str, str]) -> None:
        """Look up more of the library's ``functions`` (name -> ``"ret(*)(args)"``)."""
        for name, signature in functions.items():
            if name not in self.__dict__:
                setattr(self, name, self._handle.load_function(ffi.typeof(signature), name))


class Functions:
    """The functions of several ``Library`` objects as one namespace (keeping them loaded)."""

    def __init__(self, libraries: list[Library]) -> None:
        self._libraries = libraries
        for library in libraries:
            self.__dict__.update((k, v) for k, v in vars(library).items() if not k.startswith("_"))


def dlopen(path: str, functions: dict[str, str]) -> Library:
    """Load ``path`` and its ``functions`` (name -> ``"ret(*)(args)"``); ``OSError`` when the
    library cannot be loaded, ``AttributeError`` when a function is missing."""
    return Library(path, functions)


def address(function: Any) -> int:
    """The address of a loaded function (to hand to C code that calls it)."""
    return int(ffi.cast("uintptr_t", function))
