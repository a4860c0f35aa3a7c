import gzip
import pickle

import h5py
import numpy as np
import pytest

from mlc.train import data
from mlc.train.data import DataError, Dataset, Scaler, check_features, load_dataset, load_idx, train_valid_split


def _write_idx(path, array, gz=False):
    codes = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + np.array(array.shape, ">i4").tobytes()
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(payload)


def test_shipped_digits():
    splits = load_dataset("digits")
    assert splits["train"].X.shape == (1437, 64) and splits["test"].X.shape == (360, 64)
    assert set(np.unique(splits["train"].y)) == set(range(10))


def test_idx_roundtrip_gz_and_errors(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a-idx3-ubyte", arr)
    _write_idx(tmp_path / "b-idx3-ubyte.gz", arr, gz=True)
    np.testing.assert_array_equal(load_idx(tmp_path / "a-idx3-ubyte"), arr)
    np.testing.assert_array_equal(load_idx(tmp_path / "b-idx3-ubyte.gz"), arr)
    f = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    _write_idx(tmp_path / "f-idx2-float", f)
    np.testing.assert_array_equal(load_idx(tmp_path / "f-idx2-float"), f)
    raw = (tmp_path / "a-idx3-ubyte").read_bytes()
    (tmp_path / "t-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(DataError, match="t-idx3-ubyte: truncated"):
        load_idx(tmp_path / "t-idx3-ubyte")
    (tmp_path / "x-idx3-ubyte").write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        load_idx(tmp_path / "x-idx3-ubyte")
    with pytest.raises(DataError, match="not found"):
        load_idx(tmp_path / "missing-idx1-ubyte")


def test_registry_reads_idx_from_mlc_data(tmp_path, monkeypatch):
    d = tmp_path / "mnist"
    d.mkdir()
    X = np.random.default_rng(0).integers(0, 255, (5, 4, 4)).astype(np.uint8)
    y = np.array([0, 1, 2, 3, 4], dtype=np.uint8)
    for prefix in ("train", "t10k"):
        _write_idx(d / f"{prefix}-images-idx3-ubyte.gz", X, gz=True)
        _write_idx(d / f"{prefix}-labels-idx1-ubyte", y)
    monkeypatch.setenv("MLC_DATA", str(tmp_path))
    splits = load_dataset("mnist")
    assert splits["train"].X.shape == (5, 16) and splits["test"].y.tolist() == [0, 1, 2, 3, 4]


def test_missing_idx_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "search_dirs", lambda name: [tmp_path / name])
    with pytest.raises(DataError, match=r"not found; looked for .* in: .*fashion-mnist.*dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


def test_npz_hdf5_csv_pkl(tmp_path):
    X, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 1, 0])
    np.savez(tmp_path / "d.npz", x_train=X, y_train=y, x_test=X[:2], y_test=y[:2])
    s = load_dataset(str(tmp_path / "d.npz"))
    np.testing.assert_array_equal(s["test"].X, X[:2])
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["X"], f["y"] = X, y
    np.testing.assert_array_equal(load_dataset(str(tmp_path / "d.h5"))["train"].y, y)
    (tmp_path / "d.csv").write_text("a,b,c,label\n" + "\n".join(",".join(map(str, list(r) + [l]))
                                                             for r, l in zip(X, y)))
    s = load_dataset(str(tmp_path / "d.csv"))
    np.testing.assert_array_equal(s["train"].X, X)
    np.testing.assert_array_equal(s["train"].y, y)
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump(((X, y), (X[:1], y[:1]), (X[:2], y[:2])), f)
    s = load_dataset(str(tmp_path / "mnist.pkl.gz"))
    assert len(s["train"]) == 4 and len(s["valid"]) == 1 and len(s["test"]) == 2
    np.savez(tmp_path / "bad.npz", foo=X)
    with pytest.raises(DataError, match="bad.npz: expected arrays named"):
        load_dataset(str(tmp_path / "bad.npz"))
    with pytest.raises(DataError, match="neither a known name"):
        load_dataset(str(tmp_path / "nothing.npz"))


def test_batches_seeded_and_complete():
    d = Dataset(np.arange(10.0)[:, None], np.arange(10))
    a = [b.tolist() for b in d.batch_indices(3, seed=1, epoch=0)]
    assert a == [b.tolist() for b in d.batch_indices(3, seed=1, epoch=0)]
    assert a != [b.tolist() for b in d.batch_indices(3, seed=1, epoch=1)]
    assert sorted(sum(a, [])) == list(range(10)) and len(a[-1]) == 1
    assert len(d.batch_indices(3, seed=1, drop_last=True)) == 3
    assert [b.tolist() for b in d.batch_indices(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_split_and_scaler():
    d = Dataset(np.arange(20.0).reshape(10, 2), np.arange(10))
    train, valid = train_valid_split(d, 0.2, seed=0)
    assert len(train) == 8 and len(valid) == 2
    assert sorted(train.y.tolist() + valid.y.tolist()) == list(range(10))
    s = Scaler.fit("standard", train.X)
    Z = s.transform(train.X, "float64")
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(0), 1)
    u = Scaler.from_state(Scaler.fit("unit", train.X).state())
    assert u.transform(train.X, "float32").max() == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_features_that_are_not_finite_are_named_by_row_and_column(bad):
    X = np.random.default_rng(0).random((50, 4, 3)).astype("float32")
    assert check_features(X, "train") is X
    X[17, 2, 1] = bad
    with pytest.raises(DataError, match=rf"train: row 17, column 7 is {bad}"):
        check_features(X, "train")
