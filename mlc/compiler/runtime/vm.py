"""The VM: a flat schedule of thunks over a storage map of one-element cells."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..graph import Apply, Constant, Variable, format_trace


def _describe_value(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype}{list(v.shape)}"
    return type(v).__name__


def node_error(node: Apply, err: BaseException, inputs: Sequence[Any]) -> BaseException:
    """``err`` re-raised with the op, its input shapes/dtypes and the user's source line."""
    if getattr(err, "_mlc_node", None) is not None:
        return err
    message = (f"{err}\n  while running {node.op} on inputs "
               f"({', '.join(_describe_value(v) for v in inputs)})\n"
               f"  the node was created at: {format_trace(node.tag.trace)}")
    try:
        new = type(err)(message)
    except Exception:  # an exception type whose constructor takes other arguments
        new = RuntimeError(message)
    new._mlc_node = node  # type: ignore[attr-defined]
    return new


Thunk = Callable[[], None]


class VM:
    """Runs ``nodes`` in order. ``storage[var]`` is the cell holding ``var``'s value."""

    def __init__(self, nodes: Sequence[Apply], storage: dict[Variable, list],
                 make_thunk: Callable[[Apply, list, list], Thunk] | None = None) -> None:
        self.nodes = list(nodes)
        self.storage = storage
        for node in self.nodes:
            for v in node.inputs:
                if v not in storage:
                    storage[v] = [v.data] if isinstance(v, Constant) else [None]
            for v in node.outputs:
                storage.setdefault(v, [None])
        self.steps = []
        self.calls = []
        for node in self.nodes:
            ins = [storage[v] for v in node.inputs]
            outs = [storage[v] for v in node.outputs]
            thunk = make_thunk(node, ins, outs) if make_thunk else None
            self.steps.append((node, ins, outs, thunk))
            self.calls.append(thunk if thunk is not None else _perform_call(node, ins, outs))

    def __call__(self) -> None:
        i = 0
        try:
            for call in self.calls:
                call()
                i += 1
        except Exception as err:
            raise self.error(err, i) from err

    def error(self, err: BaseException, i: int = 0) -> BaseException:
        """``err``, raised by step ``i``, re-raised with that node's description."""
        node, ins, _, _ = self.steps[i]
        return node_error(node, err, [c[0] for c in ins])

    @property
    def run(self) -> Callable[[], None]:
        """The cheapest callable running the schedule (the thunk itself for one step)."""
        return self.calls[0] if len(self.calls) == 1 else self


def _perform_call(node: Apply, ins: list, outs: list) -> Callable[[], None]:
    perform = node.op.perform

    def call() -> None:
        perform(node, [c[0] for c in ins], outs)
    return call
