"""The convolution workloads: a LeNet-sized pair of 3x3 convolutions (batch 128, 1 → 32 →
64 channels, 28x28, ReLU, 2x2 max pooling between) forward and backward, mlc against NumPy
(the same im2col lowering written by hand), PyTorch and JAX; and one Fashion-MNIST epoch of
``configs/cnn_fashion.toml``'s CNN through ``Trainer`` against the same model in PyTorch."""
from __future__ import annotations

import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.tensor.signal.pool import pool_2d

import peers

BATCH, SIZE, C1, C2 = 128, 28, 32, 64


def _data():
    rng = np.random.default_rng(3)
    x = rng.random((BATCH, 1, SIZE, SIZE), dtype=np.float32)
    w1 = (rng.normal(size=(C1, 1, 3, 3)) / 3).astype("float32")
    w2 = (rng.normal(size=(C2, C1, 3, 3)) / np.sqrt(9 * C1)).astype("float32")
    return x, w1, w2


def mlc_convnet():
    x, w1, w2 = T.ftensor4("x"), T.ftensor4("w1"), T.ftensor4("w2")
    h = pool_2d(T.nnet.relu(T.nnet.conv2d(x, w1, border_mode="half", filter_flip=False)), (2, 2))
    out = T.nnet.relu(T.nnet.conv2d(h, w2, border_mode="half", filter_flip=False))
    cost = out.sum()
    return theano.function([x, w1, w2], [cost, *theano.grad(cost, [w1, w2])])


def conv(timer):
    x, w1, w2 = _data()
    f = mlc_convnet()
    fns, info = {"mlc": lambda: f(x, w1, w2)}, {}
    if (th := peers.torch()):
        tx = th.from_numpy(x)
        tw1, tw2 = th.from_numpy(w1).requires_grad_(), th.from_numpy(w2).requires_grad_()
        F = th.nn.functional

        def torch_step():
            tw1.grad = tw2.grad = None
            h = F.max_pool2d(F.relu(F.conv2d(tx, tw1, padding=1)), 2)
            F.relu(F.conv2d(h, tw2, padding=1)).sum().backward()
        fns["torch"] = torch_step
        torch_step()
        got = f(x, w1, w2)
        info["info:max relative difference vs torch"] = (
            f"{max(float(np.abs(g - t.grad.numpy()).max() / np.abs(t.grad.numpy()).max()) for g, t in zip(got[1:], (tw1, tw2))):.1e}")
    if (j := peers.jax()):
        jx, jnp = j
        dims = ("NCHW", "OIHW", "NCHW")

        def loss(w1, w2, x):
            h = jx.nn.relu(jx.lax.conv_general_dilated(x, w1, (1, 1), "SAME", dimension_numbers=dims))
            h = jx.lax.reduce_window(h, -jnp.inf, jx.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
            return jx.nn.relu(jx.lax.conv_general_dilated(h, w2, (1, 1), "SAME", dimension_numbers=dims)).sum()
        grad = jx.jit(jx.value_and_grad(loss, argnums=(0, 1)))
        args = [jnp.asarray(v) for v in (w1, w2, x)]
        fns["jax"] = lambda: jx.block_until_ready(grad(*args))
    return {**timer.together(fns, 1), **info}


def cnn_epoch(timer):
    """One epoch of configs/cnn_fashion.toml's model (Trainer.fit) against the same model,
    batch and optimizer in PyTorch (train mode: batch norm and dropout as in training)."""
    from pathlib import Path

    from mlc.train import Trainer, load_dataset
    from mlc.train import config as cfgmod
    from mlc.train.cli import build_model, build_optimizer
    from mlc.train.data import DataError, Scaler
    try:
        splits = load_dataset("fashion-mnist")
    except DataError as err:
        return {"info:skipped": str(err).split(";")[0]}
    cfg = cfgmod.resolve(cfgmod.load(Path(__file__).resolve().parents[1] / "configs" / "cnn_fashion.toml"))
    batch = cfg["train"]["batch_size"]
    with theano.config.change(floatX="float32"):
        train = splits["train"]
        train.X = Scaler.fit("unit", train.X).transform(train.X, "float32")
        model = build_model(cfg["model"], 784, 10, cfg["seed"])
        trainer = Trainer(model, "negative_log_likelihood", build_optimizer(cfg["optimizer"]), batch_size=batch,
                          epochs=1, verbose=False)

        def mlc_epoch():
            trainer.state.update(epoch=0, stopped=False)
            with theano.config.change(floatX="float32"):  # timed with the peers, outside this block
                trainer.fit(train)
        fns = {"mlc": mlc_epoch}
    if (th := peers.torch()):
        nn_ = th.nn
        net = nn_.Sequential(nn_.Conv2d(1, 32, 3, padding=1), nn_.BatchNorm2d(32), nn_.ReLU(), nn_.MaxPool2d(2),
                             nn_.Conv2d(32, 64, 3, padding=1), nn_.BatchNorm2d(64), nn_.ReLU(), nn_.MaxPool2d(2),
                             nn_.Flatten(), nn_.Dropout(0.5), nn_.Linear(3136, 10))
        opt = th.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"])
        X, Y = th.from_numpy(train.X.reshape(-1, 1, 28, 28)), th.from_numpy(train.y.astype("int64"))
        batches = train.batch_indices(batch, seed=0)

        def torch_epoch():
            net.train()
            for idx in batches:
                opt.zero_grad()
                th.nn.functional.cross_entropy(net(X[idx]), Y[idx]).backward()
                opt.step()
        fns["torch"] = torch_epoch
    return timer.together(fns, 1)
