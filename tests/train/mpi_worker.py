"""Run by tests/train/test_distributed.py under ``mpiexec -n N`` (and once without MPI):
``python mpi_worker.py SCENARIO OUT_DIR [ARGS]``. Each rank writes what the test checks
into OUT_DIR/rank<R>.npz."""
import os
import signal
import sys

import numpy as np

import mlc
from mlc import nn
from mlc.compiler import tensor as T
from mlc.train import Trainer, distributed as dist, load_dataset

EXAMPLES = 101  # with batch 20 the last minibatch holds one example: most ranks get none of it
STEPS = 12


def trainer_steps(out, distributed, dropout="0"):
    """Train an MLP (momentum, L2, dropout as given) for STEPS global minibatches of 20."""
    mlc.config.floatX = "float64"
    data = load_dataset("digits")["train"]
    train = data.subset(np.arange(EXAMPLES), "train")
    train.X = train.X / 16.0
    model = nn.MLP(64, [32], 10, dropout=float(dropout), seed=3)
    trainer = Trainer(model, "negative_log_likelihood", nn.SGD(0.2, momentum=0.9), {"l2": 1e-3},
                      batch_size=20, epochs=STEPS // 6, verbose=False, seed=5, distributed=distributed)
    trainer.fit(train)  # 6 minibatches per epoch (5 of 20, 1 of 1)
    world = dist.world(distributed)
    np.savez(os.path.join(out, f"rank{world.rank}.npz"), *model.get_weights(),
             loss=[h["loss"] for h in trainer.history], valid=list(trainer.evaluate(train).values()))


def gradients(out):
    """Finite differences of J = sum over ranks r of sum(c_r * f(x_r)) with respect to this
    rank's x, against the gradient mlc computes on this rank alone."""
    world = dist.world(True)
    rng = np.random.default_rng(world.rank)
    x_value, c_value, w_value = rng.normal(size=3), rng.normal(size=3), np.array(1.0 + world.rank)
    x, w = T.dvector("x"), T.dscalar("w")
    cases = {"sum": lambda: dist.allreduce(x * x, "sum"), "mean": lambda: dist.allreduce(T.sin(x), "mean"),
             "weighted": lambda: mlc.compiler.ops.collective.allreduce_mean([x * x, T.exp(x)], w)[0] * 2}
    results = {}
    for name, build in cases.items():
        local = T.sum(c_value * build())
        f = mlc.function([x, w], local, on_unused_input="ignore")
        g = mlc.function([x, w], T.grad(local, [x, w], disconnected_inputs="ignore"), on_unused_input="ignore")
        analytic = g(x_value, w_value)
        numeric = np.zeros(4)
        eps = 1e-6
        for r in range(world.size):  # every rank runs every evaluation: the perturbed one is rank r's
            for j in range(4):
                values = []
                for sign in (1, -1):
                    xv, wv = x_value.copy(), w_value.copy()
                    if world.rank == r:
                        if j < 3:
                            xv[j] += sign * eps
                        else:
                            wv = wv + sign * eps
                    values.append(float(world.allreduce(np.array(f(xv, wv)))))
                if world.rank == r:
                    numeric[j] = (values[0] - values[1]) / (2 * eps)
        results[name] = np.concatenate([analytic[0], [analytic[1]]])
        results[name + "_numeric"] = numeric
    np.savez(os.path.join(out, f"rank{world.rank}.npz"), **results)


def failing_cli(out, how):
    """mlc-train where rank 1 fails when it first saves a checkpoint (after epoch 1)."""
    from mlc.train import cli
    from mlc.train.trainer import Trainer as T_
    if dist.world(True).rank == 1:
        def fail(self, name):
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "error":
                raise OSError("disk on fire")
            raise RuntimeError("a bug")
        T_._save = fail
    sys.exit(cli.train_main([os.path.join(os.path.dirname(__file__), "..", "..", "configs", "mlp_digits.toml"),
                             "--out", os.path.join(out, "run"), "--set", "train.epochs=3", "--quiet"]))


def threads(out):
    """The thread count mlc chose for this rank, and OpenBLAS's own."""
    from mlc.compiler.runtime.cpu import blas
    world = dist.world(True)
    np.savez(os.path.join(out, f"rank{world.rank}.npz"), threads=world.threads, omp=int(os.environ["OMP_NUM_THREADS"]),
             cores=len(os.sched_getaffinity(0)), blas=blas.blas_threads())


if __name__ == "__main__":
    scenario, out_dir, *rest = sys.argv[1:]
    if scenario == "steps":
        trainer_steps(out_dir, distributed=rest[0] == "mpi", dropout=rest[1])
    elif scenario == "gradients":
        gradients(out_dir)
    elif scenario == "threads":
        threads(out_dir)
    elif scenario == "fail":
        failing_cli(out_dir, rest[0])
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
