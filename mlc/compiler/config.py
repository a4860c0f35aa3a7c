"""Configuration: defaults < ``~/.mlcrc`` ``[global]`` < ``MLC_FLAGS`` < assignment.

>>> from mlc.compiler import config
>>> config.floatX
'float64'
>>> with config.change(floatX="float32"):
...     config.floatX
'float32'
"""
from __future__ import annotations

import configparser
import contextlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Param:
    """One configuration key: its default, a doc line, and a converter that validates."""

    default: Any
    doc: str
    convert: Callable[[Any], Any]


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = str(value)
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")
        return text
    convert.choices = choices  # type: ignore[attr-defined]
    return convert


def _device(value: Any) -> str:
    text = str(value)
    for kind in ("cuda", "opencl"):
        if text == kind or (text.startswith(kind) and text[len(kind):].isdigit()):
            return text
    if text == "cpu":
        return text
    raise ValueError(f"expected 'cpu', 'opencl', 'openclN', 'cuda' or 'cudaN', got {value!r}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (true/false/1/0), got {value!r}")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected an integer, got {value!r}") from None


def _str(value: Any) -> str:
    return str(value)


def _path(value: Any) -> str:
    return os.path.expanduser(str(value))


PARAMS: dict[str, Param] = {
    "floatX": Param("float64", "dtype of float constants and of dtype=None constructors",
                    _choice("float64", "float32", "float16")),
    "device": Param("cpu", "where computation runs: cpu, opencl, openclN, cuda or cudaN", _device),
    "force_device": Param(False, "make an unusable device an error instead of a warning and a CPU run", _bool),
    "mode": Param("FAST_RUN", "default compilation mode", _choice("FAST_RUN", "FAST_COMPILE", "DEBUG")),
    "cache_dir": Param(os.path.join("~", ".cache", "mlc"), "compiled-kernel cache", _path),
    "cache_max_mb": Param(512, "size limit of cache_dir in MiB (least recently used entries go first)", _int),
    "cxx": Param("cc", "C compiler; '' disables C code generation", _str),
    "openmp": Param(True, "use OpenMP for large loops", _bool),
    "openmp_elemwise_minsize": Param(500_000, "smallest loop run with OpenMP threads", _int),
    "optimizer_excluding": Param("", "rewrite passes to skip, separated by ':'", _str),
    "on_unused_input": Param("raise", "default on_unused_input of function()", _choice("raise", "warn", "ignore")),
    "profile": Param(False, "profile every function (per-node times), printed at exit", _bool),
    "compute_test_value": Param("off", "accepted for Theano compatibility; mlc does not use test values",
                                _choice("off", "ignore", "warn", "raise")),
}


class FlagGroup:
    """A group of Theano flags mlc accepts without using (``config.warn.round = False``)."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", {})

    def __getattr__(self, key: str) -> Any:
        return object.__getattribute__(self, "_values").get(key, False)

    def __setattr__(self, key: str, value: Any) -> None:
        self._values[key] = value


class ConfigurationError(ValueError):
    """``~/.mlcrc`` or ``MLC_FLAGS`` is invalid (the message names which, and why)."""


class Config:
    """The live configuration. Attribute access reads and assignment validates a key.

    A bad ``~/.mlcrc`` or ``MLC_FLAGS`` does not stop ``import mlc``: the defaults are
    used, ``environment_error`` holds the problem, and compiling a function raises it."""

    def __init__(self, rc_path: str | None = None, flags: str | None = None) -> None:
        object.__setattr__(self, "_values", {k: p.convert(p.default) for k, p in PARAMS.items()})
        object.__setattr__(self, "warn", FlagGroup("warn"))
        rc_path = rc_path if rc_path is not None else os.environ.get("MLCRC", os.path.expanduser("~/.mlcrc"))
        if rc_path and os.path.exists(rc_path):
            self._load_rc(rc_path)
        flags = flags if flags is not None else os.environ.get("MLC_FLAGS", "")
        self._load_flags(flags, "MLC_FLAGS")

    def _load_rc(self, path: str) -> None:
        parser = configparser.ConfigParser()
        parser.optionxform = str  # type: ignore[assignment]  # keys are case-sensitive (floatX)
        if os.path.isdir(path):
            raise ConfigurationError(f"{path}: is a directory; the mlc config file must be an INI file "
                                     "with a [global] section")
        try:
            with open(path, "rb") as f:
                parser.read_string(f.read().decode("utf-8"), source=path)
        except UnicodeDecodeError:
            raise ConfigurationError(f"{path}: not UTF-8 text; the mlc config file must be an INI file "
                                     "with a [global] section") from None
        except (OSError, configparser.Error) as err:
            first = str(err).splitlines()[0]
            raise ConfigurationError(f"{path}: cannot read it as an INI file with a [global] section ({first})"
                                     ) from None
        if parser.has_section("global"):
            for key, value in parser.items("global"):
                self._set(key, value, source=f"{path} [global]")

    def _load_flags(self, flags: str, source: str) -> None:
        for item in filter(None, (s.strip() for s in flags.split(","))):
            if "=" not in item:
                raise ConfigurationError(f"{source}: expected key=value, got {item!r}")
            key, value = item.split("=", 1)
            self._set(key.strip(), value.strip(), source=source)

    def _set(self, key: str, value: Any, source: str = "assignment") -> None:
        if key not in PARAMS:
            error = ConfigurationError if source != "assignment" else KeyError
            raise error(f"unknown config key {key!r} (from {source}); valid keys: {', '.join(sorted(PARAMS))}")
        try:
            self._values[key] = PARAMS[key].convert(value)
        except ValueError as err:
            error = ConfigurationError if source != "assignment" else ValueError
            raise error(f"bad value for config key {key!r} (from {source}): {err}") from None

    environment_error: ConfigurationError | None = None
    # Theano's ``config.warn.*`` flags (old-bug warnings): accepted and kept, with no effect.
    warn = None  # set per instance in __init__


    def __getattr__(self, key: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if key in values:
            return values[key]
        raise AttributeError(f"unknown config key {key!r}; valid keys: {', '.join(sorted(PARAMS))}")

    def __setattr__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __dir__(self) -> list[str]:
        return sorted(PARAMS) + ["change"]

    @contextlib.contextmanager
    def change(self, **changes: Any) -> Iterator["Config"]:
        """Set keys for the duration of a ``with`` block, then restore them."""
        saved = dict(self._values)
        try:
            for key, value in changes.items():
                self._set(key, value)
            yield self
        finally:
            self._values.clear()
            self._values.update(saved)

    def __repr__(self) -> str:
        return "\n".join(f"{k} = {v!r}    # {PARAMS[k].doc}" for k, v in self._values.items())


def _from_environment() -> Config:
    try:
        return Config()
    except ConfigurationError as err:
        fallback = Config(rc_path="", flags="")
        object.__setattr__(fallback, "environment_error", err)
        return fallback


config = _from_environment()
