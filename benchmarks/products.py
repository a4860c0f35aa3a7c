"""The matrix products of a train step alone, done by NumPy (its multithreaded OpenBLAS):
the least time any implementation that calls the BLAS spends on that step. Printed beside
the workloads whose products dominate, as the bound under their targets."""
from __future__ import annotations

import numpy as np


def weights(hidden: int, dtype: str = "float32") -> tuple:
    """``(W1, W2)`` of a 784-``hidden``-10 MLP (``W2`` None: logistic regression, ``hidden`` 0)."""
    rng = np.random.default_rng(0)
    W1 = rng.uniform(-0.05, 0.05, (784, hidden or 10)).astype(dtype)
    W2 = rng.uniform(-0.05, 0.05, (hidden, 10)).astype(dtype) if hidden else None
    return W1, W2


def step(x: np.ndarray, W1: np.ndarray, W2: np.ndarray | None) -> None:
    """The products of one forward and backward pass on the batch ``x`` (the backward ones
    take forward results of the right shapes: their values do not change their time)."""
    h = x @ W1
    if W2 is None:
        x.T @ h
        return
    z = h @ W2
    dh = z @ W2.T
    h.T @ z
    x.T @ dh


def forward(x: np.ndarray, W1: np.ndarray, W2: np.ndarray | None) -> None:
    """The products of a forward pass (validation)."""
    h = x @ W1
    if W2 is not None:
        h @ W2
