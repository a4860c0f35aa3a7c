"""The checking mode (``DEBUG``), on any backend: each node's thunk runs next to its Python
``perform``; a mismatch, or a NaN/Inf that the node's inputs did not have, raises naming
the node and the user's line that built it."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply, format_trace
from ..sharedvalue import on_a_device


class DebugThunk:
    """Runs a node's compiled thunk and its ``perform`` side by side and raises, naming the
    node and the user's line, on a mismatch or on a NaN/Inf its inputs did not have."""

    def __init__(self, node: Apply, thunk: Callable | None, ins: list, outs: list) -> None:
        self.node, self.thunk, self.ins, self.outs = node, thunk, ins, outs

    def __call__(self) -> None:
        node = self.node
        inputs = [_host(c[0]) for c in self.ins]
        copies = [np.copy(v) if isinstance(v, np.ndarray) else v for v in inputs]
        reference = [[None] for _ in self.outs]
        node.op.perform(node, [np.copy(v) if isinstance(v, np.ndarray) else v for v in copies], reference)
        if self.thunk is not None:
            self.thunk()
            for k, (cell, ref) in enumerate(zip(self.outs, reference)):
                got, want = _host(cell[0]), ref[0]
                if isinstance(want, np.ndarray) and not _close(got, want):
                    raise AssertionError(
                        f"DEBUG mode: compiled {node.op} disagrees with its perform on output {k}: max abs "
                        f"difference {np.nanmax(np.abs(np.asarray(got, float) - np.asarray(want, float)))}\n"
                        f"  the node was created at: {format_trace(node.tag.trace)}")
        else:
            for cell, ref in zip(self.outs, reference):
                cell[0] = ref[0]
        had_bad = any(isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.all(np.isfinite(v)) for v in copies)
        for k, cell in enumerate(self.outs):
            v = _host(cell[0])
            if not had_bad and isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                kind = "NaN" if np.isnan(v).any() else "Inf"
                raise FloatingPointError(f"DEBUG mode: {node.op} produced {kind} in output {k} from finite inputs\n"
                                         f"  the node was created at: {format_trace(node.tag.trace)}")


def _host(value: Any) -> Any:
    """A device array's host copy."""
    return value.get() if on_a_device(value) else value


def _close(got: Any, want: np.ndarray) -> bool:
    got = np.asarray(got)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if want.dtype.kind != "f":
        return bool(np.array_equal(got, want))
    tol = 1e-4 if want.dtype == np.float32 else 1e-9
    return bool(np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True))




def checked(make_thunk: Callable | None) -> Callable:
    """A thunk maker wrapping every thunk of ``make_thunk`` (or plain ``perform``) in a check."""
    def make(node: Apply, ins: list, outs: list) -> DebugThunk:
        return DebugThunk(node, make_thunk(node, ins, outs) if make_thunk else None, ins, outs)
    return make
