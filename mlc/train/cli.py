"""Command lines: ``mlc-train``, ``mlc-predict`` and ``mlc-eval``.

Errors print one line naming what is wrong (``mlc-train: error: ...``) and exit with 2;
``--debug`` shows the traceback instead. In a distributed run (``mpiexec -n N mlc-train``)
a failure on any rank ends every rank (MPI_Abort) with that rank's message and exit status.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import config as cfgmod
from . import distributed as dist
from .checkpoint import CheckpointError
from .data import DataError, Scaler, check_labels, load_dataset, load_features, train_valid_split
from .rundir import RunDirectory, atomic_write, check_directory, interrupt
from .trainer import TrainingError

_USER_ERRORS = (DataError, CheckpointError, cfgmod.ConfigError, TrainingError, ValueError, TypeError,
                OSError, KeyError)


class Terminated(Exception):
    """SIGTERM arrived (handled like Ctrl-C: stop, leaving a resumable run directory)."""


def _terminate(signum: int, frame: Any) -> None:
    interrupt(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())


def _run(prog: str, main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
         argv: Sequence[str] | None) -> int:
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    from ..compiler import config
    if config.environment_error is not None:
        print(f"{prog}: error: {config.environment_error}", file=sys.stderr)
        return 2
    try:
        previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        code = _call(prog, main, args)
    except BaseException:
        world = dist.active_world()
        if world is None or world.size == 1:
            raise
        import traceback
        dist.report_failure(traceback.format_exc().rstrip(), world.rank, world.size)
        code = 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    world = dist.active_world()
    if code and world is not None and world.size > 1:
        world.abort(code)  # the other ranks may be waiting for this one in an Allreduce
    return code


def _call(prog: str, main: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``main(args)``, with the errors a user can fix reported in one line and an exit status."""
    try:
        return main(args)
    except _USER_ERRORS as err:
        if args.debug:
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        _report(f"{prog}: error: {message}")
        return 2
    except BrokenPipeError:  # e.g. `mlc-predict ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        _report(f"{prog}: interrupted{_RESUMABLE.get(prog, '')}")
        return 130
    except Terminated:
        _report(f"{prog}: terminated{_RESUMABLE.get(prog, '')}")
        return 143


def _report(message: str) -> None:
    world = dist.active_world()
    if world is None:
        print(message, file=sys.stderr)
    else:
        dist.report_failure(message, world.rank, world.size)


_RESUMABLE = {"mlc-train": "; continue the run with mlc-train --resume RUN_DIR"}


# ---------------------------------------------------------------------------- mlc-train

def build_model(model_cfg: dict, n_in: int, n_out: int, seed: int) -> Any:
    """The model a ``[model]`` config section describes."""
    from .. import nn
    kind = model_cfg["type"]
    if kind == "MLP":
        return nn.MLP(n_in, model_cfg["hidden"], n_out, activation=model_cfg["activation"],
                      dropout=model_cfg["dropout"], W_init=model_cfg["W_init"], seed=seed)
    if kind == "LogisticRegression":
        return nn.LogisticRegression(n_in, n_out, seed=seed)
    if kind in ("RNN", "LSTM", "GRU"):
        steps = model_cfg.get("steps", 1)
        if n_in % steps:
            raise cfgmod.ConfigError(f"model.steps = {steps} does not divide the {n_in} input features into equal steps")
        return nn.RecurrentClassifier(n_in, model_cfg["hidden"], n_out, cell=kind, steps=steps, seed=seed)
    if kind == "Sequential":
        return _sequential(model_cfg, n_in, seed)
    raise cfgmod.ConfigError(f"unknown model.type {kind!r}; valid: MLP, LogisticRegression, RNN, LSTM, GRU, Sequential")


def _sequential(model_cfg: dict, n_in: int, seed: int) -> Any:
    """A ``Sequential`` from ``[[model.layers]]`` tables (each a layer's config: ``class`` and
    its arguments); layers that take a seed and were given none get one from ``seed``."""
    from .. import nn
    layers = model_cfg.get("layers")
    if not layers:
        raise cfgmod.ConfigError("model.type = 'Sequential' needs [[model.layers]] tables (class = ..., arguments)")
    built = []
    for k, layer_cfg in enumerate(layers):
        if not isinstance(layer_cfg, dict) or "class" not in layer_cfg:
            raise cfgmod.ConfigError(f"model.layers[{k}] must be a table with a 'class' key, got {layer_cfg!r}")
        cls = nn.layers.LAYERS.get(layer_cfg["class"])
        if cls is None:
            raise cfgmod.ConfigError(f"model.layers[{k}]: unknown layer class {layer_cfg['class']!r}; valid: "
                                     f"{', '.join(sorted(nn.layers.LAYERS))}")
        args = {key: v for key, v in layer_cfg.items() if key != "class"}
        accepted = set(inspect.signature(cls).parameters)
        if "seed" in accepted and args.get("seed") is None:
            args["seed"] = seed * 1000 + k
        extra = set(args) - accepted
        if extra:
            raise cfgmod.ConfigError(f"model.layers[{k}] ({cls.__name__}) does not take {', '.join(sorted(extra))}; "
                                     f"valid: {', '.join(sorted(accepted))}")
        built.append(cls(**args))
    model = nn.Sequential(built, model_cfg.get("input_shape"))
    if getattr(model, "n_in", n_in) != n_in:
        raise cfgmod.ConfigError(f"model.input_shape {model_cfg['input_shape']} holds {model.n_in} features but the "
                                 f"data has {n_in}")
    return model


def build_optimizer(opt_cfg: dict) -> Any:
    """The optimizer an ``[optimizer]`` section describes (keys it does not take are an error)."""
    from ..nn import optimizers
    opt_cfg = dict(opt_cfg)
    name = opt_cfg.pop("name")
    lookup = {k.lower(): v for k, v in optimizers.OPTIMIZERS.items()}
    if name.lower() not in lookup:
        raise cfgmod.ConfigError(f"unknown optimizer.name {name!r}; valid: {', '.join(optimizers.OPTIMIZERS)}")
    cls = lookup[name.lower()]
    accepted = set(inspect.signature(cls).parameters)
    extra = set(opt_cfg) - accepted
    if extra:
        raise cfgmod.ConfigError(f"optimizer {cls.__name__} does not take {', '.join(sorted(extra))}; "
                                 f"valid: {', '.join(sorted(accepted))}")
    if opt_cfg.get("clipnorm") == 0:
        opt_cfg["clipnorm"] = None
    return cls(**opt_cfg)


def prepare_data(data_cfg: dict, seed: int, floatX: str):
    """Train/valid/test datasets, scaled by a scaler fitted on the training split."""
    splits = load_dataset(data_cfg["dataset"])
    if "train" not in splits:
        raise DataError(f"{data_cfg['dataset']}: no training split; it has {', '.join(splits)}")
    train = splits["train"]
    if train.y is None:
        raise DataError(f"{data_cfg['dataset']}: the training split has no labels (expected arrays y_train or y, "
                        "or a label column)")
    valid = splits.get("valid")
    if valid is None:
        train, valid = train_valid_split(train, data_cfg["valid_fraction"], seed)
    scaler = Scaler.fit(data_cfg["scale"], train.X)
    for d in (train, valid, splits.get("test")):
        if d is not None:
            d.X = scaler.transform(d.X, floatX)
    return train, valid, splits.get("test"), scaler


def train_main(argv: Sequence[str] | None = None) -> int:
    """``mlc-train CONFIG.toml [--set a.b=v ...] [--out DIR] [--resume DIR]``"""
    parser = argparse.ArgumentParser(prog="mlc-train", description="Train a model from a TOML config.")
    parser.add_argument("config", nargs="?", help="the TOML config (optional with --resume)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.epochs=5")
    parser.add_argument("--out", help="run directory (default: runs/<config name>-<time>)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last.h5")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch output")
    parser.add_argument("--profile", action="store_true", help="time the train step node by node and print "
                                                               "where the time went at the end")
    parser.add_argument("--distributed", action="store_true",
                        help="train data-parallel over MPI even with one rank (automatic under mpiexec -n N, N > 1)")
    return _run("mlc-train", _train, parser, argv)


def _settings(args: argparse.Namespace) -> tuple[dict, Path]:
    """The resolved config and the run directory the command line asks for."""
    if args.resume:
        out = check_directory(args.resume, "--resume")
        saved = out / "config.toml"
        if not saved.exists():
            raise FileNotFoundError(f"{out} is not a run directory (no config.toml)")
        user = cfgmod.load(args.config if args.config else saved)
    elif args.config:
        user = cfgmod.load(args.config)
        out = Path(args.out) if args.out else Path("runs") / f"{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        check_directory(out)
    else:
        raise cfgmod.ConfigError("give a CONFIG.toml (or --resume DIR)")
    for assignment in args.set:
        cfgmod.apply_override(user, assignment)
    return cfgmod.resolve(user), out


def _train(args: argparse.Namespace) -> int:
    world = dist.world(True if args.distributed else None)
    if world.is_root:
        return _train_on(args, world)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # rank 0 speaks for all
        return _train_on(args, world)


def _train_on(args: argparse.Namespace, world: dist.World) -> int:
    """Train as ``args`` say; in a distributed run every rank runs this, rank 0 alone writes."""
    from .. import compiler
    from .trainer import Trainer
    cfg, out = world.broadcast(_settings(args) if world.is_root else None)  # rank 0 alone reads the run directory
    compiler.config.floatX = cfg["floatX"]
    try:
        compiler.config.device = cfg["device"]
    except ValueError as err:
        raise cfgmod.ConfigError(f"config key 'device': {err}") from None
    train, valid, test, scaler = prepare_data(cfg["data"], cfg["seed"], cfg["floatX"])
    n_out = cfg["model"]["n_out"] or int(np.max(train.y)) + 1
    model = build_model(cfg["model"], train.X.shape[1], n_out, cfg["seed"])
    t = cfg["train"]
    trainer = Trainer(model, t["loss"], build_optimizer(cfg["optimizer"]), {"l1": t["l1"], "l2": t["l2"]},
                      t["batch_size"], t["epochs"], t["metrics"],
                      {"patience": t["patience"], "monitor": t["monitor"] if valid is not None else "loss"},
                      cfg["lr_schedule"], out, cfg["seed"], t["checkpoint_every_steps"], not args.quiet,
                      cfg, {**scaler.state()}, profile=args.profile,
                      distributed=not isinstance(world, dist.SingleProcess))
    run = RunDirectory(out).lock() if world.is_root else None
    try:
        if run is not None:
            run.remove_temporaries()
        resumed = world.broadcast(bool(args.resume and (out / "last.h5").exists()) if run is not None else None)
        if resumed:
            try:
                trainer.resume(out / "last.h5")
            except ValueError as err:  # the checkpoint does not fit the model this config builds
                raise CheckpointError(f"cannot resume from {out / 'last.h5'}: {err}") from None
        if run is not None:  # only now, with the resume known to be valid, may the run directory change
            text = cfgmod.dumps(cfg)
            if not (out / "config.toml").exists() or (out / "config.toml").read_text() != text:
                run.write("config.toml", text)
            if resumed:
                trainer.write_history(out / "history.csv")  # a run killed before writing it lacks a row
        if resumed:
            print(f"resuming {out} at epoch {trainer.state['epoch'] + 1}, step {trainer.state['step']}", flush=True)
        trainer.fit(train, valid)
        results = {"epochs": trainer.state["epoch"], "best_epoch": trainer.state["best_epoch"]}
        if test is not None:
            results.update({f"test_{k}": v for k, v in trainer.evaluate(test).items()})
            print("  ".join(f"{k} {v:.4f}" for k, v in results.items() if k.startswith("test_")), flush=True)
        if run is None:
            return 0
        run.write("results.json", json.dumps(results, indent=2) + "\n")
        plotted = _plot_curves(trainer.history, out / "curves.png")
    finally:
        if run is not None:
            run.unlock()
    written = [n for n in ("config.toml", "last.h5", "best.h5", "history.csv", "results.json", "curves.png")
               if (out / n).exists()]
    print(f"run saved in {out}: {', '.join(written)}", flush=True)
    if not plotted:
        print("curves.png skipped: matplotlib is not installed (pip install 'mlc[plot]')", flush=True)
    if args.profile:
        trainer.profile.name = "the train step"
        trainer.profile.summary(sys.stdout, n_ops_to_print=10, n_apply_to_print=10)
    return 0


def _plot_curves(history: list[dict], path: Path) -> bool:
    """Draw the loss and metric curves; False when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = [k for k in history[0] if k not in ("epoch", "time", "lr")] if history else []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for k in keys:
        axes[0 if "loss" in k else 1].plot([h["epoch"] for h in history], [h[k] for h in history], label=k)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png")
    plt.close(fig)
    atomic_write(path, image.getvalue())
    return True


# ---------------------------------------------------------------------------- mlc-predict / mlc-eval

def predict_main(argv: Sequence[str] | None = None) -> int:
    """``mlc-predict MODEL.h5 INPUT [--out FILE] [--proba]``"""
    parser = argparse.ArgumentParser(prog="mlc-predict", description="Predict with a saved model.")
    parser.add_argument("model", help="a checkpoint (best.h5 / last.h5)")
    parser.add_argument("input", help="features: .npz, .csv, .h5 or an IDX file")
    parser.add_argument("--out", help="output file: .csv or .npy (default: labels on stdout)")
    parser.add_argument("--proba", action="store_true", help="write class probabilities instead of labels")
    return _run("mlc-predict", _predict, parser, argv)


def _predict(args: argparse.Namespace) -> int:
    from .inference import load_model
    if args.out is not None and not args.out.endswith((".npy", ".csv")):
        raise ValueError(f"--out {args.out}: use a .csv or .npy file name")
    model = load_model(args.model)
    X = load_features(args.input)
    result = model.predict_proba(X) if args.proba else model.predict(X)
    if args.out is None:
        np.savetxt(sys.stdout, result, fmt="%.6g" if args.proba else "%d", delimiter=",")
    elif args.out.endswith(".npy"):
        np.save(args.out, result)
    else:
        np.savetxt(args.out, result, fmt="%.6g" if args.proba else "%d", delimiter=",")
    return 0


def eval_main(argv: Sequence[str] | None = None) -> int:
    """``mlc-eval MODEL.h5 DATASET [--split test]``"""
    parser = argparse.ArgumentParser(prog="mlc-eval", description="Evaluate a saved model on a dataset.")
    parser.add_argument("model")
    parser.add_argument("dataset", help="a dataset name (digits, fashion-mnist, mnist) or file")
    parser.add_argument("--split", default="test", help="which split (default: test)")
    return _run("mlc-eval", _evaluate, parser, argv)


def _evaluate(args: argparse.Namespace) -> int:
    from .inference import load_model
    model = load_model(args.model)
    splits = load_dataset(args.dataset)
    if args.split not in splits:
        raise DataError(f"dataset {args.dataset!r} has no split {args.split!r}; it has {', '.join(splits)}")
    data = splits[args.split]
    if data.y is None:
        raise DataError(f"{args.dataset} [{args.split}] has no labels to evaluate against")
    proba = model.predict_proba(data.X)
    y = check_labels(data.y, f"{args.dataset} [{args.split}]", proba.shape[1])
    nll = float(-np.mean(np.log(np.maximum(proba[np.arange(len(y)), y], 1e-300))))
    accuracy = float(np.mean(proba.argmax(1) == y))
    print(f"{args.split}: loss {nll:.4f}  accuracy {accuracy:.4f}  ({len(y)} examples)")
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
