"""Recurrent layers: forward against NumPy loops, gradients by finite differences, the loss
of an Elman RNN and an LSTM falling on sequence parity, and the LSTM classifier from a TOML
config through mlc-train, mlc-predict and a fresh process's load_model."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlc
import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn
from mlc.compiler.scan_module.op import Scan

ROOT = Path(__file__).resolve().parents[2]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _numpy_reference(layer, x):
    W, U, b = (p.get_value() for p in (layer.W, layer.U, layer.b))
    n = layer.n_hidden
    h, c = np.zeros((x.shape[0], n)), np.zeros((x.shape[0], n))
    states = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W + b
        if isinstance(layer, nn.LSTM):
            z = z + h @ U
            i, f, o = _sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n]), _sigmoid(z[:, 2 * n:3 * n])
            c = f * c + i * np.tanh(z[:, 3 * n:])
            h = o * np.tanh(c)
        elif isinstance(layer, nn.GRU):
            zr = _sigmoid(z[:, :2 * n] + h @ U[:, :2 * n])
            u, r = zr[:, :n], zr[:, n:]
            h = (1 - u) * h + u * np.tanh(z[:, 2 * n:] + (r * h) @ U[:, 2 * n:])
        else:
            h = np.tanh(z + h @ U)
        states.append(h)
    return np.stack(states, axis=1)


@pytest.mark.parametrize("cls", [nn.SimpleRNN, nn.LSTM, nn.GRU])
def test_forward_equals_a_numpy_loop(rng, cls):
    with theano.config.change(floatX="float64"):
        layer = cls(3, 4, return_sequences=True, seed=1)
    x, xs = rng.normal(size=(2, 5, 3)), T.dtensor3("x")
    np.testing.assert_allclose(theano.function([xs], layer(xs))(x), _numpy_reference(layer, x), rtol=1e-12, atol=1e-12)
    clone = nn.from_config(layer.get_config())
    assert type(clone) is cls and clone.get_config() == layer.get_config()


@pytest.mark.parametrize("cls", [nn.SimpleRNN, nn.LSTM, nn.GRU])
def test_gradients_wrt_input_and_weights_pass_verify_grad(rng, cls):
    with theano.config.change(floatX="float64"):
        layer = cls(2, 3, seed=2)
    W, U, b = (p.get_value() for p in (layer.W, layer.U, layer.b))

    def through(x, W_, U_, b_):
        replaced = theano.clone(layer(x), replace={layer.W: W_, layer.U: U_, layer.b: b_})
        return replaced
    theano.gradient.verify_grad(through, [rng.normal(size=(2, 4, 2)), W, U, b], rng=rng)


def test_the_lstm_step_runs_through_c_kernels():
    layer = nn.LSTM(4, 8, seed=0)
    x = T.tensor3("x")
    f = theano.function([x], layer(x))
    scan_op = next(n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan))
    inner = [type(n.op).__name__ for n in scan_op.compiled().function.maker.fgraph.toposort()]
    assert "Gemm" in inner and "Elemwise" in inner  # the recurrent product (plus the projection) and the gates
    assert "Composite" in theano.printing.debugprint(f, file="str").split("Inner graphs:")[1]


def _parity(n, steps, seed):
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, steps))
    return bits.astype(theano.config.floatX)[:, :, None], (bits.sum(axis=1) % 2).astype("int64")


@pytest.mark.parametrize("cell", ["RNN", "LSTM"])
def test_loss_falls_on_sequence_parity(cell):
    X, y = _parity(256, 4, 0)
    model = nn.RecurrentClassifier(4, [16], 2, cell=cell, steps=4, seed=3)
    x, labels = T.matrix("x"), T.lvector("y")
    p = model(x)
    cost = nn.losses.negative_log_likelihood(p, labels)
    optimizer = nn.Adam(lr=0.02)
    step = theano.function([x, labels], cost, updates=optimizer.get_updates(cost, model.get_params()))
    flat = X.reshape(len(X), -1)
    losses = [float(np.mean([step(flat[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)])) for _ in range(40)]
    assert losses[-1] < 0.5 * losses[0], losses[::5]


def test_lstm_digits_config_trains_predicts_and_loads(tmp_path):
    run = tmp_path / "run"
    code = "import sys; from mlc.train.cli import {}_main as m; sys.exit(m(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code.format("train"), ROOT / "configs" / "lstm_digits.toml", "--out",
                          run, "--set", "train.epochs=6", "--quiet"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((run / "results.json").read_text())["test_accuracy"] >= 0.85
    model = mlc.load_model(run / "best.h5")
    from mlc.train.data import load_dataset
    test = load_dataset("digits")["test"]
    assert (model.predict(test.X) == test.y).mean() >= 0.85
