"""CNN layers: configs and weights round-trip, batch norm's running averages (applied by the
Trainer, used at evaluation), a Sequential from [[model.layers]] TOML trained by mlc-train
on the digits as 8x8 images, saved and loaded for prediction."""
import json
import subprocess
import sys

import numpy as np
import pytest

import mlc
import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn
from mlc.train import Trainer, load_dataset


def _cnn(seed=0):
    return nn.Sequential([nn.Conv2D(1, 4, 3, border_mode="half", seed=seed), nn.BatchNorm(4, activation="relu"),
                          nn.MaxPool2D(2), nn.Conv2D(4, 6, 3, seed=seed + 1), nn.GlobalAvgPool(),
                          nn.Dense(6, 10, "softmax", seed=seed + 2)], input_shape=(1, 8, 8))


def test_configs_and_weights_round_trip():
    model = _cnn()
    clone = nn.from_config(json.loads(json.dumps(model.get_config())))
    clone.set_weights(model.get_weights())
    x = T.matrix("x")
    data = np.random.default_rng(0).random((5, 64)).astype(theano.config.floatX)
    np.testing.assert_allclose(theano.function([x], clone(x, deterministic=True))(data),
                               theano.function([x], model(x, deterministic=True))(data), rtol=1e-12)
    assert [type(layer).__name__ for layer in clone.layers] == ["Conv2D", "BatchNorm", "MaxPool2D", "Conv2D",
                                                                "GlobalAvgPool", "Dense"]
    for layer in (nn.AvgPool2D(3, stride=2, pad=1), nn.Flatten()):
        assert nn.from_config(layer.get_config()).get_config() == layer.get_config()


def test_conv2d_layer_is_cross_correlation_with_bias_and_activation():
    layer = nn.Conv2D(2, 3, (2, 3), stride=(1, 2), activation="relu", seed=1)
    x = np.random.default_rng(1).normal(size=(2, 2, 5, 7))
    xs = T.tensor4("x", dtype=theano.config.floatX)
    got = theano.function([xs], layer(xs))(x.astype(theano.config.floatX))
    W, b = layer.W.get_value(), layer.b.get_value()
    want = np.zeros((2, 3, 4, 3))
    for i in range(4):
        for j in range(3):
            patch = x[:, :, i:i + 2, 2 * j:2 * j + 3]
            want[:, :, i, j] = np.einsum("nchw,ochw->no", patch, W) + b
    np.testing.assert_allclose(got, np.maximum(want, 0), rtol=1e-5, atol=1e-6)


def test_batch_norm_running_averages_move_in_training_and_serve_evaluation():
    splits = load_dataset("digits")
    train, test = splits["train"], splits["test"]
    train.X, test.X = (train.X / 16).astype(theano.config.floatX), (test.X / 16).astype(theano.config.floatX)
    model = _cnn(3)
    bn_layer = model.layers[1]
    trainer = Trainer(model, "negative_log_likelihood", nn.Adam(lr=0.02), batch_size=32, epochs=6, verbose=False)
    trainer.fit(train)
    mean, var = bn_layer.mean.get_value(), bn_layer.var.get_value()
    assert np.abs(mean).sum() > 0 and not np.allclose(var, 1.0)  # updated by the train step
    x = T.matrix("x")
    batch = train.X[:32]
    evaluate, training = theano.function([x], model(x, deterministic=True)), theano.function([x], model(x))
    before_eval, before_train = evaluate(batch), training(batch)
    bn_layer.mean.set_value(mean + 1.0)
    assert not np.allclose(evaluate(batch), before_eval)  # evaluation reads the running averages
    np.testing.assert_allclose(training(batch), before_train, rtol=1e-5)  # training uses the batch's statistics
    bn_layer.mean.set_value(mean)
    assert trainer.evaluate(test)["accuracy"] > 0.5


TOML = """
seed = 7
floatX = "float32"
[data]
dataset = "digits"
[model]
type = "Sequential"
input_shape = [1, 8, 8]
[[model.layers]]
class = "Conv2D"
n_in = 1
n_filters = 8
filter_size = 3
border_mode = "half"
[[model.layers]]
class = "BatchNorm"
n_features = 8
activation = "relu"
[[model.layers]]
class = "MaxPool2D"
pool_size = 2
[[model.layers]]
class = "Flatten"
[[model.layers]]
class = "Dense"
n_in = 128
n_out = 10
activation = "softmax"
[train]
epochs = 4
batch_size = 32
[optimizer]
name = "Adam"
lr = 0.005
"""


def test_a_cnn_from_toml_layers_trains_saves_and_predicts(tmp_path):
    (tmp_path / "cnn.toml").write_text(TOML)
    code = "import sys; from mlc.train.cli import train_main as m; sys.exit(m(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code, tmp_path / "cnn.toml", "--out", tmp_path / "run", "--quiet"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "run" / "results.json").read_text())["test_accuracy"] >= 0.9
    assert "[[model.layers]]" in (tmp_path / "run" / "config.toml").read_text()
    model = mlc.load_model(tmp_path / "run" / "best.h5")
    test = load_dataset("digits")["test"]
    assert (model.predict(test.X) == test.y).mean() >= 0.9


def test_bad_layer_tables_are_named(tmp_path):
    from mlc.train import cli, config as cfgmod
    with pytest.raises(cfgmod.ConfigError, match=r"model.layers\[0\]: unknown layer class 'Conv3D'"):
        cli.build_model({"type": "Sequential", "layers": [{"class": "Conv3D"}]}, 64, 10, 0)
    with pytest.raises(cfgmod.ConfigError, match=r"model.layers\[0\] \(Conv2D\) does not take kernel"):
        cli.build_model({"type": "Sequential", "layers": [{"class": "Conv2D", "n_in": 1, "n_filters": 2,
                                                           "kernel": 3}]}, 64, 10, 0)
    with pytest.raises(cfgmod.ConfigError, match="input_shape"):
        cli.build_model({"type": "Sequential", "input_shape": [1, 9, 9], "layers": [{"class": "Flatten"}]}, 64, 10, 0)
