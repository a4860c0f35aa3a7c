"""The command lines, run as real subprocesses (kills included)."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mlc.train.checkpoint import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "mlp_digits.toml"


def cli(name, *args, **kw):
    code = f"import sys; from mlc.train.cli import {name}_main as m; sys.exit(m(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, **kw)


def start(name, *args):
    code = f"import sys; from mlc.train.cli import {name}_main as m; sys.exit(m(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def test_default_config_trains_to_95_percent(tmp_path):
    out = cli("train", CONFIG, "--out", tmp_path / "run")
    assert out.returncode == 0, out.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["test_accuracy"] >= 0.95
    assert "epoch 1/30" in out.stdout and "test_accuracy" in out.stdout
    for name in ("config.toml", "last.h5", "best.h5", "history.csv"):
        assert (tmp_path / "run" / name).exists()


RESUME_ARGS = ["--set", "train.epochs=12", "--set", "train.checkpoint_every_steps=5", "--set", "model.dropout=0.2",
               "--set", "train.patience=0", "--quiet"]


def _weights(path):
    return read_checkpoint(path).weights


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    ref = cli("train", CONFIG, "--out", tmp_path / "ref", *RESUME_ARGS)
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "run"
    proc = start("train", CONFIG, "--out", run, *RESUME_ARGS)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until a mid-run checkpoint of epoch >= 2 exists
        try:
            state = read_checkpoint(run / "last.h5").trainer_state
            if state["epoch"] >= 2 and state["step_in_epoch"] > 0:
                break
        except Exception:
            pass
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "results.json").exists(), "the run finished before the kill"
    killed_at = read_checkpoint(run / "last.h5").trainer_state
    assert killed_at["epoch"] < 12
    resumed = cli("train", "--resume", run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    for a, b in zip(_weights(tmp_path / "ref" / "last.h5"), _weights(run / "last.h5")):
        np.testing.assert_array_equal(a, b)
    assert json.loads((run / "results.json").read_text()) == json.loads((tmp_path / "ref" / "results.json").read_text())


def test_sigkill_during_checkpoint_writes_leaves_readable_file(tmp_path):
    run = tmp_path / "run"
    args = ["--set", "train.epochs=200", "--set", "train.checkpoint_every_steps=1", "--quiet"]
    rng = np.random.default_rng(0)
    for attempt in range(4):
        proc = start("train", CONFIG, "--out", run, *args) if attempt == 0 else start("train", "--resume", run, *args)
        deadline = time.time() + 60
        while not (run / "last.h5").exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(float(rng.uniform(0.05, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = read_checkpoint(run / "last.h5")  # must not raise
        assert ckpt.trainer_state["step"] >= 1


def test_predict_matches_trainer_and_fresh_process_load(tmp_path):
    run = tmp_path / "run"
    assert cli("train", CONFIG, "--out", run, "--set", "train.epochs=3", "--quiet").returncode == 0
    from mlc.train.data import load_dataset
    test = load_dataset("digits")["test"]
    np.savez(tmp_path / "x.npz", x=test.X)
    out = cli("predict", run / "best.h5", tmp_path / "x.npz", "--out", tmp_path / "pred.csv")
    assert out.returncode == 0, out.stderr
    predicted = np.loadtxt(tmp_path / "pred.csv", dtype=int)
    # the trainer's own predict function, rebuilt from the run's config and weights
    from mlc.train import Trainer
    from mlc.train.checkpoint import restore
    from mlc.train.cli import build_model, build_optimizer
    from mlc.train.data import Scaler
    ckpt = read_checkpoint(run / "best.h5")
    cfg = ckpt.train_config
    model = build_model(cfg["model"], 64, 10, cfg["seed"])
    trainer = Trainer(model, optimizer=build_optimizer(cfg["optimizer"]), verbose=False)
    restore(ckpt, model, rng=False)
    own = trainer.predict(Scaler.from_state(ckpt.preprocess).transform(test.X, "float64"))
    np.testing.assert_array_equal(predicted, own)
    script = ("import sys, numpy as np, mlc; m = mlc.load_model(sys.argv[1]); "
              "print(' '.join(map(str, m.predict(np.load(sys.argv[2])['x']))))")
    fresh = subprocess.run([sys.executable, "-c", script, run / "best.h5", tmp_path / "x.npz"],
                           capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    assert [int(v) for v in fresh.stdout.split()] == own.tolist()
    npy = cli("predict", run / "best.h5", tmp_path / "x.npz", "--out", tmp_path / "p.npy", "--proba")
    assert npy.returncode == 0 and np.load(tmp_path / "p.npy").shape == (360, 10)
    ev = cli("eval", run / "best.h5", "digits")
    assert ev.returncode == 0 and "accuracy" in ev.stdout


def test_bad_inputs_give_one_line_errors(tmp_path):
    run = tmp_path / "run"
    assert cli("train", CONFIG, "--out", run, "--set", "train.epochs=1", "--quiet").returncode == 0
    (tmp_path / "not.h5").write_text("hello")
    (tmp_path / "bad.toml").write_text("[train]\nepochz = 3\n")
    np.savez(tmp_path / "wide.npz", x=np.zeros((2, 30)))
    np.savez(tmp_path / "labels.npz", x_train=np.zeros((3, 64)), y_train=np.array([0, 1, 11]))
    cases = [
        (("train", CONFIG, "--set", "data.dataset=" + str(tmp_path / "missing.npz"), "--out", tmp_path / "r1"),
         "missing.npz"),
        (("train", tmp_path / "bad.toml", "--out", tmp_path / "r2"), "unknown config key 'train.epochz'"),
        (("train", CONFIG, "--set", "data.dataset=" + str(tmp_path / "labels.npz"), "--set", "model.n_out=10",
          "--out", tmp_path / "r3"), "labels must be in [0, 10): found 11"),
        (("predict", run / "best.h5", tmp_path / "wide.npz"), "30 features per example but the model expects 64"),
        (("predict", tmp_path / "not.h5", tmp_path / "wide.npz"), "not.h5: not an HDF5 file"),
        (("eval", tmp_path / "missing.h5", "digits"), "missing.h5: no such checkpoint"),
    ]
    for args, expected in cases:
        out = cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
        assert expected in lines[0], lines[0]
    debug = cli("predict", tmp_path / "not.h5", tmp_path / "wide.npz", "--debug")
    assert "Traceback" in debug.stderr


def test_profile_prints_the_train_steps_top_nodes(tmp_path):
    out = cli("train", CONFIG, "--out", tmp_path / "run", "--set", "train.epochs=1", "--quiet", "--profile")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Message: the train step" in text and "Apply\n------" in text
    assert "Gemm" in text.split("Apply\n------")[1]  # the MLP's products lead the nodes
