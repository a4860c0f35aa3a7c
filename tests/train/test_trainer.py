import numpy as np
import pytest

import mlc.compiler.tensor as T
from mlc import nn
from mlc.train import DataError, Dataset, Trainer, TrainingError, load_dataset, train_valid_split
from mlc.train.data import Scaler


@pytest.fixture(scope="module")
def digits():
    s = load_dataset("digits")
    scaler = Scaler.fit("unit", s["train"].X)
    train, valid = train_valid_split(s["train"], 0.1, seed=0)
    for d in (train, valid, s["test"]):
        d.X = scaler.transform(d.X, "float64")
    return train, valid, s["test"]


def _trainer(tmp_path=None, **kw):
    model = nn.MLP(64, [32], 10, dropout=kw.pop("dropout", 0.0), seed=0)
    args = dict(loss="negative_log_likelihood", optimizer=nn.SGD(0.1, momentum=0.5),
                regularization={"l2": 1e-4}, batch_size=32, epochs=3, seed=5, verbose=False,
                checkpoint_dir=tmp_path)
    args.update(kw)
    return Trainer(model, **args)


def test_fit_evaluate_predict(digits, tmp_path):
    train, valid, test = digits
    t = _trainer(tmp_path, epochs=8)
    history = t.fit(train, valid)
    assert [h["epoch"] for h in history] == list(range(1, 9))
    assert history[-1]["loss"] < history[0]["loss"]
    result = t.evaluate(test)
    assert result["accuracy"] > 0.9 and set(result) == {"loss", "accuracy"}
    assert np.mean(t.predict(test.X) == test.y) == pytest.approx(result["accuracy"])
    assert (tmp_path / "last.h5").exists() and (tmp_path / "best.h5").exists()
    assert (tmp_path / "history.csv").read_text().startswith("epoch,lr,loss,val_loss,val_accuracy,time")


def test_in_process_resume_is_exact(digits, tmp_path):
    train, valid, _ = digits
    full = _trainer(tmp_path / "a", epochs=4, dropout=0.2, optimizer=nn.Adam(0.01))
    full.fit(train, valid)
    half = _trainer(tmp_path / "b", epochs=2, dropout=0.2, optimizer=nn.Adam(0.01))
    half.fit(train, valid)
    resumed = _trainer(tmp_path / "c", epochs=4, dropout=0.2, optimizer=nn.Adam(0.01))
    resumed.resume(tmp_path / "b" / "last.h5")
    resumed.fit(train, valid)
    for a, b in zip(full.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]


def test_early_stopping_and_schedule(digits):
    train, valid, _ = digits
    t = _trainer(epochs=50, early_stopping={"patience": 2, "monitor": "val_loss"},
                 optimizer=nn.SGD(5.0), lr_schedule={"name": "step", "step_size": 1, "gamma": 0.5})
    t.fit(train, valid)
    assert t.state["stopped"] and len(t.history) < 50
    lrs = [h["lr"] for h in t.history]
    assert lrs[:3] == [5.0, 2.5, 1.25]


def test_bad_data_is_named(digits):
    train, _, _ = digits
    t = _trainer()
    with pytest.raises(DataError, match="train data has 3 features per example but the model expects 64"):
        t.fit(Dataset(np.zeros((4, 3)), np.zeros(4, int)))
    bad = Dataset(train.X[:10].copy(), np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 12]))
    with pytest.raises(DataError, match=r"train labels must be in \[0, 10\): found 12 \(example 9\)"):
        t.fit(bad)
    with pytest.raises(DataError, match="valid labels"):
        t.fit(train, Dataset(train.X[:2], np.array([-1, 0])))


def test_nan_features_are_refused_naming_row_and_column(digits):
    train, _, _ = digits
    X = train.X.copy()
    X[100, 3] = np.nan
    with pytest.raises(DataError, match="train data: row 100, column 3 is nan"):
        _trainer().fit(Dataset(X, train.y))


def test_nan_loss_stops_with_a_clear_error(digits):
    train, _, _ = digits
    def log_of_negative(p_y, y):  # probabilities sum to 1: the log of -1 is NaN
        return T.log(p_y.sum(axis=1) - 2).mean()
    t = Trainer(nn.MLP(64, [20], 10, seed=0), log_of_negative, nn.SGD(0.1), batch_size=20, epochs=1, verbose=False)
    with pytest.raises(TrainingError, match="loss became nan at epoch 1, step 1"):
        t.fit(train)
