import json

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn


def _outputs(model, X, deterministic=True):
    x = T.matrix("x")
    return theano.function([x], model(x, deterministic=deterministic))(X)


@pytest.mark.parametrize("model", [
    lambda: nn.Dense(5, 3, "relu", seed=1),
    lambda: nn.LogisticRegression(5, 3, W_init="glorot_uniform", seed=2),
    lambda: nn.MLP(5, [7, 6], 3, activation="sigmoid", seed=3),
    lambda: nn.Sequential([nn.Dense(5, 8, "tanh", seed=4), nn.Dropout(0.3, seed=1), nn.Dense(8, 3, "softmax", seed=5)]),
])
def test_config_json_roundtrip_gives_same_outputs(model, rng):
    m = model()
    m.set_weights([w + rng.normal(size=w.shape) for w in m.get_weights()])  # not the initial weights
    clone = nn.from_config(json.loads(json.dumps(m.get_config())))
    clone.set_weights(m.get_weights())
    X = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(_outputs(m, X), _outputs(clone, X))
    assert clone.get_config() == m.get_config()


def test_dense_matches_numpy_and_tags(rng):
    layer = nn.Dense(4, 3, "tanh", seed=0)
    X = rng.normal(size=(2, 4))
    W, b = layer.get_weights()
    np.testing.assert_allclose(_outputs(layer, X), np.tanh(X @ W + b))
    assert layer.get_params(regularizable=True) == [layer.W]
    assert layer.get_params(trainable=True) == [layer.W, layer.b]


def test_theano_tutorial_logistic_regression_interface(rng):
    x, y = T.matrix("x"), T.lvector("y")
    clf = nn.LogisticRegression(input=x, n_in=4, n_out=3)
    f = theano.function([x, y], [clf.p_y_given_x, clf.y_pred, clf.negative_log_likelihood(y), clf.errors(y)])
    X, Y = rng.normal(size=(5, 4)), np.array([0, 1, 2, 0, 1])
    p, pred, nll, err = f(X, Y)
    np.testing.assert_allclose(p, np.full((5, 3), 1 / 3))
    np.testing.assert_allclose(nll, np.log(3))
    with pytest.raises(TypeError, match="ndim"):
        clf.errors(T.lmatrix())


def test_mlp_has_tutorial_attributes():
    mlp = nn.MLP(4, [5], 3, seed=0)
    mlp(T.matrix())
    f = theano.function([], [mlp.L1, mlp.L2_sqr])
    l1, l2 = f()
    Ws = [p.get_value() for p in mlp.get_params(regularizable=True)]
    np.testing.assert_allclose(l1, sum(np.abs(W).sum() for W in Ws))
    np.testing.assert_allclose(l2, sum((W ** 2).sum() for W in Ws))


def test_dropout_train_and_eval(rng):
    layer = nn.Dropout(0.25, seed=0)
    X = np.ones((200, 100))
    np.testing.assert_array_equal(_outputs(layer, X, deterministic=True), X)
    out = _outputs(layer, X, deterministic=False)
    assert set(np.unique(out)) <= {0.0, 1 / 0.75}
    assert abs((out == 0).mean() - 0.25) < 0.02
    assert layer.state_variables()


def test_set_weights_checks_shapes():
    layer = nn.Dense(4, 3)
    with pytest.raises(ValueError, match="W has shape"):
        layer.set_weights([np.zeros((3, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="unknown activation"):
        nn.Dense(2, 2, "swishy")
    with pytest.raises(ValueError, match="unknown layer class"):
        nn.from_config({"class": "Conv9D"})
