"""The two Theano tutorial programs, with only their imports changed."""
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
X_AND = np.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=theano.config.floatX)
Y_AND = np.asarray([0, 0, 0, 1], dtype=theano.config.floatX)


def test_add_example_prints_five():
    out = subprocess.run([sys.executable, str(EXAMPLES / "add_scalars.py")], capture_output=True, text=True)
    assert out.stdout.strip() == "5.0", out.stderr


def _build(w0):
    X, y = T.matrix("X"), T.vector("y")
    w = theano.shared(w0, name="w")
    b = theano.shared(0., name="b")
    p = T.nnet.sigmoid(T.dot(X, w) + b)
    prediction = p > 0.5
    xent = -y * T.log(p) - (1 - y) * T.log(1 - p)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function([X, y], [prediction, xent], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)],
                            allow_input_downcast=True)
    predict = theano.function([X], prediction, allow_input_downcast=True)
    cost_of = theano.function([X, y], cost, allow_input_downcast=True)
    return train, predict, cost_of, w, b


def _numpy_steps(w, b, steps):
    """The same model and update, written by hand."""
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X_AND @ w + b)))
        n = len(Y_AND)
        dlogit = (p - Y_AND) / n  # d mean(xent) / d logit
        gw = X_AND.T @ dlogit + 0.02 * w
        gb = dlogit.sum()
        w, b = w - 0.1 * gw, b - 0.1 * gb
    return w, b


@pytest.mark.parametrize("seed", range(20))
def test_logistic_regression_matches_numpy_for_100_steps(seed):
    w0 = np.random.RandomState(seed).randn(2)
    train, predict, cost_of, w, b = _build(w0)
    before = cost_of(X_AND, Y_AND)
    for _ in range(100):
        train(X_AND, Y_AND)
    w_ref, b_ref = _numpy_steps(w0.copy(), 0.0, 100)
    np.testing.assert_allclose(w.get_value(), w_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.get_value(), b_ref, rtol=1e-12, atol=1e-12)
    assert cost_of(X_AND, Y_AND) < before


@pytest.mark.parametrize("seed", range(10))
def test_logistic_regression_learns_and_after_1000_steps(seed):
    train, predict, _, _, _ = _build(np.random.RandomState(100 + seed).randn(2) * 2)
    for _ in range(1000):
        train(X_AND, Y_AND)
    assert predict(X_AND).astype(int).tolist() == [0, 0, 0, 1]


def test_logistic_regression_example_script(capsys):
    runpy.run_path(str(EXAMPLES / "logistic_regression_and.py"), run_name="__main__")
    assert "prediction on X: [0 0 0 1]" in capsys.readouterr().out


def test_logistic_regression_float32():
    with theano.config.change(floatX="float32"):
        X, y = T.matrix("X"), T.vector("y")
        w = theano.shared(np.zeros(2, dtype="float32"), name="w")
        p = T.nnet.sigmoid(T.dot(X, w))
        cost = (-y * T.log(p) - (1 - y) * T.log(1 - p)).mean()
        train = theano.function([X, y], cost, updates=[(w, w - 0.1 * T.grad(cost, w))], allow_input_downcast=True)
        assert train(X_AND, Y_AND).dtype == np.float32
        assert w.get_value().dtype == np.float32


def test_training_examples_run(tmp_path):
    for script in ("train_digits.py", "train_digits_symbolic.py"):
        out = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    assert "test error" in out.stdout
    pred = subprocess.run([sys.executable, str(EXAMPLES / "predict_saved_model.py"),
                           str(tmp_path / "runs" / "example-digits" / "best.h5")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    assert float(pred.stdout.split("accuracy:")[1]) >= 0.95


@pytest.mark.parametrize("script", ["tutorial_loops.py", "tutorial_conditions_and_debugging.py", "rbm_digits.py",
                                    "denoising_autoencoder.py"])
def test_tutorial_style_examples_run_and_check_themselves(script):
    """Loops, conditions, debugging, profiling, and the MRG + scan models: each asserts its own results."""
    out = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
