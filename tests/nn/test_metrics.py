import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.nn import metrics


def test_metrics_against_numpy_and_sklearn(rng):
    P = rng.random((50, 4))
    Y = rng.integers(0, 4, 50)
    p, y = T.dmatrix(), T.lvector()
    f = theano.function([p, y], [metrics.accuracy(p, y), metrics.error_rate(p, y),
                                 metrics.top_k_accuracy(p, y, 2), metrics.confusion_matrix(p, y, 4)])
    acc, err, top2, cm = f(P, Y)
    pred = P.argmax(1)
    assert np.isclose(acc, (pred == Y).mean()) and np.isclose(err, 1 - acc)
    assert np.isclose(top2, np.mean([Y[i] in np.argsort(-P[i])[:2] for i in range(50)]))
    from sklearn.metrics import confusion_matrix
    np.testing.assert_array_equal(cm, confusion_matrix(Y, pred, labels=range(4)))
