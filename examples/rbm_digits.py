"""A restricted Boltzmann machine on the shipped digits (binarized), trained by contrastive
divergence: the Gibbs chain is a scan whose steps draw from MRG random streams, and the
gradient treats the chain's end as a constant. Prints the reconstruction cross-entropy per
epoch, which falls. Run: python examples/rbm_digits.py"""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.sandbox.rng_mrg import MRG_RandomStreams
from mlc.train import load_dataset


def main(epochs: int = 5, n_hidden: int = 64, k: int = 1, lr: float = 0.1, batch: int = 20) -> list[float]:
    data = load_dataset("digits")["train"].X
    data = (data / data.max() > 0.5).astype(theano.config.floatX)
    n_visible = data.shape[1]
    rng = np.random.default_rng(123)
    bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
    W = theano.shared(rng.uniform(-bound, bound, (n_visible, n_hidden)).astype(theano.config.floatX), "W")
    hbias = theano.shared(np.zeros(n_hidden, theano.config.floatX), "hbias")
    vbias = theano.shared(np.zeros(n_visible, theano.config.floatX), "vbias")
    srng = MRG_RandomStreams(seed=234)

    def free_energy(v):
        return -T.dot(v, vbias) - T.nnet.softplus(T.dot(v, W) + hbias).sum(axis=1)

    def gibbs_hvh(h):
        v_mean = T.nnet.sigmoid(T.dot(h, W.T) + vbias)
        v = srng.binomial(size=v_mean.shape, n=1, p=v_mean, dtype=theano.config.floatX)
        h_mean = T.nnet.sigmoid(T.dot(v, W) + hbias)
        return v_mean, v, h_mean, srng.binomial(size=h_mean.shape, n=1, p=h_mean, dtype=theano.config.floatX)

    x = T.matrix("x")
    ph_mean = T.nnet.sigmoid(T.dot(x, W) + hbias)
    ph = srng.binomial(size=ph_mean.shape, n=1, p=ph_mean, dtype=theano.config.floatX)
    (v_means, v_samples, h_means, h_samples), updates = theano.scan(
        gibbs_hvh, outputs_info=[None, None, None, ph], n_steps=k, name="gibbs_hvh")
    chain_end = v_samples[-1]
    cost = T.mean(free_energy(x)) - T.mean(free_energy(chain_end))
    params = [W, hbias, vbias]
    grads = T.grad(cost, params, consider_constant=[chain_end])
    for p, g in zip(params, grads):
        updates[p] = p - lr * g
    reconstruction = T.nnet.sigmoid(T.dot(T.nnet.sigmoid(T.dot(x, W) + hbias), W.T) + vbias)
    xent = -T.mean((x * T.log(reconstruction) + (1 - x) * T.log(1 - reconstruction)).sum(axis=1))
    train = theano.function([x], xent, updates=updates)
    history = []
    for epoch in range(epochs):
        costs = [train(data[i:i + batch]) for i in range(0, len(data), batch)]
        history.append(float(np.mean(costs)))
        print(f"epoch {epoch + 1}: reconstruction cross-entropy {history[-1]:.3f}")
    return history


if __name__ == "__main__":
    history = main()
    assert history[-1] < history[0], history
