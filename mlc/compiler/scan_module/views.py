"""``map``, ``reduce``, ``foldl`` and ``foldr``: ``scan`` with fixed roles, as in Theano."""
from __future__ import annotations

from typing import Any, Callable

from .scan import OrderedUpdates, scan


def map(fn: Callable, sequences: Any, non_sequences: Any = None, truncate_gradient: int = -1,  # noqa: A001
        go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """``fn`` applied to each step of ``sequences``; outputs stacked (nothing fed back).

    >>> import mlc.compiler.tensor as T
    >>> squares, _ = map(lambda v: v ** 2, T.vector("v"))
    """
    return scan(fn, sequences, None, non_sequences, truncate_gradient=truncate_gradient,
                go_backwards=go_backwards, mode=mode, name=name)


def reduce(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,  # noqa: A001
           go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """Like ``scan`` but returns only the final value of each output."""
    results, updates = scan(fn, sequences, outputs_info, non_sequences, go_backwards=go_backwards,
                            mode=mode, name=name)
    if isinstance(results, list):
        return [r[-1] for r in results], updates
    return results[-1], updates


def foldl(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """``reduce`` from the first step to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """``reduce`` from the last step to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode, name=name)
