"""java.util.Properties.load, as Gradle reads gradle.properties (JDK 17 LineReader/loadConvert)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from nudge_build.readers._common import InvalidOutput, fail, line_starts

_PROPS_BLANK = " \t\f"  # the only characters Properties skips at a line start and around keys


def _properties_logical_lines(text: str) -> Iterator[tuple[str, int]]:
    """JDK 17 ``Properties.LineReader.readLine``, yielding (logical line, 0-based start offset).

    Ported state machine rather than a regex, because the corner cases are part of the contract:
    a backslash-newline joins lines and eats the next line's leading blanks, a continued line that
    starts with ``#`` is data, not a comment, and a trailing backslash at EOF is dropped.
    """
    i, n = 0, len(text)
    skip_lf = False
    while True:
        chars: list[str] = []
        start = -1
        skip_ws, appended_line_begin, backslash = True, False, False
        while True:
            if i >= n:
                if chars:
                    if backslash:
                        chars.pop()
                    yield "".join(chars), start
                return
            c = text[i]
            i += 1
            if skip_lf:
                skip_lf = False
                if c == "\n":
                    continue
            if skip_ws:
                if c in _PROPS_BLANK:
                    continue
                if not appended_line_begin and c in "\r\n":
                    continue
                skip_ws = appended_line_begin = False
            if not chars and c in "#!":
                while i < n and text[i] not in "\r\n":
                    i += 1
                if i >= n:
                    return
                i += 1
                skip_ws = True
                continue
            if c not in "\r\n":
                if not chars:
                    start = i - 1
                chars.append(c)
                backslash = not backslash if c == "\\" else False
                continue
            if not chars:
                skip_ws = True
                continue
            if i >= n:
                if backslash:
                    chars.pop()
                yield "".join(chars), start
                return
            if backslash:
                chars.pop()
                skip_ws = appended_line_begin = True
                backslash = False
                skip_lf = c == "\r"
            else:
                yield "".join(chars), start
                break


def _properties_unescape(segment: str, line: int) -> str:
    """``Properties.loadConvert``: backslash escapes and ``\\uXXXX`` (UTF-16 units)."""
    if "\\" not in segment:
        return segment
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        i += 1
        if c != "\\":
            out.append(c)
            continue
        c = segment[i]  # never out of range: a logical line cannot end in a lone backslash
        i += 1
        if c == "u":
            digits = segment[i : i + 4]
            if len(digits) < 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise InvalidOutput("Malformed \\uxxxx encoding.", line)
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append({"t": "\t", "r": "\r", "n": "\n", "f": "\f"}.get(c, c))
    # Java strings are UTF-16: an escaped surrogate pair is one character.
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _split_property(logical: str) -> tuple[str, str]:
    """``Properties.load0``: the key ends at an unescaped ``=``, ``:`` or blank."""
    key_len, value_start, has_sep, backslash = 0, len(logical), False, False
    while key_len < len(logical):
        c = logical[key_len]
        if c in "=:" and not backslash:
            value_start, has_sep = key_len + 1, True
            break
        if c in _PROPS_BLANK and not backslash:
            value_start = key_len + 1
            break
        backslash = not backslash if c == "\\" else False
        key_len += 1
    while value_start < len(logical):
        c = logical[value_start]
        if c not in _PROPS_BLANK:
            if has_sep or c not in "=:":
                break
            has_sep = True
        value_start += 1
    return logical[:key_len], logical[value_start:]


def read_properties(text: str) -> dict[str, str]:
    """Exactly ``java.util.Properties.load(Reader)``; a bad ``\\uXXXX`` raises InvalidOutput."""
    starts = line_starts(text)
    result: dict[str, str] = {}
    for logical, offset in _properties_logical_lines(text):
        line = bisect.bisect_right(starts, offset)
        key, value = _split_property(logical)
        result[_properties_unescape(key, line)] = _properties_unescape(value, line)
    return result


def validate_properties(text: str) -> None:
    """Gradle loads gradle.properties as ISO-8859-1, so anything but ASCII is a mis-read waiting."""
    if (found := re.search(r"[^\x00-\x7f]", text)) is not None:
        line = bisect.bisect_right(line_starts(text), found.start())
        fail(f"contains U+{ord(found.group()):04X}; a properties file must be ASCII", line)
    read_properties(text)
    _check_properties_continuations(text)


def _check_properties_continuations(text: str) -> None:
    """A line continued into EOF, a blank line or a comment-looking line is a template mistake:
    Java would silently glue the next line (even a ``# comment``) onto the value."""
    lines = re.split(r"\r\n|\r|\n", text)
    for index, physical in enumerate(lines):
        stripped = physical.lstrip(_PROPS_BLANK)
        if not stripped or stripped[0] in "#!":
            continue
        trailing = len(physical) - len(physical.rstrip("\\"))
        if trailing % 2 == 0:
            continue
        following = lines[index + 1].lstrip(_PROPS_BLANK) if index + 1 < len(lines) else ""
        if not following or following[0] in "#!":
            fail("line ends with a backslash that continues into nothing or a comment", index + 1)
