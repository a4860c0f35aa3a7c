"""Weight penalties over a model's regularizable parameters (biases are not).

>>> # cost = loss + 1e-4 * l2(model)
"""
from __future__ import annotations

from typing import Any, Sequence

from ..compiler import tensor as T


def _params(model_or_params: Any) -> Sequence[Any]:
    if hasattr(model_or_params, "get_params"):
        return model_or_params.get_params(regularizable=True)
    return list(model_or_params)


def l1(model_or_params: Any, coefficient: float = 1.0) -> Any:
    """``coefficient * sum |w|`` over the parameters."""
    params = _params(model_or_params)
    return coefficient * T.add(*[T.sum(abs(p)) for p in params]) if params else T.constant(0.0)


def l2(model_or_params: Any, coefficient: float = 1.0) -> Any:
    """``coefficient * sum w²`` over the parameters (no ½, as in Lasagne)."""
    params = _params(model_or_params)
    return coefficient * T.add(*[T.sum(p * p) for p in params]) if params else T.constant(0.0)


def elastic_net(model_or_params: Any, coefficient: float = 1.0, l1_ratio: float = 0.5) -> Any:
    """``coefficient * (l1_ratio * l1 + (1 - l1_ratio) * l2)``."""
    return coefficient * (l1_ratio * l1(model_or_params) + (1 - l1_ratio) * l2(model_or_params))


REGULARIZERS = {"l1": l1, "l2": l2, "elastic_net": elastic_net}


def get(name: str) -> Any:
    """A regularizer by name."""
    if name not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {name!r}; valid: {', '.join(REGULARIZERS)}")
    return REGULARIZERS[name]
