"""The Theano tutorial's MLP, in a dozen lines of this API, on scikit-learn's digits."""
import numpy as np
import pytest

import mlc
import mlc.compiler.tensor as T
from mlc import nn


def test_mlp_digits_reaches_95_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X, Y = (digits.data / 16.0).astype(mlc.config.floatX), digits.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(X))
    X, Y = X[order], Y[order]
    X_train, Y_train, X_test, Y_test = X[:1400], Y[:1400], X[1400:], Y[1400:]

    x, y = T.matrix("x"), T.lvector("y")
    model = nn.MLP(64, [100], 10, activation="tanh", seed=1234)
    cost = nn.losses.negative_log_likelihood(model(x), y) + nn.regularizers.l2(model, 1e-4)
    train = mlc.function([x, y], cost, updates=nn.SGD(lr=0.1).get_updates(cost, model.get_params(trainable=True)))
    accuracy = mlc.function([x, y], nn.metrics.accuracy(model(x, deterministic=True), y))
    for epoch in range(30):
        for i in range(0, len(X_train), 20):
            train(X_train[i:i + 20], Y_train[i:i + 20])
    assert accuracy(X_test, Y_test) >= 0.95
