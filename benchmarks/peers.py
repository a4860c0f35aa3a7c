"""Optional peers for the benchmarks: each import returns None when the package is missing."""
from __future__ import annotations

import os


def pytensor():
    try:
        import pytensor as pt
        import pytensor.tensor as ptt
        return pt, ptt
    except ImportError:
        return None


def torch():
    try:
        import torch as th
        th.set_num_threads(os.cpu_count() or 1)
        return th
    except ImportError:
        return None


def jax():
    try:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax as jx
        import jax.numpy as jnp
        return jx, jnp
    except ImportError:
        return None
