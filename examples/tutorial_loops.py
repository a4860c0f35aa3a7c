"""Loops with scan, as Theano's tutorial teaches them (import mlc instead of theano).
Each result is checked against NumPy. Run: python examples/tutorial_loops.py"""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T

floatX = theano.config.floatX
rng = np.random.default_rng(0)

# A ** k by repeated multiplication: the loop keeps only what the last step needs.
k, A = T.iscalar("k"), T.vector("A")
result, updates = theano.scan(fn=lambda prior, A: prior * A, outputs_info=T.ones_like(A), non_sequences=A,
                              n_steps=k)
power = theano.function([A, k], result[-1], updates=updates)
print("A ** 10:", power(np.arange(10, dtype=floatX), 10))
assert np.allclose(power(np.arange(10, dtype=floatX), 10), np.arange(10) ** 10)

# A polynomial: iterate over the coefficients and their powers together, then sum.
coefficients, x = T.vector("coefficients"), T.scalar("x")
components, _ = theano.scan(fn=lambda c, p, x: c * (x ** p), sequences=[coefficients, T.arange(1000)],
                            non_sequences=x)
polynomial = theano.function([coefficients, x], components.sum())
print("1 + 0 x + 2 x^2 at x = 3:", polynomial(np.asarray([1, 0, 2], dtype=floatX), 3))
assert polynomial(np.asarray([1, 0, 2], dtype=floatX), 3) == 19.0

# tanh(x W + b) for each row x of a matrix.
X, W, b = T.matrix("X"), T.matrix("W"), T.vector("b")
rows, _ = theano.scan(lambda v: T.tanh(T.dot(v, W) + b), sequences=X)
layer = theano.function([X, W, b], rows)
xs, ws, bs = (rng.normal(size=s).astype(floatX) for s in ((5, 3), (3, 2), (2,)))
assert np.allclose(layer(xs, ws, bs), np.tanh(xs @ ws + bs))

# A recurrence over a sequence: x[t] = tanh(x[t-1] W + y[t] U + p[T-t] V).
x0, Y, U, P, V = T.vector("x0"), T.matrix("Y"), T.matrix("U"), T.matrix("P"), T.matrix("V")
states, _ = theano.scan(lambda y, p, x_prev: T.tanh(T.dot(x_prev, W) + T.dot(y, U) + T.dot(p, V)),
                        sequences=[Y, P[::-1]], outputs_info=x0)
recurrence = theano.function([x0, W, Y, U, P, V], states)
args = [rng.normal(size=s).astype(floatX) for s in ((2,), (2, 2), (5, 2), (2, 2), (5, 2), (2, 2))]
expected, state = [], args[0]
for t in range(5):
    state = np.tanh(state @ args[1] + args[2][t] @ args[3] + args[4][4 - t] @ args[5])
    expected.append(state)
assert np.allclose(recurrence(*args), expected)

# The Jacobian of y = x ** 2, row by row through scan.
v = T.vector("v")
y = v ** 2
J, _ = theano.scan(lambda i, y, v: T.grad(y[i], v), sequences=T.arange(y.shape[0]), non_sequences=[y, v])
jacobian = theano.function([v], J)
print("Jacobian of x**2 at [4, 4]:\n", jacobian(np.asarray([4, 4], dtype=floatX)))
assert np.allclose(jacobian(np.asarray([4, 4], dtype=floatX)), [[8, 0], [0, 8]])

# The Hessian of sum(x ** 2), and a Hessian-vector product without the Hessian (Rop of the gradient).
cost = (v ** 2).sum()
gy = T.grad(cost, v)
H, _ = theano.scan(lambda i, gy, v: T.grad(gy[i], v), sequences=T.arange(gy.shape[0]), non_sequences=[gy, v])
assert np.allclose(theano.function([v], H)(np.asarray([4, 4], dtype=floatX)), [[2, 0], [0, 2]])
direction = T.vector("direction")
Hv = theano.function([v, direction], T.Rop(gy, v, direction))
assert np.allclose(Hv(np.asarray([4, 4], dtype=floatX), np.asarray([1, 3], dtype=floatX)), [2, 6])

# A shared counter advanced inside the loop: its update comes back with the results.
counter = theano.shared(np.int64(1), "counter")
doubled, updates = theano.scan(lambda: (counter * 2, {counter: counter + 1}), n_steps=5)
count = theano.function([], doubled, updates=updates)
print("2 * counter at each step:", count(), "counter now", counter.get_value())
assert count().tolist() == [12, 14, 16, 18, 20] and counter.get_value() == 11

# Stop early with until: the powers of 2 until one passes 40.
powers, _ = theano.scan(lambda prev: (prev * 2, theano.scan_module.until(prev * 2 > 40)),
                        outputs_info=T.constant(np.asarray(1, dtype=floatX)), n_steps=1024)
assert theano.function([], powers)().tolist() == [2, 4, 8, 16, 32, 64]
print("all loop examples agree with NumPy")
