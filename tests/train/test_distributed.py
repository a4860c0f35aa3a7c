"""Data-parallel training on MPI: real ``mpiexec -n 2`` and ``-n 3`` jobs, run as subprocesses
with timeouts (a hang fails the test instead of the suite)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlc.train import distributed as dist
from mlc.train.checkpoint import read_checkpoint

pytest.importorskip("mpi4py", reason="the mpi extra (mpi4py, mpich) is not installed")

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("mpi_worker.py")
CONFIG = ROOT / "configs" / "mlp_digits.toml"
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
TIMEOUT = 240

pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install 'mlc[mpi]')")


def mpiexec(n, *args, cwd=None):
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd)


def train_cli(n, *args, cwd=None):
    command = ["-c", "import sys; from mlc.train.cli import train_main; sys.exit(train_main(sys.argv[1:]))", *args]
    if n == 0:  # no MPI at all
        return subprocess.run([sys.executable, *map(str, command)], capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=cwd)
    return mpiexec(n, *command, cwd=cwd)


def ranks(out, n):
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(n)]


def worker(tmp_path, name, n, *args):
    out = tmp_path / name
    out.mkdir()
    done = mpiexec(n, WORKER, *args[:1], out, *args[1:]) if n else \
        subprocess.run([sys.executable, WORKER, args[0], out, *args[1:]], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return ranks(out, max(n, 1))


@pytest.mark.parametrize("n", [2, 3])
def test_ranks_train_like_one_process_on_the_same_global_batches(tmp_path, n):
    # 3 ranks split 20 examples 7/6/7; the last minibatch of each epoch holds one example,
    # so some ranks get none of it (weight 0). The shards' gradients are combined as
    # sum_r n_r * mean_r / sum_r n_r: the same sum in another order of float additions
    # than one mean over the minibatch, a few ulps per step; hence a tolerance, in float64.
    single = worker(tmp_path, "single", 0, "steps", "single", "0")[0]
    parallel = worker(tmp_path, "parallel", n, "steps", "mpi", "0")
    for key in single:
        np.testing.assert_allclose(parallel[0][key], single[key], rtol=1e-11, atol=1e-12, err_msg=key)
    for other in parallel[1:]:  # every rank holds bit for bit the same weights
        assert all(np.array_equal(other[key], parallel[0][key]) for key in single)


def test_distributed_runs_repeat_bit_for_bit_with_dropout(tmp_path):
    first = worker(tmp_path, "first", 3, "steps", "mpi", "0.3")
    second = worker(tmp_path, "second", 3, "steps", "mpi", "0.3")
    for a, b in zip(first, second):
        assert all(np.array_equal(a[key], b[key]) for key in a)
    assert all(np.array_equal(first[2][key], first[0][key]) for key in first[0])


def test_gradients_through_allreduce_match_finite_differences_across_ranks(tmp_path):
    for r, result in enumerate(worker(tmp_path, "grads", 2, "gradients")):
        for case in ("sum", "mean", "weighted"):
            np.testing.assert_allclose(result[case], result[case + "_numeric"], rtol=1e-6, atol=1e-8,
                                       err_msg=f"rank {r}, {case}")


@pytest.mark.parametrize("how, code, message", [("error", 2, "mlc-train: error: disk on fire (rank 1 of 2)"),
                                                ("bug", 1, "RuntimeError: a bug"),
                                                ("kill", None, "")])
def test_a_failure_on_one_rank_ends_the_whole_job(tmp_path, how, code, message):
    done = mpiexec(2, WORKER, "fail", tmp_path, how)  # rank 1 fails while rank 0 waits for it
    assert done.returncode != 0
    if code is not None:
        assert done.returncode == code, done.stderr
    assert message in done.stderr
    if how == "bug":
        assert "rank 1 of 2:" in done.stderr
    assert not (tmp_path / "run" / "last.h5").exists()


def test_mpiexec_mlc_train_reaches_the_single_process_accuracy(tmp_path):
    single = train_cli(0, CONFIG, "--out", tmp_path / "single", "--quiet")
    assert single.returncode == 0, single.stderr
    work = tmp_path / "work"
    work.mkdir()
    parallel = train_cli(2, CONFIG, cwd=work)
    assert parallel.returncode == 0, parallel.stderr
    (run,) = list((work / "runs").iterdir())  # one run directory, named by rank 0
    accuracy = [json.loads((d / "results.json").read_text())["test_accuracy"] for d in (tmp_path / "single", run)]
    assert abs(accuracy[1] - accuracy[0]) <= 0.005
    assert parallel.stdout.count("test_accuracy") == 1  # only rank 0 speaks
    assert parallel.stdout.count("epoch 1/30") == 1
    assert read_checkpoint(run / "last.h5").trainer_state["world_size"] == 2


RESUME = ["--set", "model.dropout=0.2", "--set", "train.patience=0", "--quiet"]


def test_distributed_resume_continues_bit_for_bit_and_across_rank_counts(tmp_path):
    whole = train_cli(2, CONFIG, "--out", tmp_path / "whole", "--set", "train.epochs=4", *RESUME)
    assert whole.returncode == 0, whole.stderr
    half = train_cli(2, CONFIG, "--out", tmp_path / "half", "--set", "train.epochs=2", *RESUME)
    assert half.returncode == 0, half.stderr
    saved = read_checkpoint(tmp_path / "half" / "last.h5")
    assert len(saved.rank_rng_states) == 1 and saved.rank_rng_states[0] != saved.rng_states  # rank 1's own stream
    shutil.copytree(tmp_path / "half", tmp_path / "other")
    resumed = train_cli(2, "--resume", tmp_path / "half", "--set", "train.epochs=4")
    assert resumed.returncode == 0, resumed.stderr
    for a, b in zip(read_checkpoint(tmp_path / "whole" / "last.h5").weights,
                    read_checkpoint(tmp_path / "half" / "last.h5").weights):
        assert np.array_equal(a, b)
    three = train_cli(3, "--resume", tmp_path / "other", "--set", "train.epochs=3")
    assert three.returncode == 0, three.stderr
    assert "written by 2 rank(s), this run has 3" in three.stdout
    assert read_checkpoint(tmp_path / "other" / "last.h5").trainer_state["epoch"] == 3


def test_single_process_distributed_flag_trains(tmp_path):
    done = train_cli(0, CONFIG, "--out", tmp_path / "run", "--distributed", "--set", "train.epochs=2", "--quiet")
    assert done.returncode == 0, done.stderr
    assert read_checkpoint(tmp_path / "run" / "last.h5").trainer_state["world_size"] == 1


def test_launched_size_reads_the_launchers_environment(monkeypatch):
    for name in dist._SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert dist.launched_size() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert dist.launched_size() == 4


@pytest.mark.parametrize("n, total", [(3, 20), (3, 1), (2, 7), (4, 0)])
def test_shards_cover_the_batch_in_order_as_evenly_as_possible(n, total):
    class Fake(dist.SingleProcess):
        def __init__(self, rank):
            super().__init__()
            self.rank, self.size = rank, n
    parts = [Fake(r).shard(np.arange(total)) for r in range(n)]
    assert np.array_equal(np.concatenate(parts), np.arange(total))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_numpy_allreduce_without_mpi_is_the_value_and_bad_ops_are_named():
    assert np.array_equal(dist.SingleProcess().allreduce(np.arange(3)), np.arange(3))
    with pytest.raises(ValueError, match="op must be one of"):
        dist.SingleProcess().allreduce(np.arange(3), "prod")


def test_the_distributed_loop_example_checks_itself_on_two_ranks():
    done = mpiexec(2, ROOT / "examples" / "distributed_loop.py")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("epoch 20:") == 1


def test_ranks_sharing_a_machine_share_its_cores(tmp_path):
    for result in worker(tmp_path, "threads", 2, "threads"):
        expected = max(1, int(result["cores"]) // 2)
        assert int(result["threads"]) == int(result["omp"]) == expected
        assert int(result["blas"]) == expected
