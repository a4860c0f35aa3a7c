"""mlc's symbolic compiler, Theano-compatible: ``import mlc.compiler as theano``.

>>> import mlc.compiler as theano
>>> import mlc.compiler.tensor as T
>>> x = T.scalar('x'); y = T.scalar('y')
>>> add = theano.function([x, y], x + y)
>>> float(add(2, 3))
5.0
"""
from .config import config
from . import tensor  # noqa: F401
from .function import Function, In, Out, Param, function
from .gradient import disconnected_grad, grad, hessian, jacobian, verify_grad
from .graph import Apply, Constant, Op, Variable, clone, clone_replace
from .mode import Mode
from .printing import debugprint, pp
from .sharedvalue import SharedVariable, shared
from . import compile, gradient, ifelse, printing, sandbox, scalar, scan_module  # noqa: F401,A004
from .scan_module import foldl, foldr, map, reduce, scan  # noqa: A004


__all__ = ["config", "function", "shared", "grad", "In", "Out", "Param", "Function", "Mode",
           "jacobian", "hessian", "verify_grad", "disconnected_grad", "debugprint", "pp",
           "Variable", "Constant", "Apply", "Op", "SharedVariable", "clone", "tensor", "printing",
           "scan", "map", "reduce", "foldl", "foldr", "scan_module", "ifelse"]
