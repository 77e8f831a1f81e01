"""XML, plist and Android string resources (aapt2's FlattenXmlSubtree and StringBuilder)."""

from __future__ import annotations

import plistlib
import xml.parsers.expat

from nudge_build.readers._common import InvalidOutput, fail

_C_SPACE = " \t\n\v\f\r"  # C isspace(): what aapt2 trims and collapses
_AAPT_SIMPLE_ESCAPES = {"t": "\t", "n": "\n"}


def unescape_android_string(raw: str) -> str:
    """What aapt2 makes of a ``<string>`` element's text (after XML parsing, no child elements).

    Leading/trailing whitespace of the raw text is trimmed first, then unquoted whitespace runs
    collapse to one space, ``"`` toggles quoting, and an unquoted ``'`` is aapt2's error.
    """
    text = raw.strip(_C_SPACE)
    out: list[str] = []
    quoted = last_was_space = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        i += 1
        if not quoted and c in _C_SPACE:
            if not last_was_space:
                out.append(" ")
                last_was_space = True
            continue
        last_was_space = False
        if c == "\\":
            if i >= n:
                break  # aapt2 drops a trailing lone backslash
            c = text[i]
            i += 1
            if c in _AAPT_SIMPLE_ESCAPES:
                out.append(_AAPT_SIMPLE_ESCAPES[c])
            elif c == "u":
                digits = ""
                while len(digits) < 4 and i < n:
                    if text[i] not in "0123456789abcdefABCDEF":
                        raise InvalidOutput(f"invalid unicode escape sequence in string {raw!r}")
                    digits += text[i]
                    i += 1
                code = int(digits or "0", 16)
                if not 0xD800 <= code <= 0xDFFF:  # aapt2 appends nothing for a surrogate
                    out.append(chr(code))
            else:
                out.append(c)  # \" \' \\ \@ \? \# and any other escaped character
        elif c == '"':
            quoted = not quoted
        elif c == "'" and not quoted:
            raise InvalidOutput(f"unescaped apostrophe in string {raw!r}")
        else:
            out.append(c)
    return "".join(out)


def java_format_is_safe(value: str) -> bool:
    """aapt2 ``util::VerifyJavaStringFormat``: more than one substitution with any non-positional
    one is a build error unless the element says ``formatted="false"``."""
    arg_count, nonpositional, i, n = 0, False, 0, len(value)
    while i < n:
        if value[i] == "%" and i + 1 < n:
            i += 1
            if value[i] in "%n":
                i += 1
                continue
            arg_count += 1
            digits = len(value[i:]) - len(value[i:].lstrip("0123456789"))
            if digits:
                i += digits
                nonpositional = nonpositional or (i < n and value[i] != "$")
            elif value[i] == "<":
                nonpositional = True
                i += 1
                if i < n and value[i] == "$":
                    i += 1
            else:
                nonpositional = True
            while i < n and (value[i] in "-#+ ,(" or value[i].isascii() and value[i].isdigit()):
                i += 1
            if i < n and value[i] in "DFKMWZkmwyz":
                return True  # aapt2's shortcut: a Time.format() pattern, not String.format()
        if i < n:
            i += 1
    return not (arg_count > 1 and nonpositional)


def validate_android_strings(text: str) -> None:
    """Well-formed XML, root ``<resources>``, and every plain string as aapt2 accepts it."""
    for element in _expat_elements(text):
        if element.parent is None and element.name != "resources":
            fail(f"root element must be <resources>, not <{element.name}>", element.line)
        is_string = element.name == "string" and element.parent == "resources"
        is_item = element.name == "item" and element.parent in ("string-array", "plurals")
        if not (is_string or is_item) or element.has_children:
            continue  # styled text (<b>...) is flattened differently; aapt2 checks it at build
        try:
            value = unescape_android_string(element.text)
        except InvalidOutput as exc:
            fail(str(exc), element.line)
        attrs = element.attrs
        if (
            is_string
            and not _is_false(attrs.get("formatted"))
            and not _is_false(attrs.get("translatable"))
        ):
            if not java_format_is_safe(value):
                fail(
                    "multiple substitutions specified in non-positional format; "
                    'add formatted="false" to the <string>',
                    element.line,
                )


def _is_false(attribute: str | None) -> bool:
    """aapt2 ``ResourceUtils::ParseBool`` spellings of false."""
    return attribute is not None and attribute.strip() in ("false", "FALSE", "False")


class _Element:
    __slots__ = ("attrs", "has_children", "line", "name", "parent", "text")

    def __init__(self, name: str, attrs: dict[str, str], parent: str | None, line: int) -> None:
        self.name, self.attrs, self.parent, self.line = name, attrs, parent, line
        self.text = ""
        self.has_children = False


def _expat_elements(text: str) -> list[_Element]:
    """Parse with expat (what ElementTree and plistlib use) keeping each element's line."""
    parser = xml.parsers.expat.ParserCreate()
    found: list[_Element] = []
    stack: list[_Element] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if stack:
            stack[-1].has_children = True
        parent = stack[-1].name if stack else None
        element = _Element(name, attrs, parent, parser.CurrentLineNumber)
        found.append(element)
        stack.append(element)

    def end(_name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise InvalidOutput(str(exc), exc.lineno) from exc
    return found


def validate_xml(text: str) -> None:
    _expat_elements(text)


def validate_plist(text: str) -> None:
    try:
        plistlib.loads(text.encode("utf-8"), fmt=plistlib.FMT_XML)
    except xml.parsers.expat.ExpatError as exc:
        raise InvalidOutput(str(exc), exc.lineno) from exc
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # plistlib reports structural mistakes (a <string> outside <dict>, ...) without a line.
        raise InvalidOutput(f"not a valid property list: {exc}") from exc
