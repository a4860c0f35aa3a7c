import h5py
import numpy as np
import pytest

import mlc
from mlc import nn
from mlc.train.checkpoint import CheckpointError, read_checkpoint, restore, save_checkpoint


def _model_and_opt():
    model = nn.MLP(4, [5], 3, dropout=0.5, seed=0)
    x = mlc.compiler.tensor.matrix()
    model(x)  # creates the dropout generators
    opt = nn.Adam(0.01)
    opt.get_updates(model(x).sum(), model.get_params())
    return model, opt


def test_roundtrip(tmp_path):
    model, opt = _model_and_opt()
    for v in opt.state_variables():
        v.set_value(np.full_like(v.get_value(), 0.25))
    gen_state = model.state_variables()[0].get_value().bit_generator.state
    path = save_checkpoint(tmp_path / "c.h5", model, opt, {"epoch": 3, "best": 0.5}, [{"epoch": 1, "loss": 2.0}],
                           {"seed": 1}, {"kind": "unit", "offset": 0.0, "scale": 16.0})
    ckpt = read_checkpoint(path)
    assert ckpt.trainer_state == {"epoch": 3, "best": 0.5} and ckpt.history == [{"epoch": 1, "loss": 2.0}]
    assert ckpt.model_config == model.get_config() and ckpt.preprocess["scale"] == 16.0
    other, opt2 = _model_and_opt()
    other.set_weights([w * 0 for w in other.get_weights()])
    restore(ckpt, other, opt2)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert all((v.get_value() == 0.25).all() for v in opt2.state_variables())
    assert other.state_variables()[0].get_value().bit_generator.state == gen_state
    assert not list(tmp_path.glob(".*tmp*"))


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(CheckpointError, match="text.h5: not an HDF5 file"):
        read_checkpoint(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(CheckpointError, match="other.h5: an HDF5 file but not an mlc checkpoint"):
        read_checkpoint(tmp_path / "other.h5")
    model, opt = _model_and_opt()
    good = save_checkpoint(tmp_path / "good.h5", model, opt)
    raw = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="cut.h5: truncated or corrupt"):
        read_checkpoint(tmp_path / "cut.h5")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "absent.h5")


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    model, opt = _model_and_opt()
    path = save_checkpoint(tmp_path / "last.h5", model, opt, {"epoch": 1})

    class Boom(RuntimeError):
        pass

    def explode(*a, **k):
        raise Boom()
    monkeypatch.setattr("mlc.train.checkpoint._write_arrays", explode)
    with pytest.raises(Boom):
        save_checkpoint(path, model, opt, {"epoch": 2})
    assert read_checkpoint(path).trainer_state == {"epoch": 1}
    assert not list(tmp_path.glob(".*tmp*"))


def test_load_model_predicts(tmp_path, rng):
    model = nn.MLP(4, [6], 3, seed=2)
    path = save_checkpoint(tmp_path / "m.h5", model, None, preprocess={"kind": "unit", "offset": 0.0, "scale": 2.0})
    loaded = mlc.load_model(path)
    X = rng.normal(size=(7, 4))
    x = mlc.compiler.tensor.matrix()
    ref = mlc.function([x], model(x, deterministic=True))(X / 2.0)
    np.testing.assert_allclose(loaded.predict_proba(X), ref)
    np.testing.assert_array_equal(loaded.predict(X), ref.argmax(1))
    with pytest.raises(ValueError, match="5 features per example but the model expects 4"):
        loaded.predict(np.zeros((2, 5)))
