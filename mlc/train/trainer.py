"""``Trainer``: compiles one train function and one evaluation function, runs epochs with a
progress bar, validates, stops early, follows a learning-rate schedule and checkpoints so
that a killed run resumes exactly where it stopped.

>>> from mlc import nn
>>> from mlc.train import Trainer, load_dataset
>>> data = load_dataset("digits")
>>> model = nn.MLP(64, [100], 10, seed=0)
>>> trainer = Trainer(model, "negative_log_likelihood", nn.SGD(0.1), batch_size=20, epochs=2)
"""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import compiler as theano
from ..compiler import tensor as T
from ..nn import losses as losses_
from ..nn import metrics as metrics_
from ..nn import optimizers, regularizers
from . import schedules
from . import distributed as dist
from .checkpoint import generator_from_state, generator_state, read_checkpoint, restore, save_checkpoint
from .data import DataError, Dataset, check_features, check_labels
from .rundir import atomic_write


class TrainingError(RuntimeError):
    """Training cannot go on (for example the loss became NaN)."""


class Trainer:
    """Fit ``model`` with ``loss`` and ``optimizer``.

    ``regularization``: ``{'l2': 1e-4, 'l1': 0.0}`` or a callable ``model -> expression``.
    ``early_stopping``: ``{'patience': 10, 'monitor': 'val_loss'}`` (or an int patience).
    ``lr_schedule``: a name, ``{'name': 'step', 'step_size': 10, 'gamma': 0.5}`` or a callable.
    ``checkpoint_dir``: where ``last.h5`` (every epoch, and every ``checkpoint_every_steps``
    steps if > 0), ``best.h5`` and ``history.csv`` go. ``profile``: record the train step's
    time per node (``trainer.profile.summary()``).
    ``distributed``: train data-parallel over the ranks of an MPI job (``mpiexec -n N``);
    None: when launched by ``mpiexec`` with more than one rank. Each rank computes its shard
    of every minibatch of ``batch_size``; rank 0 alone prints and writes files
    (``mlc.train.distributed``).
    """

    def __init__(self, model: Any, loss: Any = "categorical_crossentropy", optimizer: Any = None,
                 regularization: Any = None, batch_size: int = 32, epochs: int = 10,
                 metrics: Sequence[str] = ("accuracy",), early_stopping: Any = None, lr_schedule: Any = None,
                 checkpoint_dir: str | Path | None = None, seed: int = 0, checkpoint_every_steps: int = 0,
                 verbose: bool = True, train_config: dict | None = None, preprocess: dict | None = None,
                 profile: bool = False, distributed: bool | None = None) -> None:
        self.model = model
        self.world = dist.world(distributed)
        self.distributed = not isinstance(self.world, dist.SingleProcess)
        self._profile = bool(profile)
        self.loss_fn = losses_.get(loss) if isinstance(loss, str) else loss
        self.optimizer = optimizer if optimizer is not None else optimizers.SGD(0.01)
        self.regularization = regularization
        self.batch_size, self.epochs, self.seed = int(batch_size), int(epochs), int(seed)
        self.metric_names = list(metrics)
        self.metric_fns = {m: metrics_.get(m) for m in self.metric_names}
        if isinstance(early_stopping, int):
            early_stopping = {"patience": early_stopping}
        self.early_stopping = dict(early_stopping or {})
        self.schedule = schedules.get(lr_schedule)
        self.base_lr = self.optimizer.learning_rate
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every_steps = int(checkpoint_every_steps)
        self.verbose = verbose and self.world.is_root
        self.train_config, self.preprocess = train_config or {}, preprocess
        self.history: list[dict] = []
        self.state = {"epoch": 0, "step": 0, "step_in_epoch": 0, "loss_sum": 0.0, "seen": 0,
                      "best": None, "best_epoch": -1, "wait": 0, "stopped": False}
        self._build()
        if self.distributed:
            dist.jump_generators(self.model.state_variables(), self.world.rank)
            dist.broadcast_parameters(self._global_state())

    # ------------------------------------------------------------------ compile
    def _penalty(self) -> Any:
        reg = self.regularization
        if not reg:
            return 0
        if callable(reg):
            return reg(self.model)
        unknown = set(reg) - set(regularizers.REGULARIZERS)
        if unknown:
            raise ValueError(f"unknown regularization {sorted(unknown)}; valid: {', '.join(regularizers.REGULARIZERS)}")
        return T.add(*[regularizers.get(name)(self.model, coef) for name, coef in reg.items() if coef]) \
            if any(reg.values()) else 0

    def _build(self) -> None:
        floatX = theano.config.floatX
        self.n_in = getattr(self.model, "n_in", None)
        self.n_classes = getattr(self.model, "n_out", None)
        self._X = theano.shared(np.zeros((0, self.n_in or 1), dtype=floatX), name="train_X")
        self._y = theano.shared(np.zeros((0,), dtype="int64"), name="train_y")
        x, y, idx = T.matrix("x"), T.lvector("y"), T.lvector("batch")
        cost = self.loss_fn(self.model(x), y) + self._penalty()
        params = self.model.get_params(trainable=True)
        running = self.model.collect_updates()  # running averages (batch normalization)
        if self.distributed:  # gradients, cost and running averages: one Allreduce per step
            optimizer = dist.DistributedOptimizer(self.optimizer, weight=x.shape[0])
            updates = optimizer.get_updates(cost, params, average=[value for _, value in running])
            updates += [(var, value) for (var, _), value in zip(running, optimizer.averaged)]
            cost = optimizer.loss
        else:
            updates = self.optimizer.get_updates(cost, params) + running
        self._train_fn = theano.function([idx], cost, updates=updates, givens={x: self._X[idx], y: self._y[idx]},
                                         name="train", profile=self._profile or None)
        out = self.model(x, deterministic=True)
        outputs = [self.loss_fn(out, y)] + [fn(out, y) for fn in self.metric_fns.values()]
        self._eval_fn = theano.function([x, y], outputs, name="evaluate")
        self._predict_fn = theano.function([x], out, name="predict_proba")

    def _global_state(self) -> list:
        """The shared variables every rank must hold alike: weights and optimizer state."""
        return self.model.get_params() + self.optimizer.state_variables()

    @property
    def profile(self) -> Any:
        """The train step's ``ProfileStats`` (``profile=True``), else None."""
        return self._train_fn.profile

    # ------------------------------------------------------------------ checks
    def check_data(self, data: Dataset, what: str) -> None:
        """Raise ``DataError`` naming ``what`` if its features or labels do not fit the model."""
        X = check_features(data.X, f"{what} data")
        X = X.reshape(len(X), -1)
        if self.n_in is not None and X.shape[1] != self.n_in:
            raise DataError(f"{what} data has {X.shape[1]} features per example but the model expects {self.n_in}")
        if data.y is None:
            raise DataError(f"{what} data has no labels")
        check_labels(data.y, what, self.n_classes)

    # ------------------------------------------------------------------ run
    def fit(self, train: Dataset, valid: Dataset | None = None) -> list[dict]:
        """Train for the remaining epochs; returns the history (one dict per epoch)."""
        self.check_data(train, "train")
        if valid is not None:
            self.check_data(valid, "valid")
        floatX = theano.config.floatX
        self._X.set_value(train.X.reshape(len(train.X), -1).astype(floatX, copy=False), borrow=True)
        self._y.set_value(np.asarray(train.y).astype("int64", copy=False), borrow=True)
        monitor = self.early_stopping.get("monitor", "val_loss" if valid is not None else "loss")
        patience = int(self.early_stopping.get("patience", 0))
        st = self.state
        while st["epoch"] < self.epochs and not st["stopped"]:
            epoch = st["epoch"]
            self.optimizer.learning_rate = self.schedule(epoch, self.base_lr)
            batches = train.batch_indices(self.batch_size, self.seed, epoch)
            started = time.perf_counter()
            bar = self._progress(len(batches), epoch, st["step_in_epoch"])
            for idx in batches[st["step_in_epoch"]:]:
                loss = float(self._train_fn(self.world.shard(idx)))  # the global minibatch's loss
                if not math.isfinite(loss):
                    raise TrainingError(f"the training loss became {loss} at epoch {epoch + 1}, step "
                                        f"{st['step_in_epoch'] + 1}; lower the learning rate (last checkpoint kept)")
                st["loss_sum"] += loss * len(idx)
                st["seen"] += len(idx)
                st["step"] += 1
                st["step_in_epoch"] += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{st['loss_sum'] / st['seen']:.4f}", refresh=False)
                if self.checkpoint_every_steps and st["step"] % self.checkpoint_every_steps == 0:
                    self._save("last.h5")
            if bar is not None:
                bar.close()
            record = {"epoch": epoch + 1, "lr": self.optimizer.learning_rate,
                      "loss": st["loss_sum"] / max(st["seen"], 1)}
            if valid is not None:
                record.update({f"val_{k}": v for k, v in self.evaluate(valid).items()})
            record["time"] = round(time.perf_counter() - started, 3)
            self.history.append(record)
            improved = self._track(record, monitor, patience)
            st.update(epoch=epoch + 1, step_in_epoch=0, loss_sum=0.0, seen=0)
            self._report(record)
            if self.checkpoint_dir is not None:
                # last.h5 is the commit point: best.h5 before it (a run killed in between
                # repeats this epoch and writes the same best.h5), history.csv after it
                # (rewritten from last.h5 when a run resumes).
                if improved:
                    self._save("best.h5")
                self._save("last.h5")
                if self.world.is_root:
                    self.write_history(self.checkpoint_dir / "history.csv")
        return self.history

    def _track(self, record: dict, monitor: str, patience: int) -> bool:
        if monitor not in record:
            raise ValueError(f"early stopping monitors {monitor!r}, which is not among {', '.join(record)}")
        value = record[monitor]
        better = (lambda a, b: a > b) if monitor.endswith(("accuracy", "top_k_accuracy")) else (lambda a, b: a < b)
        st = self.state
        if st["best"] is None or better(value, st["best"]):
            st.update(best=value, best_epoch=record["epoch"], wait=0)
            return True
        st["wait"] += 1
        if patience and st["wait"] >= patience:
            st["stopped"] = True
        return False

    def _progress(self, total: int, epoch: int, done: int) -> Any:
        if not self.verbose or not sys.stderr.isatty():
            return None
        from tqdm import tqdm
        return tqdm(total=total, initial=done, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False, file=sys.stderr)

    def _report(self, record: dict) -> None:
        if not self.verbose:
            return
        parts = [f"epoch {record['epoch']}/{self.epochs}"]
        parts += [f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "time", "lr")]
        parts.append(f"({record['time']:.2f}s)")
        print("  ".join(parts), flush=True)

    # ------------------------------------------------------------------ eval / predict
    def evaluate(self, data: Dataset, batch_size: int = 1024) -> dict:
        """Mean loss and metrics over ``data`` (no regularization term); distributed, each
        rank evaluates its shard of the rows and the sums are combined."""
        self.check_data(data, getattr(data, "name", "evaluation"))
        sums = np.zeros(2 + len(self.metric_names))  # loss, metrics, examples
        X = self.world.shard(data.X.reshape(len(data.X), -1)).astype(theano.config.floatX, copy=False)
        y = self.world.shard(np.asarray(data.y)).astype("int64", copy=False)
        for i in range(0, len(X), batch_size):
            values = self._eval_fn(X[i:i + batch_size], y[i:i + batch_size])
            sums[:-1] += np.array([float(v) for v in values]) * len(X[i:i + batch_size])
        sums[-1] = len(X)
        sums = self.world.allreduce(sums)
        return dict(zip(["loss"] + self.metric_names, (sums[:-1] / max(sums[-1], 1)).tolist()))

    def predict_proba(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities for already-preprocessed features ``X``."""
        X = np.asarray(X).reshape(len(X), -1).astype(theano.config.floatX, copy=False)
        parts = [self._predict_fn(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_classes or 0))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels for already-preprocessed features ``X``."""
        return self.predict_proba(X).argmax(axis=1)

    # ------------------------------------------------------------------ checkpoints
    def _save(self, name: str) -> None:
        if self.checkpoint_dir is None:
            return
        streams = self.world.gather([generator_state(v.get_value(borrow=True)) for v in self.model.state_variables()])
        if not self.world.is_root:
            return
        save_checkpoint(self.checkpoint_dir / name, self.model, self.optimizer,
                        dict(self.state, world_size=self.world.size), self.history, self.train_config,
                        self.preprocess, rank_rng_states=streams[1:])

    def resume(self, path: str | Path) -> None:
        """Load weights, optimizer, generator and trainer state from a checkpoint (``last.h5``).
        Distributed, rank 0 reads it and sends it to the others; each rank takes its own
        random streams, or derives new ones if the checkpoint came from another number of ranks."""
        ckpt = self.world.broadcast(read_checkpoint(path) if self.world.is_root else None)
        restore(ckpt, self.model, self.optimizer)
        state = dict(ckpt.trainer_state)
        saved_size = int(state.pop("world_size", 1))
        self.state.update(state)
        self.history = list(ckpt.history)
        if not self.distributed:
            return
        streams = self.model.state_variables()
        if saved_size == self.world.size and self.world.rank > 0:
            for var, saved in zip(streams, ckpt.rank_rng_states[self.world.rank - 1]):
                var.set_value(generator_from_state(saved), borrow=True)
        elif saved_size != self.world.size:
            dist.jump_generators(streams, self.world.rank)
            if self.world.is_root and streams:
                print(f"note: {path} was written by {saved_size} rank(s), this run has {self.world.size}: weights, "
                      "optimizer state and the position in the epoch carry over; the random streams of ranks "
                      "other than 0 start anew, so the run will not repeat an uninterrupted one bit for bit",
                      flush=True)
        dist.broadcast_parameters(self._global_state())

    def write_history(self, path: str | Path) -> None:
        """The history as CSV (one row per epoch); a file already holding it is left alone."""
        if not self.history:
            return
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        path = Path(path)
        if not path.is_file() or path.read_bytes() != text.getvalue().encode():
            atomic_write(path, text.getvalue())
