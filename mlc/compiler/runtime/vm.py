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


def destroys_shared(node: Apply) -> list[int]:
    """Positions of the inputs whose shared-variable storage ``node`` overwrites."""
    from ..sharedvalue import SharedVariable
    return sorted({i for ins in getattr(node.op, "destroy_map", {}).values() for i in ins
                   if isinstance(node.inputs[i], SharedVariable)})


class VM:
    """Runs ``nodes`` in order. ``storage[var]`` is the cell holding ``var``'s value.

    Nodes that overwrite shared-variable storage (in-place updates) run last, as one
    commit: those whose thunks can ``prepare()`` (check every shape before writing) are
    checked together first; the others write over a backup copy of their target, restored
    if anything after them fails. So a failed call leaves every shared variable as it was.
    """

    def __init__(self, nodes: Sequence[Apply], storage: dict[Variable, list],
                 make_thunk: Callable[[Apply, list, list], Thunk] | None = None,
                 outputs: Sequence[Variable] = ()) -> None:
        # Commit nodes' outputs feed only the function's outputs (the in-place rewrite
        # guarantees it), so every other node can run before them.
        commits = [n for n in nodes if destroys_shared(n)]
        self.nodes = [n for n in nodes if n not in commits] + commits
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
            self.calls.append(runnable(thunk) if thunk is not None else perform_call(node, ins, outs))
        self.commit = None
        first = len(self.nodes) - len(commits) if len(commits) > 1 else len(self.nodes)
        if first < len(self.nodes):
            self.commit = Commit(self.steps[first:], self.calls[first:])
        from .lazy import lazy_calls
        self.calls, self.call_nodes = lazy_calls(self.nodes[:first], self.calls[:first], self.steps, outputs)
        self._ins = {step[0]: step[1] for step in self.steps}

    def __call__(self) -> None:
        i = 0
        try:
            for call in self.calls:
                call()
                i += 1
        except Exception as err:
            raise self.error(err, i) from err
        if self.commit is not None:
            self.commit()

    def error(self, err: BaseException, i: int = 0) -> BaseException:
        """``err``, raised by step ``i``, re-raised with that node's description."""
        if getattr(err, "_mlc_node", None) is not None or not self.call_nodes:
            return err  # described where it was raised (a branch, the commit)
        node = self.call_nodes[i]
        return node_error(node, err, [c[0] for c in self._ins[node]])

    @property
    def run(self) -> Callable[[], None]:
        """The cheapest callable running the schedule (the thunk itself for one step)."""
        return self.calls[0] if len(self.calls) == 1 and self.commit is None else self


class Commit:
    """The in-place updates of shared variables, applied all or none (see ``VM``)."""

    def __init__(self, steps: list, calls: list) -> None:
        checked = [k for k, step in enumerate(steps) if hasattr(step[3], "prepare")]
        guarded = [k for k in range(len(steps)) if k not in checked]
        self.checked = [steps[k] for k in checked]
        # The last guarded step needs no backup: only checked steps run after it.
        self.order = [(steps[k], calls[k], destroys_shared(steps[k][0]) if k != guarded[-1] else [])
                      for k in guarded] + [(steps[k], calls[k], []) for k in checked]

    def __call__(self) -> None:
        for node, ins, _, thunk in self.checked:
            try:
                thunk.prepare()
            except Exception as err:
                raise node_error(node, err, [c[0] for c in ins]) from err
        backups: list = []
        for (node, ins, _, _), call, backed_up in self.order:
            try:
                # .copy(): NumPy's, or a device array's own
                backups += [(ins[i], ins[i][0], ins[i][0].copy()) for i in backed_up]
                call()
            except Exception as err:
                for cell, original, saved in backups:
                    if isinstance(original, np.ndarray):
                        np.copyto(original, saved)  # in place: a borrowed reference sees it too
                    else:
                        cell[0] = saved
                raise node_error(node, err, [c[0] for c in ins]) from err


def runnable(thunk: Any) -> Callable[[], None]:
    """What runs ``thunk``: its ``call`` where it offers one (a cheaper callable doing the
    same, such as a C fast path), else the thunk itself."""
    return getattr(thunk, "call", thunk)


def perform_call(node: Apply, ins: list, outs: list) -> Callable[[], None]:
    """A node's Python ``perform`` as a call over its cells."""
    perform = node.op.perform

    def call() -> None:
        perform(node, [c[0] for c in ins], outs)
    return call
