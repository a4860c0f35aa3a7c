"""Conditions, gradients' products, debugging and profiling, as Theano's tutorial shows them
(import mlc instead of theano). Run: python examples/tutorial_conditions_and_debugging.py"""
import time

import numpy as np

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.compile.nanguardmode import NanGuardMode
from mlc.compiler.ifelse import ifelse

floatX = theano.config.floatX

# ifelse evaluates one branch; switch evaluates both, elementwise.
a, b = T.scalars("a", "b")
x, y = T.matrices("x", "y")
f_switch = theano.function([a, b, x, y], T.switch(T.lt(a, b), T.mean(x), T.mean(y)))
f_lazy = theano.function([a, b, x, y], ifelse(T.lt(a, b), T.mean(x), T.mean(y)))
big1, big2 = np.ones((4000, 1000), dtype=floatX), np.ones((4000, 1000), dtype=floatX)
timings = {}
for name, f in (("switch", f_switch), ("ifelse", f_lazy)):
    f(0.0, 1.0, big1, big2)
    start = time.perf_counter()
    for _ in range(10):
        f(0.0, 1.0, big1, big2)
    timings[name] = time.perf_counter() - start
print(f"both branches (switch): {timings['switch']:.4f} s; one branch (ifelse): {timings['ifelse']:.4f} s")

# Jacobian times a vector (Rop) and a vector times the Jacobian (Lop).
W, V, xv, v = T.matrix("W"), T.matrix("V"), T.vector("x"), T.vector("v")
out = T.dot(xv, W)
rop = theano.function([W, V, xv], T.Rop(out, W, V))
lop = theano.function([v, xv], T.Lop(out, W, v))
ones = np.ones((2, 2), dtype=floatX)
assert rop(ones, 2 * ones, np.asarray([0, 1], dtype=floatX)).tolist() == [2.0, 2.0]
assert lop(np.asarray([2, 2], dtype=floatX), np.asarray([0, 1], dtype=floatX)).tolist() == [[0, 0], [2, 2]]

# Print a value while the graph runs.
printed = theano.printing.Print("this is a very important value")(xv)
assert theano.function([xv], printed * 5)(np.asarray([1, 2, 3], dtype=floatX)).tolist() == [5, 10, 15]


# MonitorMode: look at every node's inputs and outputs as it runs, here to find a NaN.
def detect_nan(i, node, fn):
    for output in fn.outputs:
        if isinstance(output[0], np.ndarray) and np.isnan(output[0]).any():
            print("*** NaN detected ***")
            theano.printing.debugprint(node.outputs[0])
            print("Inputs : %s" % [input[0] for input in fn.inputs])
            print("Outputs: %s" % [output[0] for output in fn.outputs])
            break


s = T.dscalar("s")
monitored = theano.function([s], [T.log(s) * s], mode=theano.compile.MonitorMode(post_func=detect_nan))
monitored(0)  # log(0) * 0 = nan: reported by the node that made it

# NanGuardMode stops at the node that produces a NaN, an Inf or a huge value.
guarded = theano.function([s], T.log(s) * s, mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
                                                                  big_is_error=True))
try:
    guarded(0.0)
except AssertionError as err:
    print(str(err).splitlines()[0])

# Profiling: where a function spends its time, node by node.
m = T.matrix("m")
profiled = theano.function([m], T.exp(T.dot(m, m)).sum(), profile=True)
for _ in range(10):
    profiled(np.ones((100, 100), dtype=floatX) / 100)
profiled.profile.summary(n_ops_to_print=5, n_apply_to_print=5)
