"""Optimizers with Lasagne's update formulas and defaults.

Each returns ``(shared, new_value)`` updates for ``function(updates=...)``. All state
(velocities, moments, the step count) and the learning rate are shared variables, so a
checkpoint can save them and a schedule can change the rate without recompiling.

>>> import mlc.compiler.tensor as T, numpy as np, mlc
>>> w = mlc.shared(np.zeros(3), name='w'); x = T.dvector('x')
>>> opt = SGD(lr=0.1, momentum=0.9)
>>> train = mlc.function([x], [], updates=opt.get_updates(((w - x) ** 2).sum(), [w]))
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..compiler import shared
from ..compiler import tensor as T
from ..compiler.config import config
from ..compiler.gradient import grad
from ..compiler.sharedvalue import SharedVariable


def clip_norm(grads: Sequence[Any], max_norm: float, epsilon: float = 1e-7) -> list:
    """Rescale ``grads`` so their joint L2 norm is at most ``max_norm`` (Lasagne's
    ``total_norm_constraint``)."""
    norm = T.sqrt(T.add(*[T.sum(g * g) for g in grads]))
    target = T.clip(norm, 0, max_norm)
    scale = target / (epsilon + norm)
    return [g * T.cast(scale, g.dtype) for g in grads]


class Optimizer:
    """Base class: holds the learning rate and the state variables it creates."""

    defaults: dict[str, float] = {}

    def __init__(self, lr: float, clipnorm: float | None = None, **hyper: float) -> None:
        self.lr = shared(np.asarray(lr, dtype=config.floatX), name="lr")
        self.clipnorm = clipnorm
        self.hyper = {k: float(hyper.get(k, v)) for k, v in self.defaults.items()}
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown arguments {sorted(unknown)}; "
                            f"valid: lr, clipnorm, {', '.join(self.defaults)}")
        self.state: list[SharedVariable] = []

    @property
    def learning_rate(self) -> float:
        return float(self.lr.get_value())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.lr.set_value(np.asarray(value, dtype=self.lr.dtype))

    def _slot(self, param: SharedVariable, kind: str, init: float = 0.0) -> SharedVariable:
        value = param.get_value(borrow=True)
        var = shared(np.full(value.shape, init, dtype=value.dtype), name=f"{param.name}/{kind}",
                     broadcastable=param.broadcastable)
        self.state.append(var)
        return var

    def _scalar_slot(self, name: str, value: float = 0.0) -> SharedVariable:
        var = shared(np.asarray(value, dtype=config.floatX), name=name)
        self.state.append(var)
        return var

    def get_updates(self, loss_or_grads: Any, params: Sequence[SharedVariable]) -> list[tuple]:
        """Updates for ``params`` given a scalar loss or a list of gradients."""
        params = list(params)
        if isinstance(loss_or_grads, (list, tuple)):
            grads = list(loss_or_grads)
            if len(grads) != len(params):
                raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
        else:
            grads = grad(loss_or_grads, params)
        if self.clipnorm:
            grads = clip_norm(grads, self.clipnorm)
        return self._updates(params, grads)

    def _updates(self, params: list, grads: list) -> list[tuple]:
        raise NotImplementedError

    def _lr(self, param: Any) -> Any:
        return T.cast(self.lr, param.dtype)

    def state_variables(self) -> list[SharedVariable]:
        """The learning rate and every state variable, for checkpoints."""
        return [self.lr] + self.state

    def get_config(self) -> dict:
        return {"class": type(self).__name__, "lr": self.learning_rate, "clipnorm": self.clipnorm, **self.hyper}


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    defaults = {"momentum": 0.0}

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 clipnorm: float | None = None) -> None:
        super().__init__(lr, clipnorm, momentum=momentum)
        self.nesterov = bool(nesterov)

    def _updates(self, params, grads):
        mu = self.hyper["momentum"]
        updates = []
        for p, g in zip(params, grads):
            step = p - self._lr(p) * g
            if not mu:
                updates.append((p, step))
                continue
            v = self._slot(p, "velocity")
            x = mu * v + step - p          # = mu v - lr g
            updates.append((v, x))
            updates.append((p, mu * x + step if self.nesterov else p + x))
        return updates

    def get_config(self) -> dict:
        return {**super().get_config(), "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """``accu += g²; p -= lr g / sqrt(accu + eps)``."""

    defaults = {"epsilon": 1e-6}

    def __init__(self, lr: float = 1.0, epsilon: float = 1e-6, clipnorm: float | None = None) -> None:
        super().__init__(lr, clipnorm, epsilon=epsilon)

    def _updates(self, params, grads):
        eps = self.hyper["epsilon"]
        updates = []
        for p, g in zip(params, grads):
            accu = self._slot(p, "accu")
            new = accu + g * g
            updates += [(accu, new), (p, p - self._lr(p) * g / T.sqrt(new + eps))]
        return updates


class RMSprop(Optimizer):
    """``accu = rho accu + (1 - rho) g²; p -= lr g / sqrt(accu + eps)``."""

    defaults = {"rho": 0.9, "epsilon": 1e-6}

    def __init__(self, lr: float = 1.0, rho: float = 0.9, epsilon: float = 1e-6, clipnorm: float | None = None) -> None:
        super().__init__(lr, clipnorm, rho=rho, epsilon=epsilon)

    def _updates(self, params, grads):
        rho, eps = self.hyper["rho"], self.hyper["epsilon"]
        updates = []
        for p, g in zip(params, grads):
            accu = self._slot(p, "accu")
            new = rho * accu + (1 - rho) * g * g
            updates += [(accu, new), (p, p - self._lr(p) * g / T.sqrt(new + eps))]
        return updates


class Adadelta(Optimizer):
    """Zeiler's Adadelta with Lasagne's defaults (lr 1, rho 0.95, eps 1e-6)."""

    defaults = {"rho": 0.95, "epsilon": 1e-6}

    def __init__(self, lr: float = 1.0, rho: float = 0.95, epsilon: float = 1e-6, clipnorm: float | None = None) -> None:
        super().__init__(lr, clipnorm, rho=rho, epsilon=epsilon)

    def _updates(self, params, grads):
        rho, eps = self.hyper["rho"], self.hyper["epsilon"]
        updates = []
        for p, g in zip(params, grads):
            accu, delta = self._slot(p, "accu"), self._slot(p, "delta_accu")
            accu_new = rho * accu + (1 - rho) * g * g
            step = g * T.sqrt(delta + eps) / T.sqrt(accu_new + eps)
            updates += [(accu, accu_new), (p, p - self._lr(p) * step),
                        (delta, rho * delta + (1 - rho) * step * step)]
        return updates


class Adam(Optimizer):
    """Adam with bias correction folded into the step size, as in Lasagne."""

    defaults = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 clipnorm: float | None = None) -> None:
        super().__init__(lr, clipnorm, beta1=beta1, beta2=beta2, epsilon=epsilon)

    def _updates(self, params, grads):
        b1, b2, eps = self.hyper["beta1"], self.hyper["beta2"], self.hyper["epsilon"]
        t_prev = self._scalar_slot("adam/t")
        t = t_prev + 1
        a_t = self.lr * T.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        updates = []
        for p, g in zip(params, grads):
            m, v = self._slot(p, "m"), self._slot(p, "v")
            m_t = b1 * m + (1 - b1) * g
            v_t = b2 * v + (1 - b2) * g * g
            updates += [(m, m_t), (v, v_t), (p, p - T.cast(a_t, p.dtype) * m_t / (T.sqrt(v_t) + eps))]
        updates.append((t_prev, t))
        return updates


OPTIMIZERS = {c.__name__: c for c in (SGD, Adagrad, RMSprop, Adadelta, Adam)}


def get(name: str, **kwargs: Any) -> Optimizer:
    """An optimizer by class name (case-insensitive): ``get('adam', lr=1e-3)``."""
    lookup = {k.lower(): v for k, v in OPTIMIZERS.items()}
    if name.lower() not in lookup:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return lookup[name.lower()](**kwargs)
