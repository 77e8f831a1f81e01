"""Swift, Kotlin and Dart string literals: terminated, and no raw line break inside."""

from __future__ import annotations

import bisect

from nudge_build.readers._common import fail, line_starts


def validate_source(text: str, language: str) -> None:
    """A light tokenizer: every string literal terminated, no raw newline inside a one-line one.

    Comments (nested ``/* */``), triple-quoted strings, Swift ``#"..."#`` raw strings, Dart
    ``r'...'`` raw strings and Kotlin/Dart ``'...'`` literals are recognised; interpolations are
    not parsed (a quote inside ``${...}`` is read as the end of the string, which is harmless
    for this check because it only looks for strings that never end).
    """
    starts = line_starts(text)
    i, n, depth = 0, len(text), 0
    while i < n:
        if depth:
            if text.startswith("*/", i):
                depth, i = depth - 1, i + 2
            elif text.startswith("/*", i):
                depth, i = depth + 1, i + 2
            else:
                i += 1
        elif text.startswith("//", i):
            while i < n and text[i] not in "\r\n":
                i += 1
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
        elif text[i] in "\"'#" or (language == "dart" and text[i] == "r"):
            i = _skip_literal(text, i, language, starts)
        else:
            i += 1
    if depth:
        fail("unterminated /* comment", bisect.bisect_right(starts, n - 1))


def _skip_literal(text: str, i: int, language: str, starts: list[int]) -> int:
    """If a string literal starts at ``i``, return the index after it; else ``i + 1``."""
    hashes = 0
    raw = False
    j = i
    if language == "swift":
        while j < len(text) and text[j] == "#":
            j += 1
        hashes = j - i
    elif language == "dart" and text[i] == "r":
        if i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_$"):
            return i + 1
        raw, j = True, i + 1
    if j >= len(text) or text[j] not in "\"'":
        return i + 1
    quote = text[j]
    if quote == "'" and language == "swift":
        return j + 1
    line = bisect.bisect_right(starts, j)
    if text.startswith(quote * 3, j) and not (language == "kotlin" and quote == "'"):
        closing = quote * 3 + "#" * hashes
        end = text.find(closing, j + 3)
        if end < 0:
            fail("unterminated multi-line string literal", line)
        return end + len(closing)
    escapes = not raw and hashes == 0
    k = j + 1
    closing = quote + "#" * hashes
    while k < len(text):
        if text[k] in "\r\n":
            fail("string literal has a raw line break", line)
        if escapes and text[k] == "\\":
            k += 2
            continue
        if hashes and text.startswith("\\" + "#" * hashes, k):
            k += 1 + hashes + 1
            continue
        if text.startswith(closing, k):
            return k + len(closing)
        k += 1
    fail("unterminated string literal", line)
