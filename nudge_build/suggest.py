"""Did-you-mean hints for names a user types: commands, clients, flags, template sets."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to a mistyped ``word``, or None when nothing is near enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1)
    return matches[0] if matches else None


def hint(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` to append to a message, or nothing."""
    match = closest(word, choices)
    return f" (did you mean {match!r}?)" if match is not None else ""
