"""Data-parallel training step on MPI: the MLP 784-500-10 of the ``mlp`` workload with a global
minibatch of 256 split over 2 ranks (``mpiexec -n 2``; mlc gives each rank its share of the
machine's cores, one each here, so the job uses the 2 cores like the one-process step it is
compared with). The step time is split into
the Allreduce (the MPI call alone) and the rest (compute, packing); a bare Allreduce of the
same buffer gives the transport's bandwidth. NumPy's row is the same step written by hand in
NumPy with one mpi4py Allreduce of the packed gradients. The job runs with glibc's mmap
threshold raised: by default glibc hands each freed multi-megabyte temporary back to the
system, and a NumPy step that allocates its temporaries anew then page-faults them in on
every step (twice the time here, with two processes faulting at once); mlc keeps its
buffers between calls and does not depend on it."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

RANKS = 2


def mpi(timer):
    """Run the workload under ``mpiexec`` and the one-process step here; rows for run.py."""
    import importlib.util
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if mpiexec is None or importlib.util.find_spec("mpi4py") is None:
        return {"info:skipped": "needs mpi4py and mpiexec: pip install 'mlc[mpi]'"}
    import workloads
    X, Y = workloads._mlp_data()
    single = timer(lambda f=workloads.mlc_mlp_step(): f(X, Y), 10)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(2 ** 30), MALLOC_TRIM_THRESHOLD_=str(2 ** 31))
        done = subprocess.run([mpiexec, "-n", str(RANKS), sys.executable, os.path.abspath(__file__), out],
                              env=env, capture_output=True, text=True, timeout=600)
        if done.returncode:
            return {"info:failed": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else str(done.returncode)}
        with open(out) as f:
            r = json.load(f)
    megabytes = r["buffer_bytes"] / 1e6
    return {
        "mlc": r["step"],
        "numpy": r["numpy_step"],
        "mlc, 1 process": single,
        "info:split": f"Allreduce {r['allreduce'] * 1e3:.3f} ms ({r['allreduce'] / r['step']:.0%}), compute and "
                      f"packing {(r['step'] - r['allreduce']) * 1e3:.3f} ms",
        "info:bare Allreduce": f"{megabytes:.2f} MB in {r['bare'] * 1e3:.3f} ms: "
                               f"{2 * (RANKS - 1) / RANKS * r['buffer_bytes'] / r['bare'] / 1e9:.2f} GB/s bus bandwidth",
    }


def _median_rounds(step, comm, repeats=7, number=10):
    step()
    rounds = []
    for _ in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(number):
            step()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def _worker(out: str) -> None:
    from mpi4py import MPI

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mlc.compiler as theano
    import mlc.compiler.tensor as T
    from mlc import nn
    from mlc.compiler.ops import collective
    from mlc.train import distributed as dist
    import workloads

    comm = MPI.COMM_WORLD
    world = dist.world(True)
    X, Y = workloads._mlp_data()
    X, Y = world.shard(X), world.shard(Y)
    with theano.config.change(floatX="float32"):
        x, y = T.matrix("x"), T.lvector("y")
        params = [theano.shared(v, name=n) for v, n in zip(workloads._init_params(), ("W1", "b1", "W2", "b2"))]
        W1, b1, W2, b2 = params
        p = T.nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
        cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y]) + workloads.L2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
        optimizer = dist.DistributedOptimizer(nn.SGD(workloads.LR), weight=x.shape[0])
        f = theano.function([x, y], optimizer.loss, updates=optimizer.get_updates(cost, params))

    spent = [0.0]
    mpi_sum = collective._sum_in_place

    def timed_sum(buffer):
        start = time.perf_counter()
        mpi_sum(buffer)
        spent[0] += time.perf_counter() - start
    collective._sum_in_place = timed_sum
    spent[0] = 0.0
    steps = [0]

    def mlc_step():
        steps[0] += 1
        f(X, Y)
    step = _median_rounds(mlc_step, comm)
    allreduce = spent[0] / steps[0]

    numel = sum(v.size for v in workloads._init_params())
    buffer = np.zeros(numel + 1, dtype="float32")
    bare = _median_rounds(lambda: comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM), comm)

    state = workloads._init_params()

    def numpy_step():
        grads = workloads.numpy_mlp_grads(state, X, Y)[1]
        flat = np.concatenate([g.ravel() * len(Y) for g in grads] + [np.array([len(Y)], "float32")])
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
        start = 0
        for v in state:
            v -= workloads.LR * flat[start:start + v.size].reshape(v.shape) / flat[-1]
            start += v.size
    numpy_step_time = _median_rounds(numpy_step, comm)
    times = comm.gather((step, allreduce, numpy_step_time, bare))
    if world.is_root:  # the slowest rank sets the pace
        step, allreduce, numpy_step_time, bare = [max(t[i] for t in times) for i in range(4)]
        with open(out, "w") as fh:
            json.dump({"step": step, "allreduce": allreduce, "numpy_step": numpy_step_time, "bare": bare,
                       "buffer_bytes": buffer.nbytes}, fh)


if __name__ == "__main__":
    _worker(sys.argv[1])
