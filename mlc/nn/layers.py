"""Layers. A layer owns its shared parameters (tagged trainable / regularizable), maps a
symbolic input to a symbolic output, and is rebuilt from its JSON-able ``get_config()``.

>>> import mlc.compiler.tensor as T
>>> model = MLP(n_in=64, hidden=[100], n_out=10, seed=0)
>>> x = T.matrix('x'); p = model(x)         # class probabilities
>>> cfg = model.get_config(); clone = from_config(cfg)
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..compiler import shared
from ..compiler import tensor as T
from ..compiler.sharedvalue import SharedVariable
from ..compiler.tensor.shared_randomstreams import RandomStreams
from . import init as initializers

ACTIVATIONS: dict[str, Callable] = {
    "linear": lambda x: x, "tanh": T.tanh, "sigmoid": T.nnet.sigmoid, "relu": T.nnet.relu,
    "softmax": T.nnet.softmax, "softplus": T.nnet.softplus, "elu": T.nnet.elu,
}
LAYERS: dict[str, type] = {}


def activation(name: str | None) -> Callable:
    """The activation function called ``name`` (None: linear)."""
    name = name or "linear"
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class Layer:
    """Base of all layers and models."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYERS[cls.__name__] = cls

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.params: list[SharedVariable] = []
        self._tags: dict[int, set[str]] = {}

    def add_param(self, value: np.ndarray, name: str, trainable: bool = True,
                  regularizable: bool = True) -> SharedVariable:
        """Create a shared parameter owned by this layer."""
        full = f"{self.name}.{name}" if self.name else name
        param = shared(value, name=full, borrow=True)
        self.params.append(param)
        self._tags[id(param)] = {t for t, on in (("trainable", trainable), ("regularizable", regularizable)) if on}
        return param

    def sublayers(self) -> list["Layer"]:
        """Every layer nested in this one, flattened."""
        return []

    def get_params(self, trainable: bool | None = None, regularizable: bool | None = None) -> list[SharedVariable]:
        """Parameters of this layer and its sublayers, filtered by tag when asked."""
        result: dict[int, SharedVariable] = {}
        for layer in [self] + self.sublayers():
            for p in layer.params:
                tags = layer._tags[id(p)]
                if trainable is not None and ("trainable" in tags) != trainable:
                    continue
                if regularizable is not None and ("regularizable" in tags) != regularizable:
                    continue
                result.setdefault(id(p), p)
        return list(result.values())

    def own_state(self) -> list[SharedVariable]:
        return []

    def updates(self) -> list[tuple]:
        """Shared-variable updates this layer's last training call made (running averages)."""
        return []

    def collect_updates(self) -> list[tuple]:
        """The ``updates()`` of this layer and every sublayer, for the train function."""
        seen, result = set(), []
        for layer in [self] + self.sublayers():
            for var, value in layer.updates():
                if id(var) not in seen:
                    seen.add(id(var))
                    result.append((var, value))
        return result

    def state_variables(self) -> list[SharedVariable]:
        """Non-parameter state (random generators) that a checkpoint must save."""
        result = {id(v): v for layer in [self] + self.sublayers() for v in layer.own_state()}
        return list(result.values())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all parameter values, in ``get_params()`` order."""
        return [p.get_value() for p in self.get_params()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Set all parameters; shapes must match ``get_weights()``."""
        params = self.get_params()
        if len(weights) != len(params):
            raise ValueError(f"set_weights: expected {len(params)} arrays, got {len(weights)}")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != p.get_value(borrow=True).shape:
                raise ValueError(f"set_weights: {p.name} has shape {p.get_value(borrow=True).shape}, got {w.shape}")
            p.set_value(w.astype(p.dtype, copy=False))

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        config = dict(config)
        config.pop("class", None)
        return cls(**config)

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        raise NotImplementedError


def from_config(config: dict) -> Layer:
    """Rebuild any layer or model from ``get_config()`` output."""
    name = config.get("class")
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; valid: {', '.join(sorted(LAYERS))}")
    return LAYERS[name].from_config(config)


class Dense(Layer):
    """``activation(dot(x, W) + b)``. Sigmoid layers get Glorot gain 4, as in the Theano tutorial."""

    def __init__(self, n_in: int, n_out: int, activation: str | None = "linear", W_init: Any = "glorot_uniform",
                 b_init: Any = "zeros", seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.n_in, self.n_out, self.activation = int(n_in), int(n_out), activation or "linear"
        self.W_init, self.b_init, self.seed = W_init, b_init, seed
        self._fn = globals()["activation"](self.activation)
        rng = np.random.default_rng(seed)
        w_init = initializers.get(W_init)
        kwargs = {"gain": 4.0} if self.activation == "sigmoid" and W_init == "glorot_uniform" else {}
        self.W = self.add_param(w_init((self.n_in, self.n_out), rng, **kwargs), "W")
        self.b = self.add_param(initializers.get(b_init)((self.n_out,), rng), "b", regularizable=False)

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        return self._fn(T.dot(x, self.W) + self.b)

    def get_config(self) -> dict:
        return {"class": "Dense", "n_in": self.n_in, "n_out": self.n_out, "activation": self.activation,
                "W_init": _jsonable(self.W_init), "b_init": _jsonable(self.b_init), "seed": self.seed,
                "name": self.name}


def _jsonable(spec: Any) -> Any:
    return spec if isinstance(spec, (str, dict)) else getattr(spec, "__name__", str(spec))


class Dropout(Layer):
    """Zero each input with probability ``p`` and scale the rest by 1/(1-p); the identity
    when ``deterministic=True`` (evaluation)."""

    def __init__(self, p: float = 0.5, seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p, self.seed = float(p), seed
        self.srng = RandomStreams(seed if seed is not None else 0)
        self._rngs: list[SharedVariable] = []

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        if deterministic or self.p == 0:
            return x
        x = T.as_tensor_variable(x)
        before = len(self.srng.state_updates)
        mask = self.srng.binomial(size=x.shape, p=1 - self.p, dtype=x.dtype)
        self._rngs.extend(v for v, _ in self.srng.state_updates[before:])
        return x * mask / np.asarray(1 - self.p, dtype=x.dtype)

    def own_state(self) -> list[SharedVariable]:
        return list(self._rngs)

    def get_config(self) -> dict:
        return {"class": "Dropout", "p": self.p, "seed": self.seed, "name": self.name}


class Sequential(Layer):
    """Layers applied one after another. ``input_shape`` (e.g. ``(1, 28, 28)``): each input
    row is first reshaped to it (images from flat rows)."""

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.layers = list(layers)
        self.input_shape = [int(s) for s in input_shape] if input_shape else None
        if self.input_shape:
            self.n_in = int(np.prod(self.input_shape))
        out = next((getattr(layer, "n_out", None) for layer in reversed(self.layers) if hasattr(layer, "n_out")), None)
        if out is not None:
            self.n_out = out

    def sublayers(self) -> list[Layer]:
        return [s for layer in self.layers for s in [layer] + layer.sublayers()]

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        if self.input_shape:
            x = T.as_tensor_variable(x)
            x = T.reshape(x, [x.shape[0], *self.input_shape])
        for layer in self.layers:
            x = layer(x, deterministic=deterministic)
        return x

    def get_config(self) -> dict:
        return {"class": "Sequential", "layers": [layer.get_config() for layer in self.layers],
                "input_shape": self.input_shape, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        return cls([from_config(c) for c in config["layers"]], config.get("input_shape"), name=config.get("name"))


class LogisticRegression(Layer):
    """Multi-class logistic regression, as in the Theano tutorial: after ``model(x)`` (or
    ``input=x``), ``p_y_given_x``, ``y_pred``, ``negative_log_likelihood(y)`` and ``errors(y)``."""

    def __init__(self, n_in: int, n_out: int, input: Any = None, W_init: Any = "zeros", b_init: Any = "zeros",
                 seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.dense = Dense(n_in, n_out, "linear", W_init, b_init, seed, name=name)
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.W, self.b = self.dense.W, self.dense.b
        if input is not None:
            self(input)

    def sublayers(self) -> list[Layer]:
        return [self.dense]

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        self.input = x
        self.logits = self.dense(x)
        self.p_y_given_x = T.nnet.softmax(self.logits)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        return self.p_y_given_x

    def negative_log_likelihood(self, y: Any) -> Any:
        """Mean negative log-probability of the labels ``y`` (computed from the logits)."""
        log_p = T.nnet.log_softmax(self.logits)
        return -T.mean(log_p[T.arange(y.shape[0]), y])

    def errors(self, y: Any) -> Any:
        """The fraction of examples misclassified."""
        if y.ndim != self.y_pred.ndim:
            raise TypeError(f"errors: y should have ndim {self.y_pred.ndim} like y_pred, got {y.ndim}")
        if not y.dtype.startswith(("int", "uint")):
            raise TypeError(f"errors: y must hold integer labels, got dtype {y.dtype}")
        return T.mean(T.neq(self.y_pred, y))

    def get_config(self) -> dict:
        d = self.dense
        return {"class": "LogisticRegression", "n_in": self.n_in, "n_out": self.n_out,
                "W_init": _jsonable(d.W_init), "b_init": _jsonable(d.b_init), "seed": d.seed, "name": self.name}


class MLP(LogisticRegression):
    """Hidden ``Dense`` layers then a ``LogisticRegression`` output, as in the Theano tutorial
    (``L1`` and ``L2_sqr`` as attributes too). ``dropout`` > 0 adds Dropout after each hidden layer."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, activation: str = "tanh", input: Any = None,
                 dropout: float = 0.0, W_init: Any = "glorot_uniform", seed: int | None = None,
                 name: str | None = None) -> None:
        Layer.__init__(self, name)
        self.n_in, self.n_out, self.hidden = int(n_in), int(n_out), [int(h) for h in hidden]
        self.activation, self.dropout, self.W_init, self.seed = activation, float(dropout), W_init, seed
        seeds = np.random.SeedSequence(seed).generate_state(len(self.hidden) + 2)
        layers: list[Layer] = []
        sizes = [self.n_in] + self.hidden
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Dense(a, b, activation, W_init, "zeros", int(seeds[k]), name=f"hidden{k}"))
            if self.dropout:
                layers.append(Dropout(self.dropout, seed=int(seeds[-1]) + k, name=f"dropout{k}"))
        self.hidden_layers = Sequential(layers)
        self.output_layer = LogisticRegression(sizes[-1], self.n_out, seed=int(seeds[-2]), name="output")
        self.dense = self.output_layer.dense
        self.W, self.b = self.output_layer.W, self.output_layer.b
        weights = [layer.W for layer in layers if isinstance(layer, Dense)] + [self.W]
        self.L1 = T.add(*[abs(W).sum() for W in weights])
        self.L2_sqr = T.add(*[(W ** 2).sum() for W in weights])
        if input is not None:
            self(input)

    def sublayers(self) -> list[Layer]:
        return [self.hidden_layers] + self.hidden_layers.sublayers() + [self.output_layer, self.dense]

    def __call__(self, x: Any, deterministic: bool = False) -> Any:
        out = self.output_layer(self.hidden_layers(x, deterministic), deterministic)
        self.input = x
        self.logits, self.p_y_given_x, self.y_pred = (self.output_layer.logits, self.output_layer.p_y_given_x,
                                                      self.output_layer.y_pred)
        return out

    def get_config(self) -> dict:
        return {"class": "MLP", "n_in": self.n_in, "hidden": self.hidden, "n_out": self.n_out,
                "activation": self.activation, "dropout": self.dropout, "W_init": _jsonable(self.W_init),
                "seed": self.seed, "name": self.name}
