"""The examples of Theano 1.0's library reference page ``tensor/basic`` (Basic Tensor
Functionality), run as documented with only the imports changed. Left out, with reasons:
``y = 3+.2j * x.T`` on a ``zmatrix`` (mlc has no complex numbers) and ``t[t > 4]`` raising
``TypeError`` (Theano had no boolean dtype; mlc has one). The four ``shape_padaxis`` results
are printed by mlc as ``DimShuffle{...}.out`` where Theano printed ``InplaceDimShuffle{...}.0``:
compared on the pattern; arrays print as NumPy 1 did (``legacy='1.13'``), as on the page."""
import doctest

import mlc.compiler as theano
import mlc.compiler.tensor as T

SETUP = """
>>> import mlc.compiler as theano
>>> import mlc.compiler.tensor as T
>>> from mlc.compiler.tensor import scalar, iscalar, TensorType, dmatrix, ivector
>>> from mlc.compiler.tensor import set_subtensor, inc_subtensor, batched_dot
>>> from mlc.compiler import shared
>>> import numpy
>>> import numpy as np
>>> np.set_printoptions(legacy="1.13")  # the page shows NumPy 1's array printing
"""

EXAMPLES = SETUP + """
>>> x = T.fmatrix()
>>> x = scalar('myvar', dtype='int32')
>>> x = iscalar('myvar')
>>> x = TensorType(dtype='int32', broadcastable=())('myvar')
>>> from mlc.compiler.tensor import *
>>> x = dmatrix()
>>> x = dmatrix('x')
>>> xyz = dmatrix('xyz')
>>> x, y, z = dmatrices(3)
>>> x, y, z = dmatrices('x', 'y', 'z')
>>> dtensor6 = TensorType('float64', (False,)*6)
>>> x = dtensor6()
>>> z = dtensor6('z')
>>> my_dmatrix = TensorType('float64', (False,)*2)
>>> x = my_dmatrix()
>>> my_dmatrix == dmatrix
True
>>> x = shared(numpy.random.randn(3,4))
>>> middle_broadcaster = TensorType('float32', [False, True, False])
>>> tensor = theano.tensor.tensor3()
>>> theano.tensor.shape_padaxis(tensor, axis=0)  # doctest: +ELLIPSIS
DimShuffle{x,0,1,2}...
>>> theano.tensor.shape_padaxis(tensor, axis=1)  # doctest: +ELLIPSIS
DimShuffle{0,x,1,2}...
>>> theano.tensor.shape_padaxis(tensor, axis=3)  # doctest: +ELLIPSIS
DimShuffle{0,1,2,x}...
>>> theano.tensor.shape_padaxis(tensor, axis=-1)  # doctest: +ELLIPSIS
DimShuffle{0,1,2,x}...
>>> a = theano.tensor.scalar()
>>> b = theano.tensor.scalar()
>>> c = theano.tensor.scalar()
>>> x = theano.tensor.stack([a, b, c])
>>> x.ndim # x is a vector of length 3.
1
>>> a = theano.tensor.tensor4()
>>> b = theano.tensor.tensor4()
>>> c = theano.tensor.tensor4()
>>> x = theano.tensor.stack([a, b, c])
>>> x.ndim # x is a 5d tensor.
5
>>> rval = x.eval(dict((t, np.zeros((2, 2, 2, 2))) for t in [a, b, c]))
>>> rval.shape # 3 tensors are stacked on axis 0
(3, 2, 2, 2, 2)
>>> x = theano.tensor.stack([a, b, c], axis=3)
>>> x.ndim
5
>>> rval = x.eval(dict((t, np.zeros((2, 2, 2, 2))) for t in [a, b, c]))
>>> rval.shape # 3 tensors are stacked on axis 3
(2, 2, 2, 3, 2)
>>> x = theano.tensor.stack([a, b, c], axis=-2)
>>> x.ndim
5
>>> rval = x.eval(dict((t, np.zeros((2, 2, 2, 2))) for t in [a, b, c]))
>>> rval.shape # 3 tensors are stacked on axis -2
(2, 2, 2, 3, 2)
>>> x0 = T.scalar()
>>> x1 = T.scalar()
>>> x2 = T.scalar()
>>> x = T.stack(x0, x1, x2)
>>> x.ndim # x is a vector of length 3.
1
>>> x0 = T.fmatrix()
>>> x1 = T.ftensor3()
>>> x2 = T.fvector()
>>> x = T.concatenate([x0, x1[0], T.shape_padright(x2)], axis=1)
>>> x.ndim
2
>>> from mlc.compiler.tensor import stacklists, scalars, matrices
>>> from mlc.compiler import function
>>> a, b, c, d = scalars('abcd')
>>> X = stacklists([[a, b], [c, d]])
>>> f = function([a, b, c, d], X)
>>> f(1, 2, 3, 4)
array([[ 1.,  2.],
       [ 3.,  4.]])
>>> from numpy import ones
>>> a, b, c, d = matrices('abcd')
>>> X = stacklists([[a, b], [c, d]])
>>> f = function([a, b, c, d], X)
>>> x = ones((4, 4), 'float32')
>>> f(x, x, x, x).shape
(2, 2, 4, 4)
>>> n = np.arange(9).reshape(3,3)
>>> n[n > 4]
array([5, 6, 7, 8])
>>> t = theano.tensor.arange(9).reshape((3,3))
>>> t[(t > 4).nonzero()].eval()
array([5, 6, 7, 8])
>>> a, b = T.itensor3(), T.itensor3() # example inputs
>>> x = T.matrix()
>>> x_as_int = T.cast(x, 'int32')
>>> x,y = T.dmatrices('x','y')
>>> z = T.le(x,y)
>>> a,b = T.dmatrices('a','b')
>>> x,y = T.dmatrices('x','y')
>>> z = T.switch(T.lt(a,b), x, y)
>>> x,y = T.imatrices('x','y')
>>> z = x & y
>>> first = T.tensor3('first')
>>> second = T.tensor3('second')
>>> result = batched_dot(first, second)
"""


def test_basic_tensor_reference_examples():
    test = doctest.DocTestParser().get_doctest(EXAMPLES, {}, "tensor/basic", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    try:
        runner.run(test)
    finally:
        import numpy as np
        np.set_printoptions(legacy=False)
    assert runner.failures == 0
    assert runner.tries > 80


def test_the_named_functions_of_the_page_exist():
    for name in ("shape", "reshape", "shape_padleft", "shape_padright", "shape_padaxis", "unbroadcast", "addbroadcast",
                 "patternbroadcast", "flatten", "tile", "roll", "zeros_like", "ones_like", "zeros", "ones", "fill",
                 "alloc", "eye", "identity_like", "stack", "concatenate", "stacklists", "choose", "max", "argmax",
                 "max_and_argmax", "min", "argmin", "sum", "prod", "mean", "var", "std", "all", "any", "ptp",
                 "set_subtensor", "inc_subtensor", "cast", "real", "imag", "lt", "gt", "le", "ge", "eq", "neq",
                 "isnan", "isinf", "isclose", "allclose", "switch", "where", "clip", "and_", "or_", "xor", "invert",
                 "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "abs_", "angle", "exp", "maximum",
                 "minimum", "neg", "inv", "log", "log2", "log10", "sgn", "ceil", "floor", "round", "iround", "sqr",
                 "sqrt", "cos", "sin", "tan", "cosh", "sinh", "tanh", "erf", "erfc", "erfinv", "erfcinv", "gamma",
                 "gammaln", "polygamma", "psi", "chi2sf", "dot", "outer", "tensordot", "batched_dot",
                 "batched_tensordot", "mgrid", "ogrid"):
        assert hasattr(T, name), name
    assert theano.function([], T.polygamma(1, 2.0))() == theano.function([], T.tri_gamma(2.0))()
