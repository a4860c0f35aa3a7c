"""The scan workload: an LSTM's forward and backward pass over a sequence, mlc's ``scan``
against a hand-written NumPy BPTT, PyTensor's ``scan``, PyTorch's ``nn.LSTM`` and JAX's
``lax.scan`` (the same cell: gates i, f, o, g; the gradients of sum(h) for W, U, b)."""
from __future__ import annotations

import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T

import peers

STEPS, BATCH, N_IN, HIDDEN = 50, 32, 128, 256


def _data():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(STEPS, BATCH, N_IN)).astype("float32")
    W = (rng.normal(size=(N_IN, 4 * HIDDEN)) / np.sqrt(N_IN)).astype("float32")
    U = (rng.normal(size=(HIDDEN, 4 * HIDDEN)) / np.sqrt(HIDDEN)).astype("float32")
    b = np.zeros(4 * HIDDEN, "float32")
    return x, W, U, b


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_lstm(x, W, U, b):
    """Forward, then backpropagation through time by hand: the gradients of sum(h) over all steps."""
    n = HIDDEN
    h, c = np.zeros((BATCH, n), "float32"), np.zeros((BATCH, n), "float32")
    saved = []
    for t in range(STEPS):
        z = x[t] @ W + h @ U + b
        i, f, o, g = _sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n]), _sigmoid(z[:, 2 * n:3 * n]), np.tanh(z[:, 3 * n:])
        c_prev, h_prev = c, h
        c = f * c_prev + i * g
        tc = np.tanh(c)
        h = o * tc
        saved.append((h_prev, c_prev, i, f, o, g, tc))
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dh_next, dc_next = np.zeros((BATCH, n), "float32"), np.zeros((BATCH, n), "float32")
    for t in reversed(range(STEPS)):
        h_prev, c_prev, i, f, o, g, tc = saved[t]
        dh = 1 + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dh * tc * o * (1 - o),
                             dc * i * (1 - g * g)], axis=1)
        dW += x[t].T @ dz
        dU += h_prev.T @ dz
        db += dz.sum(axis=0)
        dh_next, dc_next = dz @ U.T, dc * f
    return dW, dU, db


def mlc_lstm(W0, U0, b0):
    x = T.ftensor3("x")
    W, U, b = (theano.shared(v, name=n) for v, n in zip((W0, U0, b0), "WUb"))
    n = HIDDEN

    def step(xw, h, c, U):
        z = xw + T.dot(h, U)
        i, f, o = T.nnet.sigmoid(z[:, :n]), T.nnet.sigmoid(z[:, n:2 * n]), T.nnet.sigmoid(z[:, 2 * n:3 * n])
        c_new = f * c + i * T.tanh(z[:, 3 * n:])
        return o * T.tanh(c_new), c_new
    projected = T.reshape(T.dot(T.reshape(x, (STEPS * BATCH, N_IN)), W) + b, (STEPS, BATCH, 4 * n))
    zeros = T.zeros((BATCH, n), "float32")
    (hs, _), _ = theano.scan(step, sequences=projected, outputs_info=[zeros, zeros], non_sequences=[U])
    return theano.function([x], theano.grad(hs.sum(), [W, U, b]))


def lstm(timer):
    x, W, U, b = _data()
    f = mlc_lstm(W, U, b)
    want = numpy_lstm(x, W, U, b)
    got = f(x)
    fns = {"mlc": lambda: f(x), "numpy": lambda: numpy_lstm(x, W, U, b)}
    if (p := peers.pytensor()):
        fns["pytensor"] = _pytensor_lstm(p, W, U, b, x)
    if (th := peers.torch()):
        fns["torch"] = _torch_lstm(th, W, U, b, x)
    if (j := peers.jax()):
        fns["jax"] = _jax_lstm(j, W, U, b, x)
    rows = timer.together(fns, 1)
    rows["info:max relative error vs numpy"] = f"{max(float(np.abs(g - w).max() / np.abs(w).max()) for g, w in zip(got, want)):.1e}"
    return rows


def _pytensor_lstm(p, W0, U0, b0, xv):
    pt, ptt = p
    n = HIDDEN
    x = ptt.ftensor3()
    W, U, b = (pt.shared(v) for v in (W0, U0, b0))

    def step(xw, h, c, U):
        z = xw + ptt.dot(h, U)
        i, f, o = ptt.sigmoid(z[:, :n]), ptt.sigmoid(z[:, n:2 * n]), ptt.sigmoid(z[:, 2 * n:3 * n])
        c_new = f * c + i * ptt.tanh(z[:, 3 * n:])
        return o * ptt.tanh(c_new), c_new
    projected = ptt.dot(x, W) + b
    zeros = ptt.zeros((BATCH, n), "float32")
    (hs, _), _ = pt.scan(step, sequences=projected, outputs_info=[zeros, zeros], non_sequences=[U])
    g = pt.function([x], pt.grad(hs.sum(), [W, U, b]))
    return lambda: g(xv)


def _torch_lstm(th, W, U, b, xv):
    cell = th.nn.LSTM(N_IN, HIDDEN)
    n = HIDDEN
    order = np.r_[0:n, n:2 * n, 3 * n:4 * n, 2 * n:3 * n]  # torch's gate order is i, f, g, o
    with th.no_grad():
        cell.weight_ih_l0.copy_(th.from_numpy(W[:, order].T.copy()))
        cell.weight_hh_l0.copy_(th.from_numpy(U[:, order].T.copy()))
        cell.bias_ih_l0.copy_(th.from_numpy(b[order].copy()))
        cell.bias_hh_l0.zero_()
    x = th.from_numpy(xv)

    def run():
        cell.zero_grad()
        out, _ = cell(x)
        out.sum().backward()
    return run


def _jax_lstm(j, W, U, b, xv):
    jx, jnp = j
    n = HIDDEN

    def loss(W, U, b, x):
        def step(carry, xt):
            h, c = carry
            z = xt @ W + h @ U + b
            i, f, o = jx.nn.sigmoid(z[:, :n]), jx.nn.sigmoid(z[:, n:2 * n]), jx.nn.sigmoid(z[:, 2 * n:3 * n])
            c = f * c + i * jnp.tanh(z[:, 3 * n:])
            h = o * jnp.tanh(c)
            return (h, c), h
        zeros = jnp.zeros((BATCH, n), jnp.float32)
        _, hs = jx.lax.scan(step, (zeros, zeros), x)
        return hs.sum()
    grad = jx.jit(jx.grad(loss, argnums=(0, 1, 2)))
    args = [jnp.asarray(v) for v in (W, U, b, xv)]
    return lambda: [g.block_until_ready() for g in grad(*args)]
