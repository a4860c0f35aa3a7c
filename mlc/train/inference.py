"""Saved-model inference: ``mlc.load_model(path)`` rebuilds the model from a checkpoint and
compiles ``predict`` / ``predict_proba``. It needs no training code or config.

>>> # model = mlc.load_model("runs/mlp_digits/best.h5"); labels = model.predict(X_raw)
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import compiler as theano
from ..compiler import tensor as T
from ..nn.layers import from_config
from .checkpoint import read_checkpoint, restore
from .data import Scaler, check_features


class InferenceModel:
    """A trained model with its preprocessing, ready to predict on raw features."""

    def __init__(self, model: Any, preprocess: dict | None = None) -> None:
        self.model = model
        self.scaler = Scaler.from_state(preprocess) if preprocess else Scaler("none")
        self.n_in, self.n_out = getattr(model, "n_in", None), getattr(model, "n_out", None)
        x = T.matrix("x")
        self._proba = theano.function([x], model(x, deterministic=True), name="predict_proba")

    def _features(self, X: Any) -> np.ndarray:
        X = check_features(X, "the input")
        if X.ndim == 1:
            X = X[None, :]
        X = X.reshape(len(X), -1)
        if self.n_in is not None and X.shape[1] != self.n_in:
            raise ValueError(f"the input has {X.shape[1]} features per example but the model expects {self.n_in}")
        return self.scaler.transform(X, theano.config.floatX)

    def predict_proba(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities for raw features ``X`` (n, features)."""
        X = self._features(X)
        parts = [self._proba(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_out or 0))

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Predicted class labels for raw features ``X``."""
        return self.predict_proba(X, batch_size).argmax(axis=1)


def load_model(path: str | os.PathLike) -> InferenceModel:
    """Rebuild a model from an mlc checkpoint (``last.h5`` / ``best.h5``) for prediction."""
    ckpt = read_checkpoint(path)
    model = from_config(ckpt.model_config)
    restore(ckpt, model, rng=False)
    return InferenceModel(model, ckpt.preprocess)
