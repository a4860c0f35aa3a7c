"""The training configuration: TOML files, ``--set`` overrides, validation against a schema
(an unknown key or a wrong type is an error naming the key and the valid ones) and
writing the resolved configuration back as TOML."""
from __future__ import annotations

import copy
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI
    import tomli as tomllib
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "seed": 1234,
    "floatX": "float64",
    "device": "cpu",
    "data": {"dataset": "digits", "valid_fraction": 0.1, "scale": "unit"},
    "model": {"type": "MLP", "hidden": [100], "activation": "tanh", "dropout": 0.0, "W_init": "glorot_uniform",
              "n_out": 0},
    "train": {"epochs": 30, "batch_size": 20, "loss": "negative_log_likelihood", "metrics": ["accuracy"],
              "l1": 0.0, "l2": 0.0, "patience": 0, "monitor": "val_loss", "checkpoint_every_steps": 0},
    "optimizer": {"name": "SGD", "lr": 0.01},
    "lr_schedule": {"name": "constant"},
}
# Keys that may be given but have no default (passed on only when set).
OPTIONAL: dict[str, dict[str, type]] = {
    "model": {"steps": int, "layers": list, "input_shape": list},
    "optimizer": {"momentum": float, "nesterov": bool, "clipnorm": float, "rho": float, "epsilon": float,
                  "beta1": float, "beta2": float},
    "lr_schedule": {"step_size": int, "gamma": float, "epochs": int, "min_lr": float},
}


# The valid range of numeric keys: (test, what the test requires).
LIMITS: dict[str, tuple] = {
    "seed": (lambda v: v >= 0, ">= 0"),
    "optimizer.lr": (lambda v: v > 0, "> 0"),
    "train.epochs": (lambda v: v >= 1, ">= 1"),
    "train.batch_size": (lambda v: v >= 1, ">= 1"),
    "train.l1": (lambda v: v >= 0, ">= 0"),
    "train.l2": (lambda v: v >= 0, ">= 0"),
    "train.patience": (lambda v: v >= 0, ">= 0"),
    "train.checkpoint_every_steps": (lambda v: v >= 0, ">= 0"),
    "model.hidden": (lambda v: all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in v),
                     "a list of positive integers"),
    "model.dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "model.n_out": (lambda v: v >= 0, ">= 0 (0: from the labels)"),
    "model.steps": (lambda v: v >= 1, ">= 1 (time steps each example's features are read in)"),
    "data.valid_fraction": (lambda v: 0 <= v < 1, "in [0, 1)"),
}


class ConfigError(ValueError):
    """A configuration file or override is invalid."""


def load(path: str | Path) -> dict:
    """Parse a TOML file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"config {path}: is a directory, not a TOML file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config {path}: not UTF-8 text (a TOML config is a text file)") from None
    except OSError as err:
        raise ConfigError(f"config {path}: cannot read it ({err.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None


def apply_override(config: dict, assignment: str) -> None:
    """Apply ``section.key=value`` (the value is read as a TOML value, else as a string)."""
    if "=" not in assignment:
        raise ConfigError(f"--set expects key=value, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    parts = key.strip().split(".")
    target = config
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
    target[parts[-1]] = value


def _check_type(key: str, value: Any, expected: Any) -> Any:
    kind = expected if isinstance(expected, type) else type(expected)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, list):
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"config key {key!r} should be a {kind.__name__}, got {value!r}")
    return value


def resolve(user: dict) -> dict:
    """The user's config over the defaults, validated."""
    resolved = copy.deepcopy(DEFAULTS)
    for key, value in user.items():
        if key not in DEFAULTS:
            raise ConfigError(f"unknown config key {key!r}; valid: {', '.join(DEFAULTS)}")
        if isinstance(DEFAULTS[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {key!r} should be a section [{key}]")
            for sub, v in value.items():
                full = f"{key}.{sub}"
                if sub in DEFAULTS[key]:
                    resolved[key][sub] = _check_type(full, v, DEFAULTS[key][sub])
                elif sub in OPTIONAL.get(key, {}):
                    resolved[key][sub] = _check_type(full, v, OPTIONAL[key][sub])
                else:
                    valid = list(DEFAULTS[key]) + list(OPTIONAL.get(key, {}))
                    raise ConfigError(f"unknown config key {full!r}; valid keys in [{key}]: {', '.join(valid)}")
        else:
            resolved[key] = _check_type(key, value, DEFAULTS[key])
    for full, (ok, requirement) in LIMITS.items():
        section, _, sub = full.rpartition(".")
        value = resolved[section].get(sub) if section else resolved[sub]
        if value is not None and not ok(value):
            raise ConfigError(f"config key {full!r} = {value!r} is out of range: it must be {requirement}")
    return resolved


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} as TOML")


def dumps(config: dict) -> str:
    """``config`` (scalars, lists and one level of sections) as TOML text."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for section, values in config.items():
        if isinstance(values, dict):
            tables = {k: v for k, v in values.items() if isinstance(v, list) and v and all(isinstance(e, dict) for e in v)}
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items() if k not in tables]
            for key, entries in tables.items():  # arrays of tables: [[model.layers]]
                for entry in entries:
                    lines += ["", f"[[{section}.{key}]]"] + [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"
