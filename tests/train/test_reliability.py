"""Faults through the real path: killed runs, full disks, two writers, corrupt files,
bad data, bad configs and a bad environment, each with real subprocesses."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from mlc.train.checkpoint import CheckpointError, read_checkpoint
from tests.train.test_cli import CONFIG, ROOT, cli, start

SMALL = ["--set", "train.epochs=3", "--set", "model.hidden=[16]", "--quiet"]


def _run_files(run: Path) -> dict:
    """Everything a run directory holds, timings aside, in comparable form."""
    files = {}
    for path in sorted(run.iterdir()):
        if path.name == ".lock":
            continue
        if path.suffix == ".h5":
            ckpt = read_checkpoint(path)
            state = dict(ckpt.trainer_state)
            files[path.name] = (json.dumps(ckpt.model_config), [w.tobytes() for w in ckpt.weights],
                                [w.tobytes() for w in ckpt.optimizer_state], json.dumps(state, sort_keys=True),
                                [{k: v for k, v in h.items() if k != "time"} for h in ckpt.history])
        elif path.name == "history.csv":
            rows = [line.split(",") for line in path.read_text().splitlines()]
            drop = rows[0].index("time")
            files[path.name] = [[v for k, v in enumerate(r) if k != drop] for r in rows]
        else:
            files[path.name] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run = tmp_path_factory.mktemp("reference") / "run"
    out = cli("train", CONFIG, "--out", run, *SMALL)
    assert out.returncode == 0, out.stderr
    return run


def test_kill_between_any_two_writes_then_resume_equals_an_uninterrupted_run(tmp_path, reference):
    want = _run_files(reference)
    # config.toml, then per epoch best.h5 (when it improves), last.h5, history.csv; results.json
    killed_at = []
    for n in range(1, 30):
        run = tmp_path / f"run{n}"
        killed = subprocess.run([sys.executable, "-c", "import sys; from mlc.train.cli import train_main as m; "
                                 "sys.exit(m(sys.argv[1:]))", str(CONFIG), "--out", str(run), *SMALL],
                                env=dict(os.environ, MLC_KILL_AFTER_WRITES=str(n)), capture_output=True, text=True)
        if killed.returncode == 0:
            break  # n is past the last write
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        killed_at.append(n)
        resumed = cli("train", "--resume", run, "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        got = _run_files(run)
        assert got.keys() == want.keys(), (n, got.keys())
        for name in want:
            assert got[name] == want[name], f"killed after write {n}: {name} differs from an uninterrupted run's"
    assert len(killed_at) >= 8  # every write of every epoch was a kill point


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".last.h5.tmp-999999").write_bytes(b"half a checkpoint")
    out = cli("train", CONFIG, "--out", run, *SMALL)
    assert out.returncode == 0, out.stderr
    assert not list(run.glob(".*.tmp-*"))


def test_a_second_writer_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    run = tmp_path / "run"
    first = start("train", CONFIG, "--out", run, "--set", "train.epochs=500", "--quiet")
    try:
        deadline = time.time() + 60
        while not (run / "last.h5").exists() and time.time() < deadline:
            time.sleep(0.05)
        second = cli("train", CONFIG, "--out", run, *SMALL)
        assert second.returncode == 2
        assert f"run directory {run} is in use by a running mlc-train (process {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    again = cli("train", "--resume", run, "--set", "train.epochs=2", "--quiet")  # the dead run's lock is free
    assert again.returncode == 0, again.stderr


def test_a_failed_resume_changes_nothing_in_the_run_directory(tmp_path, reference):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(reference), str(run)], check=True)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    out = cli("train", "--resume", run, "--set", "model.hidden=[50]")
    assert out.returncode == 2 and "cannot resume from" in out.stderr and "Traceback" not in out.stderr
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    assert after == before


def test_sigterm_is_handled_like_ctrl_c_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    proc = start("train", CONFIG, "--out", run, "--set", "train.epochs=500", "--quiet")
    deadline = time.time() + 60
    while not (run / "last.h5").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated; continue the run with mlc-train --resume" in err, (
        proc.returncode, err[-3000:])
    out = cli("train", "--resume", run, "--set", "train.epochs=2", "--quiet")
    assert out.returncode == 0, out.stderr


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_full_disk_during_a_checkpoint_is_one_clear_error_and_resume_works_later(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        run = disk / "run"
        first = cli("train", CONFIG, "--out", run, "--set", "train.epochs=1", "--set", "model.hidden=[16]")
        assert first.returncode == 0, first.stderr
        before = read_checkpoint(run / "last.h5")
        config = run / "config.toml"  # resume the saved config, now for 3 epochs
        config.write_text(config.read_text().replace("epochs = 1", "epochs = 3"))
        filler = disk / "filler"
        with open(filler, "wb") as f:  # take every byte left
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        full = cli("train", "--resume", run)
        assert full.returncode == 2, full.stderr
        lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "No space left on device" in lines[0] and ".h5" in lines[0], full.stderr
        assert read_checkpoint(run / "last.h5").trainer_state == before.trainer_state
        assert not list(run.glob(".*.tmp-*"))
        still_full = cli("train", "--resume", run)
        assert still_full.returncode == 2 and "Traceback" not in still_full.stderr
        filler.unlink()
        resumed = cli("train", "--resume", run, "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        assert read_checkpoint(run / "last.h5").trainer_state["epoch"] == 3
    finally:
        subprocess.run(["umount", str(disk)])


def test_a_flipped_bit_in_a_weight_array_is_refused(tmp_path, reference):
    path = tmp_path / "best.h5"
    path.write_bytes((reference / "best.h5").read_bytes())
    with h5py.File(path, "r") as f:
        offset = f["weights/000"].id.get_offset()
    data = bytearray(path.read_bytes())
    data[offset + 100] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"array /weights/000 \(hidden0.W\) does not match its checksum"):
        read_checkpoint(path)
    out = cli("predict", path, ROOT / "mlc" / "train" / "datasets" / "digits.npz")
    assert out.returncode == 2 and "checksum" in out.stderr


# ---------------------------------------------------------------------------- bad input, one line each
def _one_line_error(out, *expected):
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_nan_features_are_an_error_in_every_command(tmp_path, reference):
    X = np.random.default_rng(0).uniform(0, 16, (6, 64))
    X[4, 7] = np.nan
    np.savez(tmp_path / "nan.npz", x=X, y=np.arange(6) % 10, x_test=X, y_test=np.arange(6) % 10)
    _one_line_error(cli("predict", reference / "best.h5", tmp_path / "nan.npz"), "nan.npz", "row 4, column 7 is nan")
    _one_line_error(cli("eval", reference / "best.h5", tmp_path / "nan.npz"), "nan.npz", "row 4, column 7")
    _one_line_error(cli("train", CONFIG, "--out", tmp_path / "r", "--set", f"data.dataset='{tmp_path / 'nan.npz'}'"),
                    "nan.npz [", "row 4, column 7 is nan")
    import mlc
    with pytest.raises(ValueError, match="the input: row 4, column 7 is nan"):
        mlc.load_model(reference / "best.h5").predict(X)


def test_eval_rejects_float_labels_as_train_does(tmp_path, reference):
    X = np.random.default_rng(0).uniform(0, 16, (6, 64))
    np.savez(tmp_path / "f.npz", x_test=X, y_test=np.array([0, 1, 2.5, 3, 4, 5]))
    _one_line_error(cli("eval", reference / "best.h5", tmp_path / "f.npz"), "labels must be integers, got 2.5")


@pytest.mark.parametrize("key, value, expected", [
    ("optimizer.lr", "0", "'optimizer.lr' = 0.0 is out of range: it must be > 0"),
    ("optimizer.lr", "-0.1", "it must be > 0"),
    ("train.epochs", "0", "'train.epochs' = 0 is out of range: it must be >= 1"),
    ("model.hidden", "[100, 0]", "'model.hidden' = [100, 0] is out of range: it must be a list of positive"),
    ("train.l1", "-1.0", "'train.l1' = -1.0 is out of range"),
    ("train.l2", "-0.5", "'train.l2' = -0.5"),
    ("train.checkpoint_every_steps", "-1", "'train.checkpoint_every_steps' = -1"),
    ("seed", "-3", "'seed' = -3 is out of range: it must be >= 0"),
])
def test_out_of_range_config_values_name_key_value_and_range(tmp_path, key, value, expected):
    out = cli("train", CONFIG, "--out", tmp_path / "r", "--set", f"{key}={value}")
    _one_line_error(out, expected)
    assert not (tmp_path / "r").exists()


def test_binary_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    _one_line_error(cli("train", bad), "bad.toml", "not UTF-8 text")


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_text(""), "no rows of data"),
    (lambda p: p.write_text("a,b,label\n"), "no rows of data"),
    (lambda p: p.write_text("1,2,cat\n3,4,dog\n"), "not a numeric CSV"),
])
def test_bad_csv_names_the_file(tmp_path, make, expected):
    path = tmp_path / "data.csv"
    make(path)
    _one_line_error(cli("train", CONFIG, "--out", tmp_path / "r", "--set", f"data.dataset='{path}'"),
                    "data.csv", expected)


@pytest.mark.parametrize("arrays, expected", [
    (dict(x=np.zeros((0, 64)), y=np.zeros(0, int)), "[train]: no examples"),
    (dict(x=np.ones((5, 64))), "the training split has no labels"),
    (dict(x=np.ones((5, 64)), y=np.array(list("abcde"))), "[train] labels must be integers, got <U1"),
    (dict(x=np.array([["a"] * 64] * 5), y=np.zeros(5, int)), "[train]: features must be numbers"),
    (dict(x_train=np.ones((5, 64)), y_train=np.zeros(5, int), x_test=np.zeros((0, 64)), y_test=np.zeros(0, int)),
     "[test]: no examples"),
])
def test_bad_npz_names_the_file_and_what_was_expected(tmp_path, arrays, expected):
    np.savez(tmp_path / "d.npz", **arrays)
    _one_line_error(cli("train", CONFIG, "--out", tmp_path / "r", "--set", f"data.dataset='{tmp_path / 'd.npz'}'"),
                    "d.npz", expected)


def test_paths_that_are_not_what_they_should_be(tmp_path, reference):
    _one_line_error(cli("predict", reference, ROOT / "mlc" / "train" / "datasets" / "digits.npz"),
                    "is a directory; give a checkpoint file")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    _one_line_error(cli("train", CONFIG, "--out", a_file), "--out", "is a file, not a directory")
    _one_line_error(cli("train", CONFIG, "--out", a_file / "run"), f"{a_file} is a file, not a directory")


@pytest.mark.parametrize("env, expected", [
    (dict(MLC_FLAGS="floatX=float7"), "bad value for config key 'floatX' (from MLC_FLAGS)"),
    (dict(MLC_FLAGS="nonsense"), "MLC_FLAGS: expected key=value"),
    (dict(MLC_FLAGS="colour=blue"), "unknown config key 'colour' (from MLC_FLAGS)"),
])
def test_a_bad_environment_is_one_line(tmp_path, env, expected):
    out = subprocess.run([sys.executable, "-c", "import sys; from mlc.train.cli import train_main as m; "
                          "sys.exit(m(sys.argv[1:]))", str(CONFIG), "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, env=dict(os.environ, **env))
    _one_line_error(out, expected)


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_text("floatX = float32\n"), "cannot read it as an INI file"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00binary"), "not UTF-8 text"),
    (lambda p: p.mkdir(), "is a directory"),
])
def test_a_bad_mlcrc_is_one_line_naming_it(tmp_path, make, expected):
    rc = tmp_path / "mlcrc"
    make(rc)
    out = subprocess.run([sys.executable, "-c", "import sys; from mlc.train.cli import predict_main as m; "
                          "sys.exit(m(sys.argv[1:]))", "model.h5", "x.npz"],
                         capture_output=True, text=True, env=dict(os.environ, MLCRC=str(rc)))
    _one_line_error(out, str(rc), expected)


def test_closing_line_names_every_file_written(tmp_path):
    out = cli("train", CONFIG, "--out", tmp_path / "run", "--set", "train.epochs=1", "--quiet")
    assert out.returncode == 0, out.stderr
    assert f"run saved in {tmp_path / 'run'}: config.toml, last.h5, best.h5, history.csv, results.json" in out.stdout
    if importlib.util.find_spec("matplotlib"):
        assert "results.json, curves.png" in out.stdout
    else:
        assert out.stdout.count("curves.png skipped: matplotlib is not installed") == 1


def test_the_saved_model_example_says_what_to_run_first(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "predict_saved_model.py"), str(tmp_path / "no.h5")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "mlc-train configs/mlp_digits.toml --out runs/digits" in out.stderr
