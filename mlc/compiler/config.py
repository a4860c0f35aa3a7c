"""Configuration: defaults < Theano's ``.theanorc`` files (``THEANORC``) < ``~/.mlcrc``
``[global]`` < ``THEANO_FLAGS`` < ``MLC_FLAGS`` < assignment.

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
    if text == "gpu" or (text.startswith("gpu") and text[3:].isdigit()):  # Theano's old CUDA names
        text = "cuda" + text[3:]
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


def _optimizer(value: Any) -> str:
    text = "none" if value is None else str(value)
    names = {"": "", "fast_run": "fast_run", "o4": "fast_run", "o3": "fast_run", "default": "fast_run",
             "fast_compile": "fast_compile", "merge": "fast_compile", "none": "none", "None": "none"}
    if text not in names:
        raise ValueError(f"expected fast_run, fast_compile or None, got {value!r}")
    return names[text]


def _linker(value: Any) -> str:
    names = {"": "", "c": "c", "cvm": "c", "vm": "c", "c|py": "c", "cvm_nogc": "c", "vm_nogc": "c", "c|py_nogc": "c",
             "py": "py"}
    if str(value) not in names:
        raise ValueError(f"expected c, py (or Theano's cvm, vm, c|py), got {value!r}")
    return names[str(value)]


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
    # Theano's names, honoured where mlc has the meaning:
    "optimizer": Param("", "rewrites, overriding the mode's: fast_run, fast_compile, None (no rewrites); '' = the mode's",
                       _optimizer),
    "optimizer_including": Param("", "rewrite passes to run even if the mode excludes them, separated by ':'", _str),
    "linker": Param("", "how nodes run, overriding the mode's: c (compiled), py (perform); Theano's cvm, vm, c|py "
                        "mean c; '' = the mode's", _linker),
    "warn_float64": Param("ignore", "what to do when a function computes in float64: ignore, warn, raise",
                          _choice("ignore", "warn", "raise", "pdb")),
    "compiledir": Param("", "Theano's name for cache_dir (setting it sets cache_dir)", _path),
    "compute_test_value": Param("off", "accepted for Theano compatibility; mlc does not use test values",
                                _choice("off", "ignore", "warn", "raise")),
}


# Theano flags a ported script sets that mlc has no use for: accepted, with one note each.
ACCEPTED_ONLY = ("allow_gc", "exception_verbosity", "print_test_value", "cast_policy", "profile_memory",
                 "profile_optimizer", "traceback.limit", "cmodule.warn_no_version", "lib.amdlibm", "gcc.cxxflags",
                 "nvcc.fastmath", "dnn.enabled", "reoptimize_unpickled_function", "unpickle_function",
                 "deterministic", "int_division", "numpy.seterr_all", "on_opt_error", "assert_no_cpu_op")


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
        object.__setattr__(self, "_accepted", {})  # Theano flags kept for reading back only
        if flags is None:  # Theano's .theanorc files (THEANORC: a ':'-separated list, later ones win)
            for path in os.environ.get("THEANORC", os.path.expanduser("~/.theanorc")).split(os.pathsep):
                if path and os.path.isfile(os.path.expanduser(path)):
                    self._load_rc(os.path.expanduser(path), theano=True)
        rc_path = rc_path if rc_path is not None else os.environ.get("MLCRC", os.path.expanduser("~/.mlcrc"))
        if rc_path and os.path.exists(rc_path):
            self._load_rc(rc_path)
        if flags is None:  # Theano's launch scripts keep working; MLC_FLAGS, read after, wins
            self._load_flags(os.environ.get("THEANO_FLAGS", ""), "THEANO_FLAGS")
        self._load_flags(os.environ.get("MLC_FLAGS", "") if flags is None else flags, "MLC_FLAGS")

    def _load_rc(self, path: str, theano: bool = False) -> None:
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
        if theano:  # [global] keys by name, [section] keys as section.key (nvcc.fastmath)
            for section in parser.sections():
                for key, value in parser.items(section):
                    self._set(key if section == "global" else f"{section}.{key}", value, source="THEANORC")
        elif parser.has_section("global"):
            for key, value in parser.items("global"):
                self._set(key, value, source=f"{path} [global]")

    def _load_flags(self, flags: str, source: str) -> None:
        for item in filter(None, (s.strip() for s in flags.split(","))):
            if "=" not in item:
                raise ConfigurationError(f"{source}: expected key=value, got {item!r}")
            key, value = item.split("=", 1)
            self._set(key.strip(), value.strip(), source=source)

    def _set(self, key: str, value: Any, source: str = "assignment") -> None:
        if source in ("THEANO_FLAGS", "THEANORC") and key not in PARAMS and not key.startswith("warn.") \
                and key != "compiledir":
            _note_once(key, source)  # a Theano flag mlc does not know: its launch script must still work
            self._accepted[key] = value
            return
        if key == "mode" and value == "DebugMode":
            value = "DEBUG"
        if key.startswith("warn.") and key.count(".") == 1:
            setattr(self.warn, key[5:], value)
            return
        if key in ACCEPTED_ONLY:
            _note_once(key, source)
            self._accepted[key] = value
            return
        if key == "compiledir":
            self._set("cache_dir", value, source)
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
        accepted = object.__getattribute__(self, "_accepted")
        if key in accepted or key in ACCEPTED_ONLY:
            return accepted.get(key)
        raise AttributeError(f"unknown config key {key!r}; valid keys: {', '.join(sorted(PARAMS))}")

    def __setattr__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __dir__(self) -> list[str]:
        return sorted(PARAMS) + ["change", "change_flags", "warn"]

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

    change_flags = change  # Theano's name

    def __repr__(self) -> str:
        return "\n".join(f"{k} = {v!r}    # {PARAMS[k].doc}" for k, v in self._values.items())


_noted: set = set()


def _note_once(key: str, source: str) -> None:
    if key not in _noted:
        _noted.add(key)
        import warnings
        warnings.warn(f"config {key} (from {source}) is a Theano flag that mlc accepts and does not use", stacklevel=4)


def _from_environment() -> Config:
    try:
        return Config()
    except ConfigurationError as err:
        fallback = Config(rc_path="", flags="")
        object.__setattr__(fallback, "environment_error", err)
        return fallback


config = _from_environment()
