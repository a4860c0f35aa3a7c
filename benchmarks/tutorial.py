"""The Deep Learning Tutorials' training loops (``logistic_sgd.py``, ``mlp.py``) written the
way they are: data in shared variables, a minibatch index, ``givens`` slicing the data, SGD
updates by hand, and the validation error after each epoch, all on Fashion-MNIST (MNIST's
shape). The same code runs on mlc and on PyTensor; epochs per second are what the tutorials'
users see, and for batches of 20 the per-call cost of a compiled function weighs as much as
the arithmetic."""
from __future__ import annotations

import numpy as np

import peers
import products


def _tutorial_epoch(theano, T, softmax, data, hidden, batch_size, lr, l2):
    """One training epoch plus the validation pass of the tutorial's model (``hidden``
    units with tanh, or logistic regression when ``hidden`` is 0); returns a callable."""
    floatX = "float32"
    (train_x, train_y), (valid_x, valid_y) = data
    shared = [theano.shared(np.asarray(a, dtype=d), borrow=True)
              for a, d in ((train_x, floatX), (train_y, "int64"), (valid_x, floatX), (valid_y, "int64"))]
    tx, ty, vx, vy = shared
    rng = np.random.default_rng(1234)
    index, x, y = T.lscalar(), T.matrix("x", dtype=floatX), T.lvector("y")
    params, layer_in, n_in = [], x, 784
    if hidden:
        bound = np.sqrt(6.0 / (784 + hidden))
        W = theano.shared(rng.uniform(-bound, bound, (784, hidden)).astype(floatX))
        b = theano.shared(np.zeros(hidden, floatX))
        params += [W, b]
        layer_in, n_in = T.tanh(T.dot(x, W) + b), hidden
    W_out = theano.shared(np.zeros((n_in, 10), floatX))
    b_out = theano.shared(np.zeros(10, floatX))
    params += [W_out, b_out]
    p_y = softmax(T.dot(layer_in, W_out) + b_out)
    nll = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    cost = nll + np.float32(l2) * sum((p ** 2).sum() for p in params[::2])
    updates = [(p, p - np.float32(lr) * g) for p, g in zip(params, T.grad(cost, params))]
    window = slice(index * batch_size, (index + 1) * batch_size)
    train = theano.function([index], cost, updates=updates, givens={x: tx[window], y: ty[window]})
    errors = T.mean(T.neq(T.argmax(p_y, axis=1), y))
    validate = theano.function([index], errors, givens={x: vx[window], y: vy[window]})
    n_train, n_valid = len(train_x) // batch_size, len(valid_x) // batch_size

    def epoch():
        for i in range(n_train):
            train(i)
        return np.mean([validate(i) for i in range(n_valid)])
    return epoch


def _products_epoch(data, hidden, batch_size):
    """The epoch's matrix products alone, on the same windows of the same data."""
    (train_x, _), (valid_x, _) = data
    W1, W2 = products.weights(hidden)

    def epoch():
        for i in range(len(train_x) // batch_size):
            products.step(train_x[i * batch_size:(i + 1) * batch_size], W1, W2)
        for i in range(len(valid_x) // batch_size):
            products.forward(valid_x[i * batch_size:(i + 1) * batch_size], W1, W2)
    return epoch


def _data():
    from mlc.train import load_dataset
    from mlc.train.data import DataError
    try:
        splits = load_dataset("fashion-mnist")
    except DataError as err:
        return None, str(err).split(";")[0]
    train, test = splits["train"], splits["test"]
    scale = lambda a: (a.reshape(len(a), -1) / 255.0).astype("float32")
    return ((scale(train.X[:50000]), train.y[:50000]), (scale(test.X), test.y)), None


def _runs(name, hidden, batch_size, lr, l2):
    def run(timer):
        data, skipped = _data()
        if data is None:
            return {"info:skipped": skipped}
        import mlc.compiler as theano
        import mlc.compiler.tensor as T
        fns = {"mlc": _tutorial_epoch(theano, T, T.nnet.softmax, data, hidden, batch_size, lr, l2),
               "products alone (numpy)": _products_epoch(data, hidden, batch_size)}
        if (p := peers.pytensor()):
            pt, ptt = p
            fns["pytensor"] = _tutorial_epoch(pt, ptt, lambda z: ptt.special.softmax(z, axis=-1), data,
                                              hidden, batch_size, lr, l2)
        return timer.together(fns, 1)
    return run


logistic_sgd = _runs("logistic_sgd", 0, 600, 0.13, 0.0)
mlp = _runs("mlp", 500, 20, 0.01, 1e-4)
