"""mlc: a training-oriented ML framework on a symbolic compiler.

``mlc.compiler`` (graphs, gradients, rewrites, code generation), ``mlc.nn`` (layers,
losses, optimizers) and ``mlc.train`` (trainer, checkpoints, inference).
"""
__version__ = "0.1.0"

from .compiler import config, function, grad, shared  # noqa: E402

__all__ = ["config", "function", "grad", "shared", "load_model", "__version__"]


def load_model(path):
    """Rebuild a trained model from an mlc checkpoint for prediction (see ``mlc.train.inference``)."""
    from .train.inference import load_model as _load
    return _load(path)
