"""The Theano tutorial's logistic regression on the AND data, with only its imports changed."""
import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T

rng = np.random
X_data = np.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=theano.config.floatX)
y_data = np.asarray([0, 0, 0, 1], dtype=theano.config.floatX)

X = T.matrix('X')
y = T.vector('y')
w = theano.shared(rng.randn(2), name='w')
b = theano.shared(0., name='b')

p = T.nnet.sigmoid(T.dot(X, w) + b)              # probability of class 1
prediction = p > 0.5                             # the prediction thresholded
xent = -y * T.log(p) - (1 - y) * T.log(1 - p)    # cross-entropy loss
cost = xent.mean() + 0.01 * (w ** 2).sum()       # cost to minimise, with L2
gw, gb = T.grad(cost, [w, b])

train = theano.function([X, y], [prediction, xent], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)],
                        allow_input_downcast=True)
predict = theano.function([X], prediction, allow_input_downcast=True)
cost_of = theano.function([X, y], cost, allow_input_downcast=True)

if __name__ == "__main__":
    print("initial cost", cost_of(X_data, y_data))
    for _ in range(1000):
        train(X_data, y_data)
    print("final w, b:", w.get_value(), b.get_value())
    print("final cost", cost_of(X_data, y_data))
    print("prediction on X:", predict(X_data).astype(int))
