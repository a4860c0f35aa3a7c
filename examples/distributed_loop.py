"""Data-parallel training in your own loop, in the manner of Horovod:

    mpiexec -n 2 python examples/distributed_loop.py

Every rank builds the same model, takes its shard of each global minibatch, and lets
``DistributedOptimizer`` average the gradients over the ranks (one Allreduce per step,
weighted by the shards' sizes) before the SGD update; the weights stay identical on every
rank. The test error is computed over each rank's part of the test set and summed with
``allreduce``. Run without ``mpiexec`` it trains on one process, the same way.
"""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc import nn
from mlc.train import distributed as dist
from mlc.train import load_dataset

world = dist.world(True)
splits = load_dataset("digits")
floatX = theano.config.floatX
train_X = theano.shared(np.asarray(splits["train"].X / 16.0, dtype=floatX))
train_y = theano.shared(np.asarray(splits["train"].y, dtype="int64"))

rows = T.lvector("rows")  # this rank's rows of the global minibatch
x, y = T.matrix("x"), T.lvector("y")
classifier = nn.MLP(n_in=64, hidden=[100], n_out=10, activation="tanh", input=x, seed=1234)
cost = classifier.negative_log_likelihood(y) + 1e-4 * classifier.L2_sqr
params = classifier.get_params(trainable=True)

optimizer = dist.DistributedOptimizer(nn.SGD(lr=0.1), weight=x.shape[0])
updates = optimizer.get_updates(cost, params)
train_model = theano.function([rows], optimizer.loss, updates=updates,
                              givens={x: train_X[rows], y: train_y[rows]})
count_errors = theano.function([x, y], T.sum(T.neq(classifier.y_pred, y)))
dist.broadcast_parameters(params)  # start from rank 0's weights

batch_size = 20  # the global minibatch
order = np.random.default_rng(0)
for epoch in range(20):
    batches = np.array_split(order.permutation(len(splits["train"].X)), len(splits["train"].X) // batch_size)
    costs = [train_model(world.shard(batch)) for batch in batches]
    X_test, y_test = world.shard(splits["test"].X / 16.0), world.shard(splits["test"].y)
    errors, seen = dist.allreduce(np.array([count_errors(X_test.astype(floatX), y_test), len(y_test)]))
    if world.is_root:
        print(f"epoch {epoch + 1}: cost {np.mean(costs):.4f}  test error {errors / seen * 100:.2f}%", flush=True)

for p in params:  # every rank holds the same weights, bit for bit
    value = p.get_value()
    assert np.array_equal(dist.allreduce(value, "max"), dist.allreduce(value, "min")), p.name
assert errors / seen < 0.05, errors / seen
