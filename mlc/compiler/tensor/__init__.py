"""The tensor API, Theano style: ``import mlc.compiler.tensor as T``.

>>> import mlc.compiler.tensor as T
>>> x = T.matrix('x'); y = T.nnet.sigmoid(T.dot(x, x.T)).sum()
"""
from . import extra_ops, nlinalg, nnet, shared_randomstreams, signal, slinalg, special, xlogx  # noqa: F401
from .special import (allclose, angle, ceil_intdiv, complex, complex_from_polar, conj, deg2rad, imag,  # noqa: F401
                      iround, isclose, logsumexp, polygamma, power, rad2deg, real)
from .extra_ops import (argsort, argtopk, batched_tensordot, choose, compress, cumprod, cumsum, diagonal, flatnonzero,  # noqa: F401
                        inverse_permutation, largest, nonzero, nonzero_values, ptp, roll, smallest, sort, split, take,
                        tile, topk, topk_and_argtopk)
from .constant_value import NotScalarConstantError, extract_constant, get_scalar_constant_value  # noqa: F401
from .extras import mgrid, ogrid, specify_shape, stacklists  # noqa: F401
from .basic import *  # noqa: F401,F403
from .basic import (abs_, add, cast, clip, dimshuffle, elemwise_op, floatX, mul, round,  # noqa: F401
                    tensor)
from .subtensor import getitem, inc_subtensor, set_subtensor  # noqa: F401
from .variable import TensorConstant, TensorVariable, as_tensor_variable, constant  # noqa: F401
from ..gradient import (Lop, Rop, disconnected_grad, grad, hessian, jacobian, verify_grad,  # noqa: F401
                        zero_grad)
from ..sharedvalue import TensorSharedVariable  # noqa: F401
from ..sharedvalue import shared  # noqa: F401  (T.shared, as in Theano)
from ..types import TensorType  # noqa: F401

RandomStreams = shared_randomstreams.RandomStreams
as_tensor = as_tensor_variable
