"""Xcode build configuration files (swift-build's MacroConfigFileParser, MacroExpressionParser)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from nudge_build.readers._common import fail

_XC_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")
# ... and only these count as blanks when it trims (isASCIISpace).
_XC_BLANK = " \t\v\f"
_XC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_XC_CONDITION = re.compile(r"\[([^=\]]+)=([^\]]*)\]")
_XC_INCLUDE = re.compile(r'#[ \t\v\f]*include\??[ \t\v\f]+"[^"]*"[ \t\v\f]*(?://.*)?')


def _xc_skip_blanks_and_comment(line: str, pos: int) -> int:
    while pos < len(line):
        if line[pos] in _XC_BLANK:
            pos += 1
        elif line.startswith("//", pos):
            return len(line)
        else:
            break
    return pos


def _xc_value_chunk(line: str, pos: int) -> str | None:
    """``parseNonListAssignmentRHS``: up to ``//``, trailing blanks and one ``;`` trimmed."""
    pos = _xc_skip_blanks_and_comment(line, pos)
    if pos >= len(line):
        return None
    end = line.find("//", pos)
    value = (line[pos:] if end < 0 else line[pos:end]).rstrip(_XC_BLANK)
    if value.endswith(";"):
        value = value[:-1].rstrip(_XC_BLANK)
    return value


def _xc_assignment_head(line: str) -> tuple[str, list[tuple[str, str]], int] | None:
    """``NAME[cond=pattern]... =``: (name, conditions, index just after the ``=``)."""
    pos = _xc_skip_blanks_and_comment(line, 0)
    name = _XC_NAME.match(line, pos)
    if name is None:
        return None
    pos = _xc_skip_blanks_and_comment(line, name.end())
    conditions: list[tuple[str, str]] = []
    while (condition := _XC_CONDITION.match(line, pos)) is not None:
        conditions.append((condition.group(1), condition.group(2)))
        pos = _xc_skip_blanks_and_comment(line, condition.end())
    if not line.startswith("=", pos):
        return None
    return name.group(), conditions, pos + 1


def _xc_assignment_value(lines: list[str], index: int, pos: int) -> tuple[str, int]:
    """The raw value starting at ``lines[index][pos:]``, and the index of the next line."""
    chunks: list[str] = []
    while (chunk := _xc_value_chunk(lines[index], pos)) is not None:
        if not chunk.endswith("\\"):
            chunks.append(chunk)
            break
        # Newer Xcode (swift-build) reads a trailing backslash as a line continuation.
        continued = chunk[:-1].strip()
        if continued:
            chunks.append(continued)
        index, pos = index + 1, 0
        if index >= len(lines):
            break
    return " ".join(chunks), index + 1


def _xc_evaluate(
    value: str, variables: Mapping[str, str] | None, *, list_setting: bool = True
) -> str:
    """A setting's value as a string (what Info.plist's ``$(KEY)`` receives).

    User-defined settings are parsed as string lists (``MacroExpressionParser.parseAsStringList``):
    quotes, blanks and backslashes stay as written, but a backslash makes the next character
    literal, so ``\\$`` is not a reference. String-typed settings (``parseAsString``) have no
    backslash escape. In both, ``$$`` is a literal ``$`` and ``$()`` is empty. Other references
    stay as written unless ``variables`` is given, which resolves them as Xcode would
    (operators are not applied; an undefined ``$(X)`` is empty, an undefined ``$X`` stays).
    """
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == "\\" and list_setting:
            # A trailing lone backslash is emitted twice in the string form (swift-build quirk).
            out.append(value[i : i + 2] if i + 1 < n else "\\\\")
            i += 2
        elif c == "$":
            text, i = _xc_reference(value, i, variables)
            out.append(text)
        else:
            out.append(c)
            i += 1
    return "".join(out)


_XC_CLOSERS = {"(": ")", "{": "}", "[": "]"}


def _xc_reference(value: str, i: int, variables: Mapping[str, str] | None) -> tuple[str, int]:
    """Evaluate the ``$...`` starting at ``value[i]``; return (text, index after it)."""
    nxt = value[i + 1] if i + 1 < len(value) else ""
    if nxt == "$":
        return "$", i + 2
    if nxt in _XC_CLOSERS:
        end = _xc_reference_end(value, i + 2, _XC_CLOSERS[nxt])
        inner = value[i + 2 : end]
        after = min(end + 1, len(value))
        if not inner:
            return "", after
        if variables is None:
            return value[i:after], after
        name = _xc_evaluate(inner.split(":", 1)[0], variables, list_setting=False)
        return variables.get(name, ""), after
    name_match = _XC_NAME.match(value, i + 1)
    if name_match is None:
        return "$", i + 1
    original = value[i : name_match.end()]
    if variables is None:
        return original, name_match.end()
    return variables.get(name_match.group(), original), name_match.end()


def _xc_reference_end(value: str, i: int, closer: str) -> int:
    """Index of the delimiter closing a bracketed reference (nested references skipped)."""
    while i < len(value) and value[i] != closer:
        if value[i] == "$" and i + 1 < len(value) and value[i + 1] in _XC_CLOSERS:
            i = _xc_reference_end(value, i + 2, _XC_CLOSERS[value[i + 1]]) + 1
        else:
            i += 1
    return i


def read_xcconfig(
    text: str, *, variables: Mapping[str, str] | None = None, string_typed: bool = False
) -> dict[str, str]:
    """``KEY = value`` assignments as Xcode evaluates them to strings: as user-defined settings,
    or with ``string_typed`` as built-in string settings such as ``PRODUCT_NAME``.

    Keys carry their conditions (``KEY[sdk=iphoneos*]``); ``#include`` lines are not followed.
    """
    lines = _XC_LINE_BREAK.split(text)
    result: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        pos = _xc_skip_blanks_and_comment(line, 0)
        if pos >= len(line) or line[pos] == "#":
            index += 1
            continue
        head = _xc_assignment_head(line)
        if head is None:
            fail(f"expected KEY = value, found {line.strip()!r}", index + 1)
        name, conditions, pos = head
        raw, index = _xc_assignment_value(lines, index, pos)
        key = name + "".join(f"[{param}={pattern}]" for param, pattern in conditions)
        result[key] = _xc_evaluate(raw, variables, list_setting=not string_typed)
    return result


def validate_xcconfig(text: str) -> None:
    """Every line blank, a comment, an include, or one complete assignment with nothing after the
    value: a raw ``//`` there would silently cut the value, a trailing ``\\`` would join lines."""
    for number, line in enumerate(_XC_LINE_BREAK.split(text), start=1):
        pos = _xc_skip_blanks_and_comment(line, 0)
        if pos >= len(line):
            continue
        if line[pos] == "#":
            if not _XC_INCLUDE.fullmatch(line, pos):
                fail('expected #include "file" or #include? "file"', number)
            continue
        head = _xc_assignment_head(line)
        if head is None:
            fail(f"expected KEY = value, found {line.strip()!r}", number)
        value = line[head[2] :]
        if "//" in value.lstrip(_XC_BLANK):
            fail("'//' in a value starts an Xcode comment; the value would be cut there", number)
        if value.rstrip(_XC_BLANK).endswith("\\"):
            fail("a value ending in '\\' continues onto the next line in Xcode", number)
