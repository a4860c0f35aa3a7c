"""The per-call fast path of compiled loop kernels: ``_fastcall.c``, a small CPython
extension built when mlc is installed, whose ``FlatCall`` objects run one elementwise kernel
on C-contiguous operands of one shape (read the cells, take the data pointers, reuse or
allocate the output, call the kernel) in ~0.1 µs, where the same steps through cffi cost
~2.5 µs, and its strided loop on the one layout of other operands that the thunk's Python
path remembered for it (a scan step's slices of its gates: 11 µs of Python a call before);
``ReduceCall`` objects do the same for a reduction kernel, with the loop layout its
thunk's Python path worked out for that shape. Anything else (a layout not yet remembered,
values that are not arrays) goes to the thunk's Python path. Where the extension could not be
built (no compiler when installing), every call takes the Python path and nothing else
changes.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .native import address

try:
    from . import _fastcall, _rows
except ImportError:  # installed without a C compiler: the Python path only
    _fastcall = _rows = None

# Operands (inputs and output) of the largest kernel the fast path takes.
MAX_OPERANDS = _fastcall.MAX_OPERANDS if _fastcall is not None else 0
MAX_REDUCE_OPERANDS = _fastcall.MAX_REDUCE_OPERANDS if _fastcall is not None else 0


def available() -> bool:
    """Whether the extension was built (mlc's install compiles it)."""
    return _fastcall is not None


def flat_call(ins: list, out_cell: list, buffer: list | None, fallback: Callable[[], None], kernel: Any,
              scalar: list[bool], lead: int, inplace: int | None, dtype: str) -> Callable[[], None] | None:
    """A callable running ``kernel`` (a cffi function ``void(long n, void*...)``) on the arrays
    in the cells ``ins`` into ``out_cell`` when they are C-contiguous and the non-``scalar``
    ones share one shape (``buffer``: a cell keeping the output between calls, or None), else
    calling ``fallback``; None when there is no fast path for it."""
    if _fastcall is None or not ins or len(ins) + 1 > MAX_OPERANDS:
        return None
    return _fastcall.FlatCall(tuple(ins), out_cell, buffer, fallback, address(kernel), bytes(map(bool, scalar)),
                              lead, -1 if inplace is None else inplace, np.dtype(dtype).num)


def remember_strided(call: Any, kernel: Any, shape: tuple, arrays: list, out: np.ndarray, held: tuple) -> None:
    """Have the ``FlatCall`` ``call`` run the strided loop ``kernel`` (a cffi function) on
    operands laid out as ``arrays`` and ``out`` are (their shapes and strides), given the
    int64 arrays ``held`` (the loop's shape and element strides, as the kernel takes them);
    a layout past the limits of the fast path is left to the Python path."""
    if len(arrays) + 1 <= _fastcall.MAX_STRIDED_OPERANDS and len(shape) <= _fastcall.MAX_STRIDED_DIMS and all(
            type(a) is np.ndarray and a.ndim <= _fastcall.MAX_STRIDED_DIMS for a in arrays):
        call.remember(address(kernel), tuple(shape), tuple(a.shape for a in arrays), tuple(a.strides for a in arrays),
                      out.strides, tuple(held))


def reduce_call(ins: list, out_cell: list, buffer: list | None, fallback: Callable[[], None], kernel: Any,
                dtype: str) -> Any:
    """A ``ReduceCall`` running the reduction ``kernel`` (``void(int nk, int nr, void* kept,
    void* reduced, void* kept_strides, void* reduced_strides, void*...)``) on the arrays in
    the cells ``ins`` into ``out_cell`` once ``remember(shape, out_shape, nk, nr, held)`` has
    given it the layout for C-contiguous inputs of ``shape``, else calling ``fallback``; None
    when there is no fast path for it."""
    if _fastcall is None or not ins or len(ins) + 1 > MAX_REDUCE_OPERANDS:
        return None
    return _fastcall.ReduceCall(tuple(ins), out_cell, buffer, fallback, address(kernel), np.dtype(dtype).num)


def rows_call(ins: list, in_kinds: str, outs: list, out_kinds: str, fallback: Callable[[], None], kernel: Any,
              dtype: str, flag: int | None) -> Any:
    """A ``RowsCall`` (``_rows.c``) running the row kernel ``kernel`` (``void(long n, long k,
    void* operands..., [void* bad | int flag])``) on the arrays in the cells ``ins`` into new
    arrays in the cells ``outs`` when every one is C-contiguous of its kind: ``m`` rows of
    ``k`` (``dtype``, the shape of the first ``m``), ``v`` one ``dtype`` value per row, ``l``
    one int64 label per row. ``flag`` is passed last, or (None) the kernel reports the row
    of the first bad label there and the call goes to ``fallback``, as do all others; None
    when there is no fast path."""
    if _rows is None:
        return None
    return _rows.RowsCall(tuple(ins), in_kinds.encode(), tuple(outs), out_kinds.encode(), fallback, address(kernel),
                          np.dtype(dtype).num, _rows.BAD_ROW if flag is None else int(flag))
