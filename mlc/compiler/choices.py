"""One check for arguments that take one of a few named values (modes, sides, policies), so
that every such error reads the same way."""
from typing import Any, Sequence


def check_choice(what: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a ValueError naming ``what`` and them all.

    >>> check_choice("qr: mode", "r", ("reduced", "complete", "r"))
    'r'
    """
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        raise ValueError(f"{what} must be {listed}, got {value!r}")
    return value
