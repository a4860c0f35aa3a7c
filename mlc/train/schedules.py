"""Learning-rate schedules: ``lr(epoch)`` from the base rate, a pure function of the epoch
so that a resumed run follows the same schedule."""
from __future__ import annotations

import math
from typing import Any, Callable

Schedule = Callable[[int, float], float]


def constant() -> Schedule:
    """The base rate throughout."""
    return lambda epoch, base: base


def step(step_size: int = 10, gamma: float = 0.5) -> Schedule:
    """Multiply by ``gamma`` every ``step_size`` epochs."""
    return lambda epoch, base: base * gamma ** (epoch // step_size)


def exponential(gamma: float = 0.95) -> Schedule:
    """Multiply by ``gamma`` every epoch."""
    return lambda epoch, base: base * gamma ** epoch


def cosine(epochs: int = 100, min_lr: float = 0.0) -> Schedule:
    """Cosine annealing from the base rate to ``min_lr`` over ``epochs``."""
    return lambda epoch, base: min_lr + (base - min_lr) * 0.5 * (1 + math.cos(math.pi * min(epoch, epochs) / epochs))


SCHEDULES = {"constant": constant, "step": step, "exponential": exponential, "cosine": cosine}


def get(spec: Any) -> Schedule:
    """A schedule from None, a name, a ``{'name': ..., **params}`` dict or a callable."""
    if spec is None:
        return constant()
    if callable(spec):
        return spec
    params: dict = {}
    if isinstance(spec, dict):
        params = dict(spec)
        spec = params.pop("name", "constant")
    if spec not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {spec!r}; valid: {', '.join(SCHEDULES)}")
    try:
        return SCHEDULES[spec](**params)
    except TypeError as err:
        raise ValueError(f"lr schedule {spec!r}: {err}") from None
