"""Datasets: arrays with a seeded minibatch iterator, file loaders (npz, HDF5, CSV, IDX,
the Theano tutorial's ``mnist.pkl.gz``), splitting, scaling and a registry by name.

>>> splits = load_dataset("digits")          # ships with mlc
>>> train, test = splits["train"], splits["test"]
>>> for X, y in train.batches(32, seed=0, epoch=0): pass
"""
from __future__ import annotations

import gzip
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .datasets import DATA_DIR


class DataError(ValueError):
    """A data file is missing, unreadable or does not hold what was expected."""


@dataclass
class Dataset:
    """Features ``X`` (n, ...) and integer labels ``y`` (n,) (``y`` may be None)."""

    X: np.ndarray
    y: np.ndarray | None = None
    name: str = "data"

    def __post_init__(self) -> None:
        if self.y is not None and len(self.y) != len(self.X):
            raise DataError(f"{self.name}: {len(self.X)} examples but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.X)

    def batch_indices(self, batch_size: int, seed: int | None = None, epoch: int = 0,
                      drop_last: bool = False) -> list[np.ndarray]:
        """Index arrays of the minibatches of one epoch; shuffled (from ``seed`` and ``epoch``
        alone, so a resumed run sees the same order) unless ``seed`` is None."""
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        n = len(self)
        order = np.arange(n) if seed is None else np.random.default_rng([seed, epoch]).permutation(n)
        stop = n - n % batch_size if drop_last else n
        return [order[i:i + batch_size] for i in range(0, stop, batch_size)]

    def batches(self, batch_size: int, seed: int | None = None, epoch: int = 0,
                drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """``(X_batch, y_batch)`` pairs of one epoch."""
        for idx in self.batch_indices(batch_size, seed, epoch, drop_last):
            yield self.X[idx], (self.y[idx] if self.y is not None else None)

    def subset(self, idx: np.ndarray, name: str) -> "Dataset":
        return Dataset(self.X[idx], self.y[idx] if self.y is not None else None, name)


def check_features(X: np.ndarray, source: str) -> np.ndarray:
    """``X`` if it holds at least one example of finite numbers, else ``DataError`` naming
    ``source`` and, for NaN or Inf, the first bad row and column."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{source}: features must be numbers, got {X.dtype} values such as "
                        f"{X.flat[0]!r}" if X.size else f"{source}: features must be numbers, got {X.dtype}")
    if len(X) == 0:
        raise DataError(f"{source}: no examples")
    # min and max are NaN when any value is, and infinite when one is: two passes, no
    # temporary, where locating the bad value (below) takes a mask of the whole array
    if X.dtype.kind == "f" and X.size and not (np.isfinite(X.min()) and np.isfinite(X.max())):
        flat = X.reshape(len(X), -1)
        bad = np.argwhere(~np.isfinite(flat))
        if len(bad):
            row, column = bad[0]
            raise DataError(f"{source}: row {row}, column {column} is {flat[row, column]}; features must be "
                            f"finite numbers (no NaN or Inf)")
    return X


def check_labels(y: np.ndarray, source: str, n_classes: int | None = None) -> np.ndarray:
    """``y`` as int64 class labels, or ``DataError`` naming ``source`` and the first bad label."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise DataError(f"{source} labels must be integers, got {y.dtype} values"
                        + (f" such as {y.flat[0]!r}" if y.size else ""))
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if bad.size:
            raise DataError(f"{source} labels must be integers, got {y[bad[0]]} (example {bad[0]})")
    if n_classes is not None and y.size:
        bad = np.flatnonzero((y < 0) | (y >= n_classes))
        if bad.size:
            raise DataError(f"{source} labels must be in [0, {n_classes}): found {y[bad[0]]} (example {bad[0]})")
    return y.astype("int64", copy=False)


def check_splits(splits: dict[str, "Dataset"], source: str) -> dict[str, "Dataset"]:
    """Every split of a loaded dataset holds examples of finite numbers and integer labels."""
    for name, data in splits.items():
        where = f"{source} [{name}]"
        check_features(data.X, where)
        if data.y is not None:
            data.y = check_labels(data.y, where)
    return splits


def train_valid_split(data: Dataset, valid_fraction: float, seed: int = 0) -> tuple[Dataset, Dataset | None]:
    """Hold out a random ``valid_fraction`` of ``data`` for validation."""
    if not 0 <= valid_fraction < 1:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    n_valid = int(round(len(data) * valid_fraction))
    if n_valid == 0:
        return data, None
    order = np.random.default_rng(seed).permutation(len(data))
    return data.subset(np.sort(order[n_valid:]), "train"), data.subset(np.sort(order[:n_valid]), "valid")


class Scaler:
    """Feature scaling fitted on training data and saved with the model.

    ``kind``: ``'unit'`` (divide by the training maximum), ``'standard'`` (zero mean, unit
    variance per feature) or ``'none'``.
    """

    KINDS = ("none", "unit", "standard")

    def __init__(self, kind: str = "none", offset: Any = 0.0, scale: Any = 1.0) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown scaling {kind!r}; valid: {', '.join(self.KINDS)}")
        self.kind, self.offset, self.scale = kind, np.asarray(offset, "float64"), np.asarray(scale, "float64")

    @classmethod
    def fit(cls, kind: str, X: np.ndarray) -> "Scaler":
        flat = X.reshape(len(X), -1).astype("float64")
        if kind == "unit":
            return cls(kind, 0.0, max(float(np.abs(flat).max()), 1e-12) if flat.size else 1.0)
        if kind == "standard":
            std = flat.std(axis=0)
            return cls(kind, flat.mean(axis=0), np.where(std > 1e-12, std, 1.0))
        return cls(kind)

    def transform(self, X: np.ndarray, dtype: str) -> np.ndarray:
        flat = X.reshape(len(X), -1)
        return ((flat - self.offset) / self.scale).astype(dtype)

    def state(self) -> dict:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "Scaler":
        return cls(state["kind"], state["offset"], state["scale"])


# ---------------------------------------------------------------------------- loaders

def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """An array from an IDX file (``*-idx3-ubyte``, optionally ``.gz``), as MNIST ships."""
    path = Path(path)
    _must_exist(path)
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">i4", count=ndim, offset=4)
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    data = raw[4 + 4 * ndim:]
    if len(data) != expected:
        raise DataError(f"{path}: truncated IDX file: header says {tuple(dims)} ({expected} bytes), "
                        f"found {len(data)} bytes")
    return np.frombuffer(data, dtype).reshape(tuple(int(d) for d in dims)).astype(dtype.newbyteorder("="))


def _must_exist(path: Path) -> None:
    if not path.exists():
        raise DataError(f"data file not found: {path}")


def _pick(arrays: dict, names: tuple[str, ...]) -> np.ndarray | None:
    for n in names:
        if n in arrays:
            return np.asarray(arrays[n])
    return None


def _splits_from_arrays(arrays: dict, source: Path) -> dict[str, Dataset]:
    splits: dict[str, Dataset] = {}
    for split in ("train", "valid", "test"):
        X = _pick(arrays, (f"x_{split}", f"X_{split}"))
        if X is not None:
            splits[split] = Dataset(X, _pick(arrays, (f"y_{split}", f"Y_{split}")), split)
    if not splits:
        X = _pick(arrays, ("x", "X", "data", "features"))
        if X is None:
            raise DataError(f"{source}: expected arrays named x_train/y_train[/x_test/y_test] or x/y, "
                            f"found {', '.join(sorted(arrays)) or 'none'}")
        splits["train"] = Dataset(X, _pick(arrays, ("y", "Y", "labels", "target")), "train")
    return splits


def load_npz(path: str | os.PathLike) -> dict[str, Dataset]:
    """Splits from an ``.npz`` with ``x_train, y_train, x_test, y_test`` (or ``x, y``)."""
    path = Path(path)
    _must_exist(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read as .npz: {err}") from None
    return _splits_from_arrays(arrays, path)


def load_hdf5(path: str | os.PathLike) -> dict[str, Dataset]:
    """Splits from an HDF5 file with datasets named as for ``load_npz``."""
    import h5py
    path = Path(path)
    _must_exist(path)
    try:
        with h5py.File(path, "r") as f:
            arrays = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    except OSError as err:
        raise DataError(f"{path}: cannot read as HDF5: {err}") from None
    return _splits_from_arrays(arrays, path)


def load_csv(path: str | os.PathLike, label_column: int | None = -1) -> dict[str, Dataset]:
    """One ``train`` split from a CSV of numbers (a header line is skipped); the label is
    column ``label_column`` (None: no labels)."""
    path = Path(path)
    _must_exist(path)
    with open(path) as f:
        first = f.readline()
    skip = 0 if _is_numeric_row(first) else 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file: reported below, by name
            table = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except ValueError as err:
        raise DataError(f"{path}: not a numeric CSV: {err}") from None
    if table.size == 0:
        raise DataError(f"{path}: no rows of data")
    if label_column is None:
        return {"train": Dataset(table, None, "train")}
    y = table[:, label_column]
    X = np.delete(table, label_column % table.shape[1], axis=1)
    if not np.array_equal(y, np.round(y)):
        raise DataError(f"{path}: column {label_column} should hold integer class labels")
    return {"train": Dataset(X, y.astype("int64"), "train")}


def _is_numeric_row(line: str) -> bool:
    try:
        [float(v) for v in line.strip().split(",") if v.strip()]
        return bool(line.strip())
    except ValueError:
        return False


def load_mnist_pkl(path: str | os.PathLike) -> dict[str, Dataset]:
    """The Theano tutorial's ``mnist.pkl.gz``: ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``."""
    path = Path(path)
    _must_exist(path)
    try:
        with _open(path) as f:
            parts = pickle.load(f, encoding="latin1")
        return {name: Dataset(np.asarray(x), np.asarray(y).astype("int64"), name)
                for name, (x, y) in zip(("train", "valid", "test"), parts)}
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError, OSError) as err:
        raise DataError(f"{path}: not a (train, valid, test) pickle like mnist.pkl.gz: {err}") from None


def load_idx_pair(images: Path, labels: Path, name: str) -> Dataset:
    X, y = load_idx(images), load_idx(labels)
    return Dataset(X.reshape(len(X), -1), y.astype("int64"), name)


# ---------------------------------------------------------------------------- registry

IDX_DATASETS = {"fashion-mnist": "fashion-mnist", "mnist": "mnist"}


def search_dirs(name: str) -> list[Path]:
    """Where IDX datasets are looked for: ``$MLC_DATA``, ``~/.mlc/datasets``, ``/usr/share/datasets``."""
    dirs = []
    if os.environ.get("MLC_DATA"):
        dirs += [Path(os.environ["MLC_DATA"]) / name, Path(os.environ["MLC_DATA"])]
    dirs += [Path.home() / ".mlc" / "datasets" / name, Path("/usr/share/datasets") / name]
    return dirs


def _find_idx(name: str) -> dict[str, Dataset]:
    files = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    for d in search_dirs(name):
        found = {}
        for split, pair in files.items():
            paths = []
            for stem in pair:
                for suffix in ("", ".gz"):
                    if (d / (stem + suffix)).exists():
                        paths.append(d / (stem + suffix))
                        break
            if len(paths) == 2:
                found[split] = paths
        if len(found) == 2:
            return {split: load_idx_pair(*found[split], split) for split in found}
    hint = ("install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
            if name == "fashion-mnist" else f"put the four {name} IDX files there")
    raise DataError(f"dataset {name!r} not found; looked for train-images-idx3-ubyte[.gz] and the other IDX "
                    f"files in: {', '.join(str(d) for d in search_dirs(name))}; {hint}, or set MLC_DATA")


def load_dataset(name_or_path: str) -> dict[str, Dataset]:
    """Splits (``train``, ``test`` and maybe ``valid``) of a named dataset (``digits``,
    ``fashion-mnist``, ``mnist``) or of a file (``.npz``, ``.h5``/``.hdf5``, ``.csv``,
    ``.pkl.gz``, IDX), each checked: examples of finite numbers, integer labels."""
    return check_splits(_load_splits(name_or_path), name_or_path)


def _load_splits(name_or_path: str) -> dict[str, Dataset]:
    if name_or_path == "digits":
        return load_npz(DATA_DIR / "digits.npz")
    if name_or_path in IDX_DATASETS:
        return _find_idx(IDX_DATASETS[name_or_path])
    path = Path(name_or_path)
    name = path.name.lower()
    if not path.exists():
        raise DataError(f"dataset {name_or_path!r} is neither a known name (digits, fashion-mnist, mnist) "
                        f"nor an existing file")
    if name.endswith(".npz"):
        return load_npz(path)
    if name.endswith((".h5", ".hdf5")):
        return load_hdf5(path)
    if name.endswith((".csv", ".csv.gz")):
        return load_csv(path)
    if name.endswith((".pkl.gz", ".pkl")):
        return load_mnist_pkl(path)
    if "idx" in name:
        return {"train": Dataset(load_idx(path), None, "train")}
    raise DataError(f"{path}: unknown data format; use .npz, .h5, .csv, .pkl.gz or an IDX file")


def load_features(path: str | os.PathLike) -> np.ndarray:
    """Only the features of a file (npz/HDF5/CSV without labels/IDX), for prediction."""
    path = Path(path)
    _must_exist(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        X = load_csv(path, label_column=None)["train"].X
    elif "idx" in name:
        X = load_idx(path)
        X = X.reshape(len(X), -1)
    else:
        splits = _load_splits(str(path))
        X = (splits.get("test") or splits["train"]).X
    return check_features(X, str(path))
