"""Secret values: a wrapper that never prints itself, and a registry used to redact output.

Every secret the run learns (client secret, access tokens, secret API keys) is registered here,
and every line nudge-build prints or logs passes through ``redact``. The wrapper stops accidental
formatting; the registry is the second line of defence for text we did not write ourselves
(server error descriptions, exception chains under ``-v``).

A server may echo a secret cut short or re-encoded, so ``redact`` removes any run of
``RUN`` characters of a secret: as it is, percent-encoded (the text is decoded to look), and
base64-encoded (a piece of ``RUN`` bytes shows as ``_B64_RUN`` characters that do not depend on
its neighbours, at one of three alignments). Runs that also occur in a public name (a client
id, the OAuth client id) are left alone: test keys are often made of the client id, and
printing the id is the tool's job.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

REDACTED = "***"
# Too-short values would redact ordinary words; real secrets are longer than this.
_MIN_REDACT_LENGTH = 4
RUN = 8  # the shortest piece of a secret that counts as a leak
# Base64 turns 8 bytes into 10 or 11 characters; 10 of them depend on those bytes alone.
_B64_RUN = 10
_STEP = 4  # see _Needles
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_URL_SAFE = str.maketrans("-_", "+/")  # base64url read as base64

_lock = threading.Lock()
_known: set[str] = set()
_public: set[str] = set()
_listeners: list[Callable[[str], None]] = []


@dataclass(frozen=True)
class _Needles:
    """Pieces of one width, and the shorter pieces of those that a quick look tries first.

    A piece of ``width`` characters in a text covers a position that is a multiple of _STEP
    with ``width - _STEP + 1`` of its characters after it: looking only there, for those
    shorter pieces, finds every text that may hold one in a _STEP-th of the slices."""

    width: int
    pieces: frozenset[str]
    probes: frozenset[str]

    @classmethod
    def of(cls, pieces: set[str], width: int) -> _Needles:
        short = width - _STEP + 1
        probes = {p[i : i + short] for p in pieces for i in range(_STEP)}
        return cls(width, frozenset(pieces), frozenset(probes))

    def may_be_in(self, view: str) -> bool:
        short = self.width - _STEP + 1
        return not self.probes.isdisjoint(
            view[i : i + short] for i in range(0, len(view) - short + 1, _STEP)
        )


@dataclass(frozen=True)
class _Index:
    """What ``redact`` looks for, built when first needed after a change."""

    whole: tuple[str, ...]  # every secret, longest first
    short: tuple[str, ...]  # those shorter than RUN: only found whole
    runs: _Needles  # every RUN-character piece of a secret (a space also as '+')
    b64_runs: _Needles  # every _B64_RUN-character piece of their base64 forms


_index: _Index | None = None


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
    global _index
    with _lock:
        if value in _known:
            return
        _known.add(value)
        _index = None
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


def declare_public(names: Iterable[str]) -> None:
    """Names the run prints by design: a piece of a secret that is also in one is not redacted."""
    global _index
    with _lock:
        new = set(names) - _public
        if new:
            _public.update(new)
            _index = None


def redact(text: str) -> str:
    """``text`` with every secret, and every piece of one (plain, percent- or base64-encoded),
    replaced by ``***``; whole secrets first, longest first, so that prefixes do not leak."""
    index = _current_index()
    if not index.whole:
        return text
    for value in index.short:
        if value in text:
            text = text.replace(value, REDACTED)
    spans = _pieces(text, index)
    if not spans:
        return text
    # A piece found: whole secrets go first, so that one shows as one ``***``.
    for value in index.whole:
        if value in text:
            text = text.replace(value, REDACTED)
    spans = _pieces(text, index)
    parts, done = [], 0
    for start, end in _merged(spans):
        parts += [text[done:start], REDACTED]
        done = end
    parts.append(text[done:])
    return "".join(parts)


def contains_secret(text: str) -> bool:
    """Whether ``text`` holds a secret or a piece of one, as ``redact`` would find it."""
    index = _current_index()
    return any(value in text for value in index.short) or bool(_pieces(text, index))


def _current_index() -> _Index:
    global _index
    with _lock:
        if _index is None:
            _index = _build_index(_known, _public)
        return _index


def _build_index(known: Iterable[str], public: Iterable[str]) -> _Index:
    whole = tuple(sorted(known, key=len, reverse=True))
    runs: set[str] = set()
    b64_runs: set[str] = set()
    for value in whole:
        runs.update(_windows(value, RUN))
        if " " in value:  # as form encoding sends it
            runs.update(_windows(value.replace(" ", "+"), RUN))
        data = value.encode("utf-8", "surrogatepass")
        if len(data) < RUN:
            continue
        for offset in range(3):
            b64_runs.update(_windows(_aligned_base64(data, offset), _B64_RUN))
    for name in public:
        runs.difference_update(_windows(name, RUN))
    short = tuple(value for value in whole if len(value) < RUN)
    return _Index(whole, short, _Needles.of(runs, RUN), _Needles.of(b64_runs, _B64_RUN))


def _aligned_base64(data: bytes, offset: int) -> str:
    """The base64 characters of ``data`` that do not depend on its neighbours, when it starts
    ``offset`` bytes into a 3-byte group of a longer encoded stream."""
    encoded = base64.b64encode(bytes(offset) + data).decode("ascii").rstrip("=")
    total = offset + len(data)
    end = 4 * (total // 3) + total % 3  # the last partial group's full characters
    return encoded[(0, 2, 3)[offset] : end]


def _windows(text: str, width: int) -> set[str]:
    return {text[i : i + width] for i in range(len(text) - width + 1)}


def _pieces(text: str, index: _Index) -> list[tuple[int, int]]:
    """Where pieces of secrets are in ``text``: (start, end) spans, overlapping or not."""
    spans = _found(text, index.runs) + _found_base64(text, index.b64_runs)
    if "%" in text:
        view, starts, ends = _percent_decoded(text)
        if len(view) != len(text):
            found = _found(view, index.runs) + _found_base64(view, index.b64_runs)
            spans += [(starts[i], ends[j - 1]) for i, j in found]
    return spans


def _found_base64(view: str, needles: _Needles) -> list[tuple[int, int]]:
    # base64url read as base64: same length, so the spans are the view's.
    return _found(view.translate(_URL_SAFE), needles)


def _found(view: str, needles: _Needles) -> list[tuple[int, int]]:
    width = needles.width
    if len(view) < width or not needles.pieces or not needles.may_be_in(view):
        return []
    spans = []
    for hit in _windows(view, width) & needles.pieces:
        at = view.find(hit)
        while at != -1:
            spans.append((at, at + width))
            at = view.find(hit, at + 1)
    return spans


def _percent_decoded(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` with each run of %XX escapes decoded, and for each character of the result
    the span of ``text`` it came from (a decoded character: its whole run of escapes)."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0
    for match in _PERCENT_RUN.finditer(text):
        start, end = match.span()
        parts.append(text[done:start])
        starts += range(done, start)
        ends += range(done + 1, start + 1)
        decoded = bytes.fromhex(match.group().replace("%", "")).decode("utf-8", "replace")
        parts.append(decoded)
        starts += [start] * len(decoded)
        ends += [end] * len(decoded)
        done = end
    parts.append(text[done:])
    starts += range(done, len(text))
    ends += range(done + 1, len(text) + 1)
    return "".join(parts), starts, ends


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
