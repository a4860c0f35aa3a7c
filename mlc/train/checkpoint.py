"""HDF5 checkpoints: model config and weights, optimizer state, random-generator states,
trainer state, history, training config and preprocessing, in one file.

Files are built in memory, then written to a temporary name, flushed to disk and renamed
over the target, so a crash or a full disk leaves either the previous file or the new one,
both readable. Every array carries a SHA-256 checksum; a corrupt one is refused.

Layout (format ``mlc-checkpoint``, version 1): root attributes ``format``,
``format_version``, ``mlc_version``, ``model_config``, ``train_config``,
``optimizer_config``, ``trainer_state``, ``history``, ``preprocess`` (JSON strings);
groups ``weights/``, ``optimizer/`` (datasets ``000``, ``001``, ... with a ``name``
attribute) and ``rng/`` (attributes holding generator states as JSON); a distributed run
adds ``rng_ranks/0001/``, ... with the generator states of ranks 1, 2, ...
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .rundir import atomic_write, critical

FORMAT = "mlc-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file is not a readable mlc checkpoint."""


@dataclass
class Checkpoint:
    """The contents of a checkpoint file."""

    model_config: dict
    weights: list[np.ndarray]
    optimizer_state: list[np.ndarray] = field(default_factory=list)
    optimizer_config: dict | None = None
    rng_states: list[dict] = field(default_factory=list)
    trainer_state: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    train_config: dict = field(default_factory=dict)
    preprocess: dict | None = None
    mlc_version: str = ""
    rank_rng_states: list[list[dict]] = field(default_factory=list)  # ranks 1, 2, ... of a distributed run


def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, trainer_state: dict | None = None,
                    history: Sequence[dict] = (), train_config: dict | None = None,
                    preprocess: dict | None = None, rank_rng_states: Sequence[Sequence[dict]] = ()) -> Path:
    """Write a checkpoint of ``model`` (and ``optimizer``) atomically to ``path``.
    ``rank_rng_states``: the generator states of ranks 1, 2, ... of a distributed run.

    The HDF5 file is built in memory, then written whole (``rundir.atomic_write``): a full
    disk or a crash leaves the previous file readable and no temporary file behind."""
    import h5py

    from .. import __version__
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with critical(), h5py.File(buffer, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = VERSION
        f.attrs["mlc_version"] = __version__
        f.attrs["model_config"] = json.dumps(model.get_config())
        f.attrs["train_config"] = json.dumps(train_config or {})
        f.attrs["trainer_state"] = json.dumps(trainer_state or {})
        f.attrs["history"] = json.dumps(list(history))
        f.attrs["preprocess"] = json.dumps(preprocess)
        f.attrs["optimizer_config"] = json.dumps(optimizer.get_config() if optimizer is not None else None)
        _write_arrays(f.create_group("weights"), model.get_params())
        _write_arrays(f.create_group("optimizer"), optimizer.state_variables() if optimizer is not None else [])
        rng = f.create_group("rng")
        for i, var in enumerate(model.state_variables()):
            rng.attrs[f"{i:03d}"] = json.dumps(generator_state(var.get_value(borrow=True)))
        for rank, states in enumerate(rank_rng_states, start=1):
            group = f.create_group(f"rng_ranks/{rank:04d}")
            for i, state in enumerate(states):
                group.attrs[f"{i:03d}"] = json.dumps(state)
    return atomic_write(path, buffer.getvalue())


def _checksum(value: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()


def _write_arrays(group: Any, variables: Sequence[Any]) -> None:
    for i, var in enumerate(variables):
        value = var.get_value(borrow=True)
        ds = group.create_dataset(f"{i:03d}", data=value)
        ds.attrs["name"] = var.name or ""
        ds.attrs["sha256"] = _checksum(value)


def generator_state(gen: np.random.Generator) -> dict:
    """A NumPy generator's state as plain JSON-able values."""
    state = gen.bit_generator.state
    return json.loads(json.dumps(state, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else int(o)))


def generator_from_state(state: dict) -> np.random.Generator:
    """The NumPy generator a ``generator_state`` describes."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint, or raise ``CheckpointError`` naming the file and what is wrong."""
    import h5py
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give a checkpoint file such as {path / 'best.h5'}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        with open(path, "rb") as handle:
            signature = handle.read(8)
        if signature != b"\x89HDF\r\n\x1a\n":
            raise CheckpointError(f"{path}: not an HDF5 file, so not an mlc checkpoint") from None
        raise CheckpointError(f"{path}: truncated or corrupt HDF5 file ({err})") from None
    try:
        with f:
            if f.attrs.get("format") != FORMAT:
                raise CheckpointError(f"{path}: an HDF5 file but not an mlc checkpoint (no format='{FORMAT}' "
                                      "attribute)")
            version = int(f.attrs.get("format_version", 0))
            if version > VERSION:
                raise CheckpointError(f"{path}: checkpoint format version {version} is newer than this mlc "
                                      f"reads ({VERSION}); upgrade mlc")
            attrs = {k: json.loads(f.attrs[k]) for k in ("model_config", "train_config", "trainer_state",
                                                          "history", "preprocess", "optimizer_config")}
            rng = f["rng"]
            ranks = f.get("rng_ranks", {})
            return Checkpoint(
                model_config=attrs["model_config"], weights=_read_arrays(f["weights"], path),
                optimizer_state=_read_arrays(f["optimizer"], path), optimizer_config=attrs["optimizer_config"],
                rng_states=[json.loads(rng.attrs[k]) for k in sorted(rng.attrs)],
                trainer_state=attrs["trainer_state"], history=attrs["history"], train_config=attrs["train_config"],
                preprocess=attrs["preprocess"], mlc_version=str(f.attrs.get("mlc_version", "")),
                rank_rng_states=[[json.loads(ranks[r].attrs[k]) for k in sorted(ranks[r].attrs)]
                                 for r in sorted(ranks)])
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({err})") from None


def _read_arrays(group: Any, path: Path) -> list[np.ndarray]:
    arrays = []
    for k in sorted(group.keys()):
        ds = group[k]
        value = ds[()]
        expected = ds.attrs.get("sha256")  # files from before checksums have none
        if expected is not None and _checksum(value) != expected:
            name = ds.attrs.get("name", "")
            raise CheckpointError(f"{path}: array {ds.name}{f' ({name})' if name else ''} does not match its "
                                  "checksum: the file is corrupt")
        arrays.append(value)
    return arrays


def restore(checkpoint: Checkpoint, model: Any, optimizer: Any = None, rng: bool = True) -> None:
    """Put the checkpoint's weights, generator states (``rng``) and optimizer state into live objects."""
    model.set_weights(checkpoint.weights)
    states = model.state_variables() if rng else []
    if rng and len(states) != len(checkpoint.rng_states):
        raise CheckpointError(f"checkpoint has {len(checkpoint.rng_states)} random generator states, "
                              f"the model has {len(states)}")
    for var, state in zip(states, checkpoint.rng_states):
        var.set_value(generator_from_state(state), borrow=True)
    if optimizer is not None:
        variables = optimizer.state_variables()
        if len(variables) != len(checkpoint.optimizer_state):
            raise CheckpointError(f"checkpoint has {len(checkpoint.optimizer_state)} optimizer arrays, the "
                                  f"optimizer has {len(variables)} (was it built for the same model?)")
        for var, value in zip(variables, checkpoint.optimizer_state):
            var.set_value(np.asarray(value, dtype=var.dtype))
