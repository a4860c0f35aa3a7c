"""A denoising autoencoder on the shipped digits: inputs corrupted by MRG binomial noise,
tied weights, cross-entropy reconstruction; prints the cost per epoch, which falls.
Run: python examples/denoising_autoencoder.py"""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.sandbox.rng_mrg import MRG_RandomStreams
from mlc.train import load_dataset


def main(epochs: int = 10, n_hidden: int = 32, corruption: float = 0.3, lr: float = 0.1, batch: int = 20) -> list:
    data = load_dataset("digits")["train"].X
    data = (data / data.max()).astype(theano.config.floatX)
    n_visible = data.shape[1]
    rng = np.random.default_rng(89677)
    bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
    W = theano.shared(rng.uniform(-bound, bound, (n_visible, n_hidden)).astype(theano.config.floatX), "W")
    b = theano.shared(np.zeros(n_hidden, theano.config.floatX), "b")
    b_prime = theano.shared(np.zeros(n_visible, theano.config.floatX), "b_prime")
    srng = MRG_RandomStreams(seed=2 ** 30)
    x = T.matrix("x")
    corrupted = srng.binomial(size=x.shape, n=1, p=1 - corruption, dtype=theano.config.floatX) * x
    hidden = T.nnet.sigmoid(T.dot(corrupted, W) + b)
    z = T.nnet.sigmoid(T.dot(hidden, W.T) + b_prime)
    cost = T.mean(-T.sum(x * T.log(z) + (1 - x) * T.log(1 - z), axis=1))
    params = [W, b, b_prime]
    train = theano.function([x], cost, updates=[(p, p - lr * g) for p, g in zip(params, T.grad(cost, params))])
    history = []
    for epoch in range(epochs):
        history.append(float(np.mean([train(data[i:i + batch]) for i in range(0, len(data), batch)])))
        print(f"epoch {epoch + 1}: reconstruction cost {history[-1]:.3f}")
    return history


if __name__ == "__main__":
    history = main()
    assert history[-1] < history[0], history
