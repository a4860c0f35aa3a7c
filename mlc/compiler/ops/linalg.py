"""Linear-algebra ops on NumPy's LAPACK (``T.nlinalg``) and, for ``expm`` and triangular
solves, SciPy's (``T.slinalg``; SciPy is optional and imported only there): inverse,
pseudo-inverse, determinant, eigen- and singular value decompositions, QR, Cholesky and
solves, each with the gradient Theano has."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType
from ..choices import check_choice


def _T():
    from ..tensor import basic
    return basic


def _float_matrix(x: Any, what: str, ndim: int = 2) -> Any:
    T = _T()
    x = T.as_tensor_variable(x)
    if x.ndim != ndim:
        raise TypeError(f"{what} takes a {ndim}-d tensor, got a {x.ndim}-d one")
    return T.cast(x, "float64") if not x.dtype.startswith("float") else x


def _real(values: np.ndarray, what: str) -> np.ndarray:
    if np.iscomplexobj(values):
        if np.abs(values.imag).max(initial=0) > 0:
            raise ValueError(f"{what}: the result is complex, and mlc has no complex numbers")
        values = values.real
    return values


class _MatrixOp(Op):
    """One matrix in, one matrix out, of the input's dtype."""

    __props__ = ()
    what = ""

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, self.what)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]


class MatrixInverse(_MatrixOp):
    """The inverse of a square matrix; gradient ``-X⁻ᵀ gz X⁻ᵀ``."""

    what = "matrix_inverse"

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.linalg.inv(inputs[0]).astype(node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        inv_t = outputs[0].T
        return [-_T().dot(_T().dot(inv_t, output_grads[0]), inv_t)]


class MatrixPinv(_MatrixOp):
    """The Moore-Penrose pseudo-inverse (no gradient, as in Theano)."""

    what = "pinv"

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, self.what)
        return Apply(self, [x], [TensorType(x.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.linalg.pinv(inputs[0]).astype(node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        rows, cols = input_shapes[0]
        return [(cols, rows)]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("pinv has no gradient (as in Theano)")


class Det(Op):
    """The determinant of a square matrix; gradient ``gz · det · X⁻ᵀ``."""

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, "det")
        return Apply(self, [x], [TensorType(x.dtype, ())()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(np.linalg.det(inputs[0]), dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [()]

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * outputs[0] * MatrixInverse()(inputs[0]).T]


class Eig(Op):
    """Eigenvalues and right eigenvectors of a square matrix (real results only; no gradient)."""

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, "eig")
        return Apply(self, [x], [TensorType(x.dtype, (False,))(), TensorType(x.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        w, v = np.linalg.eig(inputs[0])
        for cell, value, out in zip(output_storage, (w, v), node.outputs):
            cell[0] = _real(value, "eig").astype(out.dtype)

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],), input_shapes[0]]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("eig has no gradient (as in Theano); for symmetric matrices use eigh")


class Eigh(Op):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, read from its lower
    (``UPLO='L'``) or upper triangle; differentiable in both outputs."""

    __props__ = ("UPLO",)

    def __init__(self, UPLO: str = "L") -> None:
        check_choice("eigh: UPLO", UPLO, ("L", "U"))
        self.UPLO = UPLO

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, "eigh")
        return Apply(self, [x], [TensorType(x.dtype, (False,))(), TensorType(x.dtype, (False, False))()])

    def perform(self, node, inputs, output_storage):
        w, v = np.linalg.eigh(inputs[0], self.UPLO)
        output_storage[0][0], output_storage[1][0] = w.astype(node.outputs[0].dtype), v.astype(node.outputs[1].dtype)

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],), input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        w, v = outputs
        gw, gv = output_grads
        inner = 0
        if gw is not None:
            inner = inner + alloc_diag(gw)
        if gv is not None:
            gaps = w.dimshuffle("x", 0) - w.dimshuffle(0, "x")  # w_j - w_i
            off = T.neq(gaps, 0)
            inner = inner + T.switch(off, T.dot(v.T, gv) / T.switch(off, gaps, 1), 0)
        g = T.dot(T.dot(v, inner), v.T)
        # The op reads one triangle: an entry there moves both g_ij and g_ji.
        full = g + g.T - alloc_diag(_extract_diag(g))
        return [_triangle(full, lower=self.UPLO == "L")]


def _extract_diag(x: Any) -> Any:
    T = _T()
    steps = T.arange(T.minimum(x.shape[0], x.shape[1]))
    return x[steps, steps]


def alloc_diag(v: Any) -> Any:
    """The square matrix with ``v`` on its diagonal."""
    from ..tensor.subtensor import set_subtensor
    T = _T()
    v = T.as_tensor_variable(v)
    steps = T.arange(v.shape[0])
    return set_subtensor(T.zeros((v.shape[0], v.shape[0]), dtype=v.dtype)[steps, steps], v)


def _triangle(x: Any, lower: bool) -> Any:
    return _T().tril(x) if lower else _T().triu(x)


class SVD(Op):
    """Singular values, or ``(U, s, Vᵀ)`` with ``compute_uv`` (no gradient, as in Theano)."""

    __props__ = ("full_matrices", "compute_uv")

    def __init__(self, full_matrices: bool = True, compute_uv: bool = True) -> None:
        self.full_matrices, self.compute_uv = bool(full_matrices), bool(compute_uv)

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, "svd")
        s = TensorType(x.dtype, (False,))()
        outs = [TensorType(x.dtype, (False, False))(), s, TensorType(x.dtype, (False, False))()] if self.compute_uv \
            else [s]
        return Apply(self, [x], outs)

    def perform(self, node, inputs, output_storage):
        result = np.linalg.svd(inputs[0], self.full_matrices, self.compute_uv)
        result = result if self.compute_uv else (result,)
        for cell, value, out in zip(output_storage, result, node.outputs):
            cell[0] = value.astype(out.dtype)

    def grad(self, inputs, output_grads):
        raise NotImplementedError("svd has no gradient (as in Theano)")


class QR(Op):
    """``(Q, R)`` (``mode`` reduced or complete), or ``R`` alone (``mode='r'``); no gradient."""

    __props__ = ("mode",)

    def __init__(self, mode: str = "reduced") -> None:
        check_choice("qr: mode", mode, ("reduced", "complete", "r"))
        self.mode = mode

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, "qr")
        n = 1 if self.mode == "r" else 2
        return Apply(self, [x], [TensorType(x.dtype, (False, False))() for _ in range(n)])

    def perform(self, node, inputs, output_storage):
        result = np.linalg.qr(inputs[0], self.mode)
        result = (result,) if self.mode == "r" else tuple(result)
        for cell, value, out in zip(output_storage, result, node.outputs):
            cell[0] = value.astype(out.dtype)

    def grad(self, inputs, output_grads):
        raise NotImplementedError("qr has no gradient (as in Theano)")


class Cholesky(Op):
    """The lower (or upper) Cholesky factor of a symmetric positive-definite matrix; its
    gradient (Murray's formula) is for the lower factor, as in Theano."""

    __props__ = ("lower",)

    def __init__(self, lower: bool = True) -> None:
        self.lower = bool(lower)

    def make_node(self, x: Any) -> Apply:
        x = _float_matrix(x, "cholesky")
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        factor = np.linalg.cholesky(inputs[0])
        output_storage[0][0] = (factor if self.lower else factor.T).astype(node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        if not self.lower:
            raise NotImplementedError("cholesky(lower=False) has no gradient (as in Theano); use the lower factor")
        T = _T()
        L, gL = outputs[0], output_grads[0]
        # Murray's: phi(Lᵀ gL) (lower triangle, half diagonal), then S = L⁻ᵀ phi L⁻¹
        inner = _triangle(T.dot(L.T, gL), lower=True)
        inner = inner - alloc_diag(_extract_diag(inner)) / 2
        L_inv = MatrixInverse()(L)
        sigma = T.dot(T.dot(L_inv.T, inner), L_inv)
        # The factorization reads the lower triangle: an entry below the diagonal stands for
        # both (i, j) and (j, i) of the symmetric matrix, a diagonal entry for itself.
        both = sigma + sigma.T
        return [_triangle(both, lower=True) - alloc_diag(_extract_diag(both)) / 2]


class Solve(Op):
    """``x`` with ``A x = b`` (``b`` a vector or a matrix); ``assume_a`` general or, for
    ``lower``/``upper`` triangular ``A``, a triangular solve."""

    __props__ = ("structure",)

    def __init__(self, structure: str = "general") -> None:
        check_choice("solve: structure", structure, ("general", "lower_triangular", "upper_triangular"))
        self.structure = structure

    def make_node(self, A: Any, b: Any) -> Apply:
        A = _float_matrix(A, "solve: A")
        b = _T().as_tensor_variable(b)
        if b.ndim not in (1, 2):
            raise TypeError(f"solve: b must be a vector or a matrix, got a {b.ndim}-d tensor")
        dtype = np.result_type(A.dtype, b.dtype if b.dtype.startswith("float") else "float64").name
        return Apply(self, [A, b], [TensorType(dtype, (False,) * b.ndim)()])

    def perform(self, node, inputs, output_storage):
        A, b = inputs
        if self.structure == "general":
            x = np.linalg.solve(A, b)
        else:
            from scipy.linalg import solve_triangular
            x = solve_triangular(A, b, lower=self.structure == "lower_triangular")
        output_storage[0][0] = np.asarray(x, dtype=node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        T = _T()
        A, b = inputs
        x, gx = outputs[0], output_grads[0]
        transposed = {"lower_triangular": "upper_triangular", "upper_triangular": "lower_triangular"}
        gb = Solve(transposed.get(self.structure, "general"))(A.T, gx)
        gA = -(T.outer(gb, x) if x.ndim == 1 else T.dot(gb, x.T))
        if self.structure != "general":
            gA = _triangle(gA, lower=self.structure == "lower_triangular")
        return [gA, gb]


class Expm(_MatrixOp):
    """The matrix exponential (SciPy's Padé approximation); gradient through ``ExpmGrad``."""

    what = "expm"

    def perform(self, node, inputs, output_storage):
        from scipy.linalg import expm
        output_storage[0][0] = expm(inputs[0]).astype(node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        return [ExpmGrad()(inputs[0], output_grads[0])]


class ExpmGrad(Op):
    """The gradient of ``sum(gz * expm(A))`` in ``A``: the Fréchet derivative of ``expm`` at
    ``Aᵀ`` in the direction ``gz``, read from the top-right block of the exponential of
    ``[[Aᵀ, gz], [0, Aᵀ]]`` (exact for any ``A``, unlike an eigendecomposition, which needs
    ``A`` diagonalizable with real eigenvalues)."""

    __props__ = ()

    def make_node(self, A: Any, gz: Any) -> Apply:
        A, gz = _float_matrix(A, "expm"), _float_matrix(gz, "expm's gradient")
        return Apply(self, [A, gz], [A.type()])

    def perform(self, node, inputs, output_storage):
        from scipy.linalg import expm
        A, gz = inputs
        n = A.shape[0]
        block = np.zeros((2 * n, 2 * n), dtype=np.result_type(A, gz))
        block[:n, :n] = block[n:, n:] = A.T
        block[:n, n:] = gz
        output_storage[0][0] = expm(block)[:n, n:].astype(node.outputs[0].dtype)

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]
