"""The same model the Theano-tutorial way: data in shared variables, a minibatch index,
givens, and SGD updates written by hand."""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn
from mlc.train import load_dataset

splits = load_dataset("digits")
floatX = theano.config.floatX


def shared_dataset(data):
    X = theano.shared(np.asarray(data.X / 16.0, dtype=floatX), borrow=True)
    y = theano.shared(np.asarray(data.y, dtype="int64"), borrow=True)
    return X, y


train_X, train_y = shared_dataset(splits["train"])
test_X, test_y = shared_dataset(splits["test"])
batch_size, learning_rate, L2_reg = 20, 0.1, 1e-4
n_train_batches = len(splits["train"].X) // batch_size

index = T.lscalar("index")
x, y = T.matrix("x"), T.lvector("y")
classifier = nn.MLP(n_in=64, hidden=[100], n_out=10, activation="tanh", input=x, seed=1234)
cost = classifier.negative_log_likelihood(y) + L2_reg * classifier.L2_sqr
params = classifier.get_params(trainable=True)
gparams = T.grad(cost, params)
updates = [(p, p - learning_rate * g) for p, g in zip(params, gparams)]

train_model = theano.function([index], cost, updates=updates, givens={
    x: train_X[index * batch_size:(index + 1) * batch_size],
    y: train_y[index * batch_size:(index + 1) * batch_size]})
test_model = theano.function([], classifier.errors(y), givens={x: test_X, y: test_y})

for epoch in range(30):
    costs = [train_model(i) for i in range(n_train_batches)]
    print(f"epoch {epoch + 1}: cost {np.mean(costs):.4f}  test error {float(test_model()) * 100:.2f}%")
