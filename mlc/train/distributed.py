"""Data-parallel training on MPI (through mpi4py): ``mpiexec -n N mlc-train CONFIG``.

Every rank holds the whole model and computes the gradients of its shard of each global
minibatch; one Allreduce of all gradients, packed in one flat buffer and weighted by the
shards' sizes, gives every rank the gradient of the global minibatch, and every rank then
applies the same update, so the weights stay identical without ever being sent again.
Rank 0 alone writes files.

For your own loops, the same pieces (in the manner of Horovod):

>>> from mlc.train import distributed as dist
>>> opt = dist.DistributedOptimizer(nn.SGD(0.1), weight=x.shape[0])      # doctest: +SKIP
>>> train = mlc.function([x, y], opt.loss, updates=opt.get_updates(cost, params))  # doctest: +SKIP
>>> dist.broadcast_parameters(params)                                    # doctest: +SKIP
>>> total = dist.allreduce(np.array([correct, seen]))                    # doctest: +SKIP

Run it with ``mpiexec -n 4 python train.py``; across machines, with MPI's host file
(``mpiexec -f hosts -n 8 ...``). ``examples/distributed_loop.py`` is a whole script.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Sequence

import numpy as np

from ..compiler.ops import collective
from ..compiler.graph import Variable

_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


def launched_size() -> int:
    """The number of ranks ``mpiexec`` (MPICH, Open MPI, MVAPICH, Slurm's PMI) started this
    process among, from its environment, without importing MPI; 1 when not launched so."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


class World:
    """The processes of an MPI job and the few collectives training needs."""

    def __init__(self, comm: Any = None) -> None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError("distributed training needs mpi4py and an MPI library: pip install 'mlc[mpi]'") from None
        self._MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        collective.set_communicator(self.comm)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_size = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()  # ranks on this machine
        self.threads: int | None = None  # per rank, when mlc chose it
        if self.local_size > 1 and not {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"} & set(os.environ):
            from ..compiler.runtime.cpu import set_num_threads
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            self.threads = max(1, cores // self.local_size)
            set_num_threads(self.threads)

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def allreduce(self, array: Any, op: str = "sum") -> np.ndarray:
        """``array`` combined elementwise over the ranks: ``sum``, ``mean``, ``max`` or ``min``."""
        ops = {"sum": self._MPI.SUM, "mean": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}
        if op not in ops:
            raise ValueError(f"allreduce: op must be one of {', '.join(ops)}, got {op!r}")
        buffer = np.array(array, order="C")
        if buffer.dtype == object:
            raise TypeError("allreduce: give numbers (an array or a scalar), not Python objects")
        if op == "mean":
            buffer = buffer.astype(np.result_type(buffer.dtype, np.float64))
        self.comm.Allreduce(self._MPI.IN_PLACE, buffer.reshape(-1), op=ops[op])
        return buffer / self.size if op == "mean" else buffer

    def broadcast(self, obj: Any, root: int = 0) -> Any:
        """Rank ``root``'s ``obj`` (anything picklable) on every rank."""
        return self.comm.bcast(obj, root=root)

    def gather(self, obj: Any, root: int = 0) -> list | None:
        """Every rank's ``obj``, as a list in rank order, on rank ``root`` (None elsewhere)."""
        return self.comm.gather(obj, root=root)

    def shard(self, items: Any) -> Any:
        """This rank's part of ``items`` (split as evenly as possible, in order)."""
        bounds = np.linspace(0, len(items), self.size + 1).round().astype(int) if self.size > 1 else (0, len(items))
        return items[bounds[self.rank]:bounds[self.rank + 1]]

    def abort(self, code: int) -> None:
        """End every rank of the job with exit status ``code`` (MPI_Abort): nobody waits."""
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.2)  # mpiexec forwards what this rank printed before MPI_Abort kills its reader (seen lost once)
        self.comm.Abort(code)


class SingleProcess(World):
    """The one-process world: the same methods, no MPI."""

    def __init__(self) -> None:
        self.comm, self.rank, self.size, self.local_size = None, 0, 1, 1

    def allreduce(self, array: Any, op: str = "sum") -> np.ndarray:
        if op not in ("sum", "mean", "max", "min"):
            raise ValueError(f"allreduce: op must be one of sum, mean, max, min, got {op!r}")
        return np.array(array)

    def broadcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def gather(self, obj: Any, root: int = 0) -> list:
        return [obj]

    def abort(self, code: int) -> None:
        raise SystemExit(code)


_world: World | None = None


def world(distributed: bool | None = None) -> World:
    """The job's ``World``: over MPI when ``distributed`` is True, or None and ``mpiexec``
    started more than one rank; else ``SingleProcess``."""
    global _world
    if distributed is None:
        distributed = launched_size() > 1 or _world is not None
    if not distributed:
        return SingleProcess()
    if _world is None:
        _world = World()
    return _world


def active_world() -> World | None:
    """The MPI ``World`` in use, if one was created."""
    return _world


def rank() -> int:
    """This process's rank (0 without MPI)."""
    return world().rank


def size() -> int:
    """The number of ranks (1 without MPI)."""
    return world().size


def allreduce(value: Any, op: str = "sum") -> Any:
    """``value`` summed (or ``mean``, ``max``, ``min``) over the ranks. A NumPy array or
    number gives a NumPy array now; a symbolic tensor gives a symbolic tensor (``sum`` or
    ``mean``, differentiable) computed when its function runs."""
    if isinstance(value, Variable):
        if op not in ("sum", "mean"):
            raise ValueError(f"a symbolic allreduce takes op 'sum' or 'mean', got {op!r}")
        return collective.allreduce(value, op)
    return world().allreduce(value, op)


def broadcast_parameters(variables: Sequence[Any], root: int = 0) -> None:
    """Give every rank rank ``root``'s values of these shared variables (parameters,
    optimizer state), as at the start of training and after a resume."""
    comm_world = world()
    if comm_world.size == 1:
        return
    values = comm_world.broadcast([v.get_value() for v in variables] if comm_world.rank == root else None, root)
    for var, value in zip(variables, values):
        var.set_value(value)


class DistributedOptimizer:
    """Wrap an optimizer so that its updates use the gradients averaged over all ranks,
    computed with one Allreduce of one flat buffer per step (Horovod's design).

    ``weight``: this rank's share of the global minibatch (a symbolic scalar such as
    ``x.shape[0]``, so uneven shards are weighted by their sizes); None weighs ranks
    equally. After ``get_updates(loss, params)``, ``.loss`` is the global mean loss; the
    tensors passed as ``average`` come back averaged the same way in ``.averaged``
    (running statistics, metrics), in the same Allreduce. Everything else (learning rate,
    state, config) is the wrapped optimizer's.
    """

    def __init__(self, optimizer: Any, weight: Any = None) -> None:
        self.optimizer = optimizer
        self.weight = weight
        self.loss: Any = None
        self.averaged: list = []

    def get_updates(self, loss_or_grads: Any, params: Sequence[Any], average: Sequence[Any] = ()) -> list[tuple]:
        from ..compiler import tensor as T
        from ..compiler.config import config
        from ..compiler.gradient import grad
        params = list(params)
        given_grads = isinstance(loss_or_grads, (list, tuple))
        grads = list(loss_or_grads) if given_grads else grad(loss_or_grads, params)
        head = [] if given_grads else [loss_or_grads]
        weight = 1.0 if self.weight is None else T.cast(self.weight, config.floatX)
        reduced = collective.allreduce_mean(head + grads + list(average), weight)
        self.loss = None if given_grads else reduced[0]
        grads = reduced[len(head):len(head) + len(grads)]
        self.averaged = reduced[len(head) + len(grads):]
        return self.optimizer.get_updates(grads, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)


def jump_generators(variables: Sequence[Any], rank: int) -> None:
    """Give rank ``rank`` its own random streams: each shared generator jumps ahead ``rank``
    times 2**127 draws (independent streams; rank 0 keeps the seeded ones)."""
    if rank == 0:
        return
    for var in variables:
        gen = var.get_value(borrow=True)
        bit_generator = gen.bit_generator
        jumped = bit_generator.jumped(rank) if hasattr(bit_generator, "jumped") else \
            type(bit_generator)(np.random.SeedSequence([int(gen.integers(2 ** 63)), rank]))
        var.set_value(np.random.Generator(jumped), borrow=True)


def report_failure(message: str, rank_: int, size_: int) -> None:
    """Print a failure on stderr naming the rank. Ranks other than 0 wait a moment first:
    when every rank fails alike (a bad config), rank 0's abort ends the job before they
    repeat its message."""
    if rank_ != 0:
        time.sleep(1.0)
    if size_ > 1:
        message = f"rank {rank_} of {size_}:\n{message}" if "\n" in message else f"{message} (rank {rank_} of {size_})"
    print(message, file=sys.stderr, flush=True)
