"""Secret values: a wrapper that never prints itself, and a registry used to redact output.

Every secret the run learns (client secret, access tokens, secret API keys) is registered here,
and every line nudge-build prints or logs passes through ``redact``. The wrapper stops accidental
formatting; the registry is the second line of defence for text we did not write ourselves
(server error descriptions, exception chains under ``-v``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

REDACTED = "***"
# Too-short values would redact ordinary words; real secrets are longer than this.
_MIN_REDACT_LENGTH = 4

_lock = threading.Lock()
_known: set[str] = set()
_listeners: list[Callable[[str], None]] = []


class Secret:
    """A string that shows ``***`` when printed, formatted or put in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def register(value: str) -> None:
    """Remember ``value`` as secret; listeners (GitHub's ``::add-mask::``) hear of it at once."""
    if len(value) < _MIN_REDACT_LENGTH:
        return
    with _lock:
        if value in _known:
            return
        _known.add(value)
        listeners = list(_listeners)
    for listener in listeners:
        listener(value)


def add_listener(listener: Callable[[str], None]) -> None:
    """Call ``listener`` for every secret registered from now on, and for those already known."""
    with _lock:
        _listeners.append(listener)
        known = sorted(_known)
    for value in known:
        listener(value)


def clear_listeners() -> None:
    with _lock:
        _listeners.clear()


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` (longest first, so prefixes do not leak)."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    return text
