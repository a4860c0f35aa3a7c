"""The benchmark workloads. Each takes a ``run.Timer`` (``timer(fn, number=1) -> seconds``;
``timer.together({implementation: fn}, number)`` times them in turn, so that their ratios
survive a slow spell of the machine) and returns ``{implementation: seconds}`` (entries
named ``info:...`` are printed as they are)."""
from __future__ import annotations

import compileall
import os
import subprocess
import sys
import tempfile

import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn

import convolution
import distributed
import load
import peers
import products
import recurrent
import tutorial

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- elementwise
def elemwise(timer):
    n = 2 ** 22
    xv, yv = RNG.normal(size=n).astype("float32"), RNG.normal(size=n).astype("float32")
    x, y = T.fvector("x"), T.fvector("y")
    f = theano.function([x, y], T.exp(-x * x) * T.sin(y) + T.tanh(x * y))
    fns = {"mlc": lambda: f(xv, yv), "numpy": lambda: np.exp(-xv * xv) * np.sin(yv) + np.tanh(xv * yv)}
    if (p := peers.pytensor()):
        pt, ptt = p
        a, b = ptt.fvector(), ptt.fvector()
        g = pt.function([a, b], ptt.exp(-a * a) * ptt.sin(b) + ptt.tanh(a * b))
        fns["pytensor"] = lambda: g(xv, yv)
    if (th := peers.torch()):
        tx, ty = th.from_numpy(xv), th.from_numpy(yv)
        fns["torch"] = lambda: th.exp(-tx * tx) * th.sin(ty) + th.tanh(tx * ty)
    if (j := peers.jax()):
        jx, jnp = j
        jf = jx.jit(lambda a, b: jnp.exp(-a * a) * jnp.sin(b) + jnp.tanh(a * b))
        ja, jb = jnp.asarray(xv), jnp.asarray(yv)
        fns["jax"] = lambda: jf(ja, jb).block_until_ready()
    rows = timer.together(fns, 5)
    ref = np.exp(-xv * xv) * np.sin(yv) + np.tanh(xv * yv)
    scale = np.abs(np.exp(-xv * xv) * np.sin(yv)) + np.abs(np.tanh(xv * yv))
    rows["info:max error (ulp of |terms|)"] = f"{float(np.max(np.abs(f(xv, yv) - ref) / (np.finfo('float32').eps * scale))):.2f}"
    return rows


# --------------------------------------------------------------------------- MLP train step
SIZES, BATCH, LR, L2 = (784, 500, 10), 256, 0.01, 1e-4


def _mlp_data():
    X = RNG.random((BATCH, SIZES[0]), dtype=np.float32)
    Y = RNG.integers(0, SIZES[2], BATCH)
    return X, Y


def _init_params():
    rng = np.random.default_rng(1)
    W1 = rng.uniform(-0.05, 0.05, SIZES[:2]).astype("float32")
    W2 = rng.uniform(-0.05, 0.05, SIZES[1:]).astype("float32")
    return W1, np.zeros(SIZES[1], "float32"), W2, np.zeros(SIZES[2], "float32")


def mlc_mlp_step():
    with theano.config.change(floatX="float32"):
        x, y = T.matrix("x"), T.lvector("y")
        params = [theano.shared(v, name=n) for v, n in zip(_init_params(), ("W1", "b1", "W2", "b2"))]
        W1, b1, W2, b2 = params
        p = T.nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
        cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y]) + L2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
        grads = T.grad(cost, params)
        return theano.function([x, y], cost, updates=[(v, v - LR * g) for v, g in zip(params, grads)])


def numpy_mlp_grads(params, X, Y):
    """The cost and the gradients of the model, written by hand in NumPy."""
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    n = len(Y)
    cost = -np.log(p[np.arange(n), Y]).mean() + L2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
    dz = p
    dz[np.arange(n), Y] -= 1
    dz /= n
    dh = (dz @ W2.T) * (1 - h * h)
    return cost, [X.T @ dh + 2 * L2 * W1, dh.sum(axis=0), h.T @ dz + 2 * L2 * W2, dz.sum(axis=0)]


def numpy_mlp_step(params, X, Y):
    """A hand-written forward/backward/update step of the same model."""
    cost, grads = numpy_mlp_grads(params, X, Y)
    for v, g in zip(params, grads):
        v -= LR * g
    return cost


def mlp(timer):
    X, Y = _mlp_data()
    f = mlc_mlp_step()
    params = _init_params()
    # not W1, W2: the peers' blocks below rebind those names, and this lambda reads them when called
    PW1, PW2 = products.weights(SIZES[1])
    fns = {"mlc": lambda: f(X, Y), "numpy": lambda: numpy_mlp_step(params, X, Y),
           "products alone (numpy)": lambda: products.step(X, PW1, PW2)}
    if (p := peers.pytensor()):
        pt, ptt = p
        x, y = ptt.fmatrix(), ptt.lvector()
        ps = [pt.shared(v) for v in _init_params()]
        W1, b1, W2, b2 = ps
        prob = ptt.special.softmax(ptt.dot(ptt.tanh(ptt.dot(x, W1) + b1), W2) + b2, axis=-1)
        cost = -ptt.mean(ptt.log(prob)[ptt.arange(y.shape[0]), y]) + np.float32(L2) * ((W1 ** 2).sum() + (W2 ** 2).sum())
        g = pt.function([x, y], cost, updates=[(v, v - np.float32(LR) * gv) for v, gv in zip(ps, pt.grad(cost, ps))])
        fns["pytensor"] = lambda: g(X, Y)
    if (th := peers.torch()):
        tp = [th.tensor(v, requires_grad=True) for v in _init_params()]
        tx, ty = th.from_numpy(X), th.from_numpy(Y)

        def torch_step():
            W1, b1, W2, b2 = tp
            z = th.tanh(tx @ W1 + b1) @ W2 + b2
            cost = th.nn.functional.cross_entropy(z, ty) + L2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
            grads = th.autograd.grad(cost, tp)
            with th.no_grad():
                for v, gv in zip(tp, grads):
                    v -= LR * gv
            return cost
        fns["torch"] = torch_step
    if (j := peers.jax()):
        jx, jnp = j

        def loss(ps, a, b):
            W1, b1, W2, b2 = ps
            z = jnp.tanh(a @ W1 + b1) @ W2 + b2
            logp = jx.nn.log_softmax(z)
            return -jnp.mean(logp[jnp.arange(b.shape[0]), b]) + L2 * ((W1 ** 2).sum() + (W2 ** 2).sum())

        @jx.jit
        def step(ps, a, b):
            c, gs = jx.value_and_grad(loss)(ps, a, b)
            return [v - LR * gv for v, gv in zip(ps, gs)], c
        state = {"ps": [jnp.asarray(v) for v in _init_params()]}
        ja, jb = jnp.asarray(X), jnp.asarray(Y)

        def jax_step():
            state["ps"], c = step(state["ps"], ja, jb)
            c.block_until_ready()
        fns["jax"] = jax_step
    return timer.together(fns, 10)


# --------------------------------------------------------------------------- compile time
_COMPILE = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {bench!r})
import mlc.compiler as theano
theano.config.cache_dir = {cache!r}
from workloads import mlc_mlp_step, _mlp_data
X, Y = _mlp_data()
t1 = time.perf_counter()
mlc_mlp_step()(X, Y)
print(time.perf_counter() - t1)
"""

_PT_COMPILE = """
import sys, time, numpy as np
sys.path.insert(0, {bench!r})
import pytensor as pt, pytensor.tensor as ptt
from workloads import _init_params, _mlp_data, LR, L2
X, Y = _mlp_data()
t1 = time.perf_counter()
x, y = ptt.fmatrix(), ptt.lvector()
ps = [pt.shared(v) for v in _init_params()]
W1, b1, W2, b2 = ps
prob = ptt.special.softmax(ptt.dot(ptt.tanh(ptt.dot(x, W1) + b1), W2) + b2, axis=-1)
cost = -ptt.mean(ptt.log(prob)[ptt.arange(y.shape[0]), y]) + np.float32(L2) * ((W1 ** 2).sum() + (W2 ** 2).sum())
pt.function([x, y], cost, updates=[(v, v - np.float32(LR) * g) for v, g in zip(ps, pt.grad(cost, ps))])(X, Y)
print(time.perf_counter() - t1)
"""


def _subprocess_seconds(code: str, env: dict | None = None) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def _bytecode_ready(*directories: str) -> None:
    """Write the bytecode of mlc and of these benchmarks, as pip does for an installed
    PyTensor: compiling Python source (which a shell with PYTHONDONTWRITEBYTECODE redoes in
    every new process) is not the cost of compiling a function."""
    for directory in directories:
        compileall.compile_dir(directory, quiet=1)


COLD_RUNS = 3


def compile_time(timer):
    bench = os.path.dirname(os.path.abspath(__file__))
    _bytecode_ready(os.path.dirname(os.path.dirname(theano.__file__)), bench)

    def mlc(cache: str) -> float:
        return _subprocess_seconds(_COMPILE.format(bench=bench, cache=cache))

    def pytensor(cache: str) -> float:
        # base_compiledir: PyTensor 3's default linker, Numba, caches under it, not under compiledir
        return _subprocess_seconds(_PT_COMPILE.format(bench=bench), {"PYTENSOR_FLAGS": f"base_compiledir={cache}"})
    runners = {"mlc": mlc, **({"pytensor": pytensor} if peers.pytensor() else {})}
    cold: dict = {name: [] for name in runners}
    for _ in range(COLD_RUNS):  # each in a new empty cache, the two alternated: drift hits both
        for name, run in runners.items():
            with tempfile.TemporaryDirectory() as cache:
                cold[name].append(run(cache))
    rows = {}
    for name, run in runners.items():
        rows[f"{name} cold (empty cache)"] = float(np.median(cold[name]))
        with tempfile.TemporaryDirectory() as cache:
            run(cache)
            rows[f"{name} warm (cached)"] = min(run(cache) for _ in range(3))
    return rows


# --------------------------------------------------------------------------- call overhead
def call_overhead(timer):
    v = np.ones(10, dtype="float32")
    x = T.fvector("x")
    f = theano.function([x], x + 1)
    fns = {"mlc": lambda: f(v), "numpy": lambda: v + 1}
    if (p := peers.pytensor()):
        pt, ptt = p
        a = ptt.fvector()
        g = pt.function([a], a + 1)
        fns["pytensor"] = lambda: g(v)
    if (th := peers.torch()):
        tv = th.from_numpy(v)
        fns["torch"] = lambda: tv + 1
    if (j := peers.jax()):
        jx, jnp = j
        jf, jv = jx.jit(lambda a: a + 1), jnp.asarray(v)
        fns["jax"] = lambda: jf(jv).block_until_ready()
    return timer.together(fns, 20000)


# --------------------------------------------------------------------------- reduction
def reduction(timer):
    xv = RNG.normal(size=(4096, 1024)).astype("float32")
    x = T.fmatrix("x")
    f = theano.function([x], (x ** 2).sum(axis=1))
    fns = {"mlc": lambda: f(xv), "numpy": lambda: (xv ** 2).sum(axis=1)}
    if (p := peers.pytensor()):
        pt, ptt = p
        a = ptt.fmatrix()
        g = pt.function([a], (a ** 2).sum(axis=1))
        fns["pytensor"] = lambda: g(xv)
    if (th := peers.torch()):
        tx = th.from_numpy(xv)
        fns["torch"] = lambda: (tx ** 2).sum(dim=1)
    if (j := peers.jax()):
        jx, jnp = j
        jf, ja = jx.jit(lambda a: (a ** 2).sum(axis=1)), jnp.asarray(xv)
        fns["jax"] = lambda: jf(ja).block_until_ready()
    return timer.together(fns, 10)


# --------------------------------------------------------------------------- softmax crossentropy
def softmax_xent(timer):
    zv = RNG.normal(size=(256, 1000)).astype("float32") * 3
    yv = RNG.integers(0, 1000, 256)
    z, y = T.fmatrix("z"), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
    f = theano.function([z, y], [cost, T.grad(cost, z)])

    def numpy_fb():
        s = zv - zv.max(axis=1, keepdims=True)
        e = np.exp(s)
        p = e / e.sum(axis=1, keepdims=True)
        c = -np.log(p[np.arange(256), yv]).mean()
        p[np.arange(256), yv] -= 1
        return c, p / 256
    fns = {"mlc": lambda: f(zv, yv), "numpy": numpy_fb}
    if (th := peers.torch()):
        tz, ty = th.from_numpy(zv).requires_grad_(True), th.from_numpy(yv)

        def torch_fb():
            c = th.nn.functional.cross_entropy(tz, ty)
            return th.autograd.grad(c, tz)
        fns["torch"] = torch_fb
    if (j := peers.jax()):
        jx, jnp = j
        fn = jx.jit(jx.value_and_grad(lambda a, b: -jnp.mean(jx.nn.log_softmax(a)[jnp.arange(256), b])))
        ja, jb = jnp.asarray(zv), jnp.asarray(yv)
        fns["jax"] = lambda: fn(ja, jb)[1].block_until_ready()
    return timer.together(fns, 20)


# --------------------------------------------------------------------------- rewrites
def rewrites(timer):
    from mlc.compiler.fgraph import FunctionGraph
    from mlc.compiler.mode import Mode
    from mlc.compiler.rewrite import optimize
    with theano.config.change(floatX="float32"):
        x, y = T.matrix("x"), T.lvector("y")
        model = nn.MLP(784, [500], 10, seed=0)
        cost = nn.losses.negative_log_likelihood(model(x), y) + nn.regularizers.l2(model, 1e-4)
        updates = nn.SGD(0.01).get_updates(cost, model.get_params())
        shared = [v for v, _ in updates]
        outputs = [cost] + [u for _, u in updates]

        def rewrite():
            fg = FunctionGraph([x, y] + shared, outputs)
            optimize(fg, Mode.get("FAST_RUN"))
            return fg
        before = len(FunctionGraph([x, y] + shared, outputs).toposort())
        after = rewrite()
        elementwise = [n for n in after.toposort() if type(n.op).__name__ in ("Elemwise", "FusedReduce")]
        return {"mlc": timer(rewrite, 3), "info:nodes before -> after": f"{before} -> {len(after.toposort())}",
                "info:elementwise/fused nodes after": str(len(elementwise))}


# --------------------------------------------------------------------------- Fashion-MNIST epoch
def fashion_epoch(timer):
    from mlc.train import Trainer, load_dataset
    from mlc.train.data import DataError, Scaler
    try:
        splits = load_dataset("fashion-mnist")
    except DataError as err:
        return {"info:skipped": str(err).split(";")[0]}
    with theano.config.change(floatX="float32"):
        train = splits["train"]
        train.X = Scaler.fit("unit", train.X).transform(train.X, "float32")
        model = nn.MLP(784, [500], 10, seed=0)
        trainer = Trainer(model, "negative_log_likelihood", nn.SGD(LR), {"l2": L2}, batch_size=BATCH, epochs=1,
                          verbose=False)

        def mlc_epoch():
            trainer.state.update(epoch=0, stopped=False)
            trainer.fit(train)
        params = _init_params()
        batches = train.batch_indices(BATCH, seed=0)

        def numpy_epoch():
            for idx in batches:
                numpy_mlp_step(params, train.X[idx], train.y[idx])
        W1, W2 = products.weights(SIZES[1])

        def products_epoch():
            for idx in batches:
                products.step(train.X[idx], W1, W2)
        fns = {"mlc": mlc_epoch, "numpy": numpy_epoch, "products alone (numpy)": products_epoch}
        if (th := peers.torch()):
            fns["torch"] = _torch_epoch(th, train, batches)
        return timer.together(fns, 1)


def _torch_epoch(th, train, batches):
    """PyTorch's usual loop over the same minibatches: the same model, loss, L2 and SGD."""
    model = th.nn.Sequential(th.nn.Linear(784, 500), th.nn.Tanh(), th.nn.Linear(500, 10))
    optimizer = th.optim.SGD(model.parameters(), lr=LR)
    X, y = th.from_numpy(train.X), th.from_numpy(train.y.astype("int64"))
    index = [th.from_numpy(idx) for idx in batches]
    weights = [model[0].weight, model[2].weight]

    def epoch():
        for idx in index:
            optimizer.zero_grad()
            loss = th.nn.functional.cross_entropy(model(X[idx]), y[idx]) + L2 * sum((w ** 2).sum() for w in weights)
            loss.backward()
            optimizer.step()
    return epoch


WORKLOADS = {
    "elemwise": ("exp(-x*x)*sin(y)+tanh(x*y), two float32 vectors of 2**22", elemwise),
    "mlp": ("MLP 784-500-10 train step (tanh, softmax NLL + 1e-4 L2, SGD), float32, batch 256", mlp),
    "compile": ("compiling that train function and running its first step (new process, seconds)", compile_time),
    "overhead": ("call overhead of function([x], x + 1) on float32[10]", call_overhead),
    "reduction": ("(x**2).sum(axis=1), float32 4096x1024", reduction),
    "xent": ("softmax crossentropy forward+backward, float32 256x1000", softmax_xent),
    "rewrites": ("rewriting the MLP train graph (FAST_RUN pipeline)", rewrites),
    "fashion": ("one epoch of the MLP 784-500-10 on Fashion-MNIST (batch 256)", fashion_epoch),
    "conv": (f"two 3x3 convolutions (1 -> {convolution.C1} -> {convolution.C2} channels, ReLU, max pool), "
             f"forward+backward, float32, batch {convolution.BATCH}, {convolution.SIZE}x{convolution.SIZE}", convolution.conv),
    "cnn": ("one Fashion-MNIST epoch of configs/cnn_fashion.toml's CNN (Trainer.fit), batch 128", convolution.cnn_epoch),
    "lstm": (f"LSTM forward+backward (scan), float32, batch {recurrent.BATCH}, {recurrent.N_IN} inputs, "
             f"hidden {recurrent.HIDDEN}, {recurrent.STEPS} steps", recurrent.lstm),
    "logistic_sgd": ("the Deep Learning Tutorials' logistic_sgd.py loop: one epoch (batch 600) and validation, "
                     "Fashion-MNIST", tutorial.logistic_sgd),
    "tutorial_mlp": ("the Deep Learning Tutorials' mlp.py loop: one epoch (784-500-10, batch 20) and validation, "
                     "Fashion-MNIST", tutorial.mlp),
    "load": ("the mlp train step while other processes keep every core busy (one spinner per core)",
             load.under_load),
    "mpi": (f"the mlp train step data-parallel: global batch 256 over {distributed.RANKS} MPI ranks, one thread each",
            distributed.mpi),
}
