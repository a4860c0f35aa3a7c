"""``T.extra_ops`` (Theano's ``theano.tensor.extra_ops``) and the indexing helpers of ``T``:
cumulative sums and products, differences, repetition, one-hot codes, sorting, ``roll``,
``tile``, counting and searching (``bincount``, ``searchsorted``, ``unique``), diagonals,
index conversions, ``nonzero`` and friends, ``take``, ``compress``, ``split``, ``topk``.
Where an operation is a composition of existing ops it is written so (the gradient and the
fused C kernels come with it); the rest are ops of their own (``ops.extra``, ``ops.search``)."""
from __future__ import annotations

from typing import Any, Sequence

from ..ops.extra import CumOp, Sort
from ..ops.search import BinCount, Choose, NonZero, RavelMultiIndex, SearchSorted, Unique, UnravelIndex
from . import basic as T
from .subtensor import set_subtensor
from .variable import TensorVariable, as_tensor_variable


def cumsum(x: Any, axis: int | None = None) -> TensorVariable:
    """Cumulative sum along ``axis`` (None: of the flattened input)."""
    return CumOp(axis, "add")(x)


def cumprod(x: Any, axis: int | None = None) -> TensorVariable:
    """Cumulative product along ``axis`` (None: of the flattened input)."""
    return CumOp(axis, "mul")(x)


def diff(x: Any, n: int = 1, axis: int = -1) -> TensorVariable:
    """The ``n``-th difference along ``axis`` (``x[1:] - x[:-1]``, ``n`` times)."""
    x = as_tensor_variable(x)
    axis = axis % x.ndim
    for _ in range(n):
        upper, lower = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        upper[axis], lower[axis] = slice(1, None), slice(None, -1)
        x = x[tuple(upper)] - x[tuple(lower)]
    return x


def repeat(x: Any, repeats: int, axis: int | None = None) -> TensorVariable:
    """Each element repeated ``repeats`` times along ``axis`` (None: of the flattened input)."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = x.flatten(), 0
    axis = axis % x.ndim
    if not isinstance(repeats, int) or repeats < 0:
        raise ValueError(f"repeat: repeats must be a non-negative int here, got {repeats!r}")
    expanded = T.shape_padaxis(x, axis + 1)
    shape = [x.shape[d] for d in range(x.ndim)]
    tiled = T.alloc(expanded, *shape[:axis + 1], repeats, *shape[axis + 1:])
    return T.reshape(tiled, shape[:axis] + [shape[axis] * repeats] + shape[axis + 1:], ndim=x.ndim)


def to_one_hot(y: Any, nb_class: int, dtype: Any = None) -> TensorVariable:
    """Rows of ``nb_class`` zeros with a one at each label of the int vector ``y``."""
    y = as_tensor_variable(y)
    return T.cast(T.eq(y.dimshuffle(0, "x"), T.arange(nb_class).dimshuffle("x", 0)), dtype or T.config.floatX)


def sort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None) -> TensorVariable:
    """``a`` sorted along ``axis`` (None: flattened); ``kind`` is accepted (the sort is stable)."""
    return Sort(axis)(a)


def argsort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None) -> TensorVariable:
    """The indices that sort ``a`` along ``axis`` (stable)."""
    return Sort(axis, indices=True)(a)


def roll(x: Any, shift: int, axis: int | None = None) -> TensorVariable:
    """``x`` rotated by ``shift`` positions along ``axis`` (None: flattened, shape kept)."""
    x = as_tensor_variable(x)
    if axis is None:
        return roll(x.flatten(), shift, 0).reshape(x.shape)
    axis = axis % x.ndim
    n = x.shape[axis]
    k = shift % n
    head, tail = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    head[axis], tail[axis] = slice(n - k, None), slice(None, n - k)
    return T.concatenate([x[tuple(head)], x[tuple(tail)]], axis=axis)


def tile(x: Any, reps: Sequence[int], ndim: int | None = None) -> TensorVariable:
    """``x`` repeated ``reps[d]`` times along each axis ``d`` (as ``numpy.tile``)."""
    x = as_tensor_variable(x)
    reps = list(reps)
    while x.ndim < len(reps):
        x = T.shape_padleft(x)
    reps = [1] * (x.ndim - len(reps)) + reps
    for axis, r in enumerate(reps):
        if r != 1:
            x = T.concatenate([x] * r, axis=axis)
    return x


def ptp(a: Any, axis: Any = None) -> TensorVariable:
    """Range (maximum minus minimum) along ``axis``."""
    a = as_tensor_variable(a)
    return a.max(axis=axis) - a.min(axis=axis)


def largest(*args: Any) -> TensorVariable:
    """The elementwise maximum of all arguments."""
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = T.maximum(out, a)
    return out


def smallest(*args: Any) -> TensorVariable:
    """The elementwise minimum of all arguments."""
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = T.minimum(out, a)
    return out


squeeze = T.squeeze


def bincount(x: Any, weights: Any = None, minlength: int | None = None, assert_nonneg: bool = False) -> TensorVariable:
    """Occurrences of each value of the non-negative int vector ``x`` (sums of ``weights``)."""
    return BinCount(minlength)(x, weights)


def searchsorted(x: Any, v: Any, side: str = "left", sorter: Any = None) -> TensorVariable:
    """Indices where ``v`` would be inserted into the sorted vector ``x`` to keep it sorted."""
    return SearchSorted(side)(x, v, sorter)


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
           axis: int | None = None) -> Any:
    """The sorted distinct values of ``ar`` (a list with the requested index outputs)."""
    return Unique(return_index, return_inverse, return_counts, axis)(ar)


def _diagonal_indices(rows: Any, cols: Any, offset: Any) -> tuple:
    """Row and column indices of the diagonal ``offset`` (> 0: above) of a ``rows x cols`` matrix."""
    offset = as_tensor_variable(offset)
    above = T.ge(offset, 0)
    length = T.maximum(T.switch(above, T.minimum(rows, cols - offset), T.minimum(rows + offset, cols)), 0)
    steps = T.arange(length)
    return steps + T.switch(above, 0, -offset), steps + T.switch(above, offset, 0)


def fill_diagonal(a: Any, val: Any) -> TensorVariable:
    """``a`` with its main diagonal set to the scalar ``val`` (every axis for an N-d ``a``)."""
    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal: a needs at least 2 dimensions, got {a.ndim}")
    steps = T.arange(T.min(T.stack([a.shape[d] for d in range(a.ndim)])))
    return set_subtensor(a[(steps,) * a.ndim], val)


def fill_diagonal_offset(a: Any, val: Any, offset: Any) -> TensorVariable:
    """The matrix ``a`` with its diagonal ``offset`` (> 0: above the main one) set to ``val``."""
    a = as_tensor_variable(a)
    rows, cols = _diagonal_indices(a.shape[0], a.shape[1], offset)
    return set_subtensor(a[rows, cols], val)


def diagonal(a: Any, offset: Any = 0, axis1: int = 0, axis2: int = 1) -> TensorVariable:
    """The diagonal ``offset`` of the ``axis1``/``axis2`` planes, as the last axis (as NumPy)."""
    a = as_tensor_variable(a)
    axis1, axis2 = axis1 % a.ndim, axis2 % a.ndim
    rest = [d for d in range(a.ndim) if d not in (axis1, axis2)]
    planes = a.dimshuffle(axis1, axis2, *rest)
    rows, cols = _diagonal_indices(planes.shape[0], planes.shape[1], offset)
    picked = planes[rows, cols]  # (length, rest...)
    return picked.dimshuffle(*range(1, picked.ndim), 0)


def ravel_multi_index(multi_index: Sequence[Any], dims: Any, mode: str = "raise", order: str = "C") -> TensorVariable:
    """Flat indices of the index arrays ``multi_index`` into an array of shape ``dims``."""
    return RavelMultiIndex(mode, order)(*multi_index, dims)


def unravel_index(indices: Any, dims: Any, order: str = "C", ndim: int | None = None) -> tuple:
    """One index array per dimension of ``dims`` (a sequence, or a vector with ``ndim``)."""
    if ndim is None:
        if not isinstance(dims, (list, tuple)):
            raise TypeError("unravel_index: give dims as a list or tuple, or ndim for a symbolic vector")
        ndim = len(dims)
    out = UnravelIndex(ndim, order)(indices, dims)
    return tuple(out) if isinstance(out, list) else (out,)


def nonzero(a: Any, return_matrix: bool = False) -> Any:
    """The indices of ``a``'s non-zero elements: a tuple of vectors, or stacked as a matrix."""
    out = NonZero()(a)
    out = tuple(out) if isinstance(out, list) else (out,)
    return T.stack(list(out)) if return_matrix else out


def flatnonzero(a: Any) -> TensorVariable:
    """The indices of the non-zero elements of the flattened ``a``."""
    return nonzero(as_tensor_variable(a).flatten())[0]


def nonzero_values(a: Any) -> TensorVariable:
    """The non-zero elements of the flattened ``a``, in order."""
    a = as_tensor_variable(a)
    return a.flatten()[flatnonzero(a)]


def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> TensorVariable:
    """Elements (``axis`` None: of the flattened ``a``) or slices along ``axis`` picked by the
    integer array ``indices``; ``mode`` raise (negative indices count from the end), wrap or clip."""
    a, indices = as_tensor_variable(a), as_tensor_variable(indices)
    if axis is None:
        a, axis = a.flatten(), 0
    axis = axis % a.ndim
    n = a.shape[axis]
    if mode == "wrap":
        indices = indices % n
    elif mode == "clip":
        indices = T.clip(indices, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    front = a.dimshuffle(axis, *[d for d in range(a.ndim) if d != axis])
    picked = front[indices.flatten()] if indices.ndim != 1 else front[indices]
    if indices.ndim != 1:
        shape = [indices.shape[d] for d in range(indices.ndim)] + [front.shape[d] for d in range(1, a.ndim)]
        picked = T.reshape(picked, shape, ndim=indices.ndim + a.ndim - 1)
    k = indices.ndim
    order = list(range(k, k + axis)) + list(range(k)) + list(range(k + axis, picked.ndim))
    return picked.dimshuffle(*order)


def compress(condition: Any, x: Any, axis: int | None = None) -> TensorVariable:
    """The slices of ``x`` along ``axis`` (None: elements of the flattened ``x``) where
    ``condition`` is true."""
    return take(x, flatnonzero(condition), axis)


def split(x: Any, splits_size: Any, n_splits: int, axis: int = 0) -> list:
    """``x`` cut along ``axis`` into ``n_splits`` parts of the lengths in ``splits_size``."""
    x, sizes = as_tensor_variable(x), as_tensor_variable(splits_size)
    axis = axis % x.ndim
    ends = cumsum(sizes)
    parts = []
    for k in range(int(n_splits)):
        window = [slice(None)] * x.ndim
        window[axis] = slice(ends[k - 1] if k else 0, ends[k])
        parts.append(x[tuple(window)])
    return parts


def inverse_permutation(perm: Any) -> TensorVariable:
    """The permutation that undoes ``perm`` (along the last axis: rows of a matrix each)."""
    return argsort(perm, axis=-1)


def _top(x: Any, kth: int, axis: int, indices: bool) -> TensorVariable:
    if not isinstance(kth, int) or kth == 0:
        raise ValueError(f"topk: kth must be a non-zero int (> 0: largest, < 0: smallest), got {kth!r}")
    x = as_tensor_variable(x)
    axis = axis % x.ndim
    ordered = Sort(axis, indices)(x)
    window = [slice(None)] * x.ndim
    window[axis] = slice(None, -kth - 1, -1) if kth > 0 else slice(None, -kth)  # largest first, or smallest first
    return ordered[tuple(window)]


def topk(x: Any, kth: int, axis: int = -1, sorted: bool = True, idx_dtype: str = "int64") -> TensorVariable:
    """The ``kth`` largest values along ``axis`` (largest first); ``kth < 0``: the smallest.
    ``sorted=False`` leaves the order free, and the values come sorted all the same."""
    return _top(x, kth, axis, False)


def argtopk(x: Any, kth: int, axis: int = -1, sorted: bool = True, idx_dtype: str = "int64") -> TensorVariable:
    """The indices of ``topk``'s values."""
    return T.cast(_top(x, kth, axis, True), idx_dtype)


def topk_and_argtopk(x: Any, kth: int, axis: int = -1, sorted: bool = True, idx_dtype: str = "int64") -> tuple:
    """``(topk, argtopk)``."""
    return topk(x, kth, axis), argtopk(x, kth, axis, idx_dtype=idx_dtype)


def batched_tensordot(x: Any, y: Any, axes: Any = 2) -> TensorVariable:
    """``tensordot`` of ``x[i]`` and ``y[i]`` for every ``i`` of the first (batch) axis:
    ``axes`` an int (the last ``axes`` axes of ``x`` with the first ones of ``y`` after the
    batch axis) or two lists of axes (counted with the batch axis, which they must not hold)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if isinstance(axes, int):
        axes = [list(range(x.ndim - axes, x.ndim)), list(range(1, axes + 1))]
    sum_x, sum_y = [a % x.ndim for a in axes[0]], [a % y.ndim for a in axes[1]]
    if 0 in sum_x or 0 in sum_y or len(sum_x) != len(sum_y):
        raise ValueError(f"batched_tensordot: axes {axes} must pair up the same number of non-batch axes")
    free_x = [d for d in range(1, x.ndim) if d not in sum_x]
    free_y = [d for d in range(1, y.ndim) if d not in sum_y]
    batch = x.shape[0]

    def size(v, dims):
        return T.prod(T.stack([v.shape[d] for d in dims])) if dims else 1
    left = T.reshape(x.dimshuffle(0, *free_x, *sum_x), (batch, size(x, free_x), size(x, sum_x)), ndim=3)
    right = T.reshape(y.dimshuffle(0, *sum_y, *free_y), (batch, size(y, sum_y), size(y, free_y)), ndim=3)
    product = T.batched_dot(left, right)
    shape = [batch] + [x.shape[d] for d in free_x] + [y.shape[d] for d in free_y]
    return T.reshape(product, shape, ndim=len(shape))


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> TensorVariable:
    """``choices[a]`` elementwise (``numpy.choose``)."""
    if out is not None:
        raise ValueError("choose: out= is not supported (a graph has no output arrays to write into)")
    return Choose(mode)(a, choices)


__all__ = ["cumsum", "cumprod", "diff", "repeat", "to_one_hot", "sort", "argsort", "roll", "tile", "ptp", "largest",
           "smallest", "squeeze", "bincount", "searchsorted", "unique", "fill_diagonal", "fill_diagonal_offset",
           "diagonal", "ravel_multi_index", "unravel_index", "nonzero", "flatnonzero", "nonzero_values", "take",
           "compress", "split", "inverse_permutation", "topk", "argtopk", "topk_and_argtopk", "choose",
           "batched_tensordot"]
