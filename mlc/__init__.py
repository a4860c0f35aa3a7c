"""mlc: a training-oriented ML framework on a symbolic compiler.

``mlc.compiler`` (graphs, gradients, rewrites, code generation), ``mlc.nn`` (layers,
losses, optimizers) and ``mlc.train`` (trainer, checkpoints, inference).
"""
__version__ = "0.1.0"

import os

# NumPy's OpenBLAS keeps its worker threads spinning for ~2**28 cycles (0.1 s) after each
# multithreaded product; a compiled function called in that window has its threads
# competing with them for the cores, and a train step interleaved with NumPy products took
# twice as long. 2**20 cycles (~0.4 ms) keeps them warm through a run of products. OpenBLAS
# reads this when it loads: it takes effect where mlc is imported before NumPy, and a
# user's own setting wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from .compiler import config, function, grad, shared  # noqa: E402

__all__ = ["config", "function", "grad", "shared", "load_model", "__version__"]


def load_model(path):
    """Rebuild a trained model from an mlc checkpoint for prediction (see ``mlc.train.inference``)."""
    from .train.inference import load_model as _load
    return _load(path)
