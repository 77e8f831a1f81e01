"""Parse rendered files back the way their real consumers do, and validate whole outputs.

``formats.encode`` promises that a value reads back unchanged; these readers are the other half
of that promise, so each one follows its consumer's own source rather than a looser idea of the
format: ``java.util.Properties.load`` (JDK 17 ``LineReader``/``loadConvert``), aapt2's
``ResourceParser::FlattenXmlSubtree`` and ``ResourceUtils::StringBuilder``, Xcode's
``MacroConfigFileParser`` and ``MacroExpressionParser`` (swiftlang/swift-build) and
react-native-config's ``ReadDotEnv.rb`` / ``dotenv.gradle`` / ``generate-header.js``.
"""

from __future__ import annotations

import bisect
import json
import plistlib
import re
import tomllib
import xml.parsers.expat
from collections.abc import Iterator, Mapping
from typing import NoReturn


class InvalidOutput(ValueError):
    """The rendered file does not parse; ``line`` is 1-based in the rendered text when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


# --- java.util.Properties ------------------------------------------------------------------------

_PROPS_BLANK = " \t\f"  # the only characters Properties skips at a line start and around keys


def _line_starts(text: str) -> list[int]:
    """Offsets where each physical line starts; \\n, \\r and \\r\\n end a line (as in Java)."""
    starts = [0]
    for match in re.finditer(r"\r\n|\r|\n", text):
        starts.append(match.end())
    return starts


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
    starts = _line_starts(text)
    result: dict[str, str] = {}
    for logical, offset in _properties_logical_lines(text):
        line = bisect.bisect_right(starts, offset)
        key, value = _split_property(logical)
        result[_properties_unescape(key, line)] = _properties_unescape(value, line)
    return result


def validate_properties(text: str) -> None:
    """Gradle loads gradle.properties as ISO-8859-1, so anything but ASCII is a mis-read waiting."""
    if (found := re.search(r"[^\x00-\x7f]", text)) is not None:
        line = bisect.bisect_right(_line_starts(text), found.start())
        _fail(f"contains U+{ord(found.group()):04X}; a properties file must be ASCII", line)
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
            _fail("line ends with a backslash that continues into nothing or a comment", index + 1)


# --- Android string resources (aapt2) ------------------------------------------------------------

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
            _fail(f"root element must be <resources>, not <{element.name}>", element.line)
        is_string = element.name == "string" and element.parent == "resources"
        is_item = element.name == "item" and element.parent in ("string-array", "plurals")
        if not (is_string or is_item) or element.has_children:
            continue  # styled text (<b>...) is flattened differently; aapt2 checks it at build
        try:
            value = unescape_android_string(element.text)
        except InvalidOutput as exc:
            _fail(str(exc), element.line)
        attrs = element.attrs
        if (
            is_string
            and not _is_false(attrs.get("formatted"))
            and not _is_false(attrs.get("translatable"))
        ):
            if not java_format_is_safe(value):
                _fail(
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


# --- JSON / TOML ---------------------------------------------------------------------------------


def validate_json(text: str) -> None:
    def reject_constant(name: str) -> NoReturn:
        raise InvalidOutput(f"{name} is not JSON")

    try:
        json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(exc.msg, exc.lineno) from exc


def validate_toml(text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise InvalidOutput(str(exc), int(where.group(1)) if where else None) from exc


# --- Xcode build configuration files -------------------------------------------------------------

# Xcode's MacroConfigFileParser: these end a line (yes, including U+2028/U+2029) ...
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
            _fail(f"expected KEY = value, found {line.strip()!r}", index + 1)
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
                _fail('expected #include "file" or #include? "file"', number)
            continue
        head = _xc_assignment_head(line)
        if head is None:
            _fail(f"expected KEY = value, found {line.strip()!r}", number)
        value = line[head[2] :]
        if "//" in value.lstrip(_XC_BLANK):
            _fail("'//' in a value starts an Xcode comment; the value would be cut there", number)
        if value.rstrip(_XC_BLANK).endswith("\\"):
            _fail("a value ending in '\\' continues onto the next line in Xcode", number)


# --- react-native-config .env -------------------------------------------------------------------

# ios/ReactNativeConfig/ReadDotEnv.rb (Ruby: \s is ASCII, [[:alnum:]_] is Unicode-aware).
_ENV_IOS = re.compile(
    r"(?:export[ \t\r\n\f\v]+|)(?P<key>\w+)[ \t\r\n\f\v]*=[ \t\r\n\f\v]*"
    r"(?:(?P<quote>[\"'])?(?P<val>.*?[^\\])(?P=quote)?|)"
)
# android/dotenv.gradle (java.util.regex: ASCII \s and \w; '.' and '$' know \u0085/\u2028/\u2029).
_J_SPACE = "[ \\t\\n\\x0b\\f\\r]"
_ENV_ANDROID = re.compile(
    rf"{_J_SPACE}*(?:export{_J_SPACE}+|)([A-Za-z0-9_.\-]+){_J_SPACE}*={_J_SPACE}*['\"]?"
    rf"([^\n\r\u0085\u2028\u2029]*?)['\"]?{_J_SPACE}*(?:\r\n|[\n\r\u0085\u2028\u2029])?",
    re.ASCII,
)
# windows/RNCConfig/generate-header.js: the Android pattern under JavaScript's Unicode \s.
_JS_SPACE = (
    "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
)
_ENV_JS = re.compile(
    rf"{_JS_SPACE}*(?:export{_JS_SPACE}+|)([A-Za-z0-9_.\-]+){_JS_SPACE}*={_JS_SPACE}*['\"]?"
    rf"([^\n\r\u2028\u2029]*?)['\"]?{_JS_SPACE}*",
    re.ASCII,
)
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_readings(line: str) -> tuple[tuple[str, str] | None, ...]:
    """(key, value) as the iOS, Android and Windows readers see this line (None: no match)."""
    ios = _ENV_IOS.fullmatch(line)
    readings: list[tuple[str, str] | None] = [(ios["key"], ios["val"] or "") if ios else None]
    for pattern in (_ENV_ANDROID, _ENV_JS):
        match = pattern.fullmatch(line)
        readings.append((match[1], match[2] or "") if match else None)
    return tuple(readings)


def read_env(text: str) -> dict[str, str]:
    """A ``.env`` as react-native-config reads it, strictly: a line the iOS, Android and Windows
    readers would read differently, or a value whose backslashes the generated Java/Objective-C
    source would interpret as escapes, raises InvalidOutput instead of picking one reading."""
    result: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip(" \t\n\v\f\r\0") or re.match(r"[ \t\r\n\f\v]*#", line):
            continue
        if "\r" in line:
            _fail("contains a carriage return, which the readers treat differently", number)
        ios, android, windows = _env_readings(line)
        if ios is None:
            _fail("not a KEY=value line react-native-config can read", number)
        if ios != android or ios != windows:
            _fail("iOS, Android and Windows would read this line differently", number)
        if "\\" in ios[1]:
            _fail("a backslash in a value is read as an escape by the generated code", number)
        result[ios[0]] = ios[1]
    return result


def validate_env(text: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, _ = line.partition("=")
        if not sep or not _ENV_KEY.fullmatch(key):
            _fail("expected KEY=value with KEY matching [A-Za-z_][A-Za-z0-9_]*", number)
    read_env(text)


# --- Swift / Kotlin / Dart string literals -------------------------------------------------------


def validate_source(text: str, language: str) -> None:
    """A light tokenizer: every string literal terminated, no raw newline inside a one-line one.

    Comments (nested ``/* */``), triple-quoted strings, Swift ``#"..."#`` raw strings, Dart
    ``r'...'`` raw strings and Kotlin/Dart ``'...'`` literals are recognised; interpolations are
    not parsed (a quote inside ``${...}`` is read as the end of the string, which is harmless
    for this check because it only looks for strings that never end).
    """
    starts = _line_starts(text)
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
        _fail("unterminated /* comment", bisect.bisect_right(starts, n - 1))


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
            _fail("unterminated multi-line string literal", line)
        return end + len(closing)
    escapes = not raw and hashes == 0
    k = j + 1
    closing = quote + "#" * hashes
    while k < len(text):
        if text[k] in "\r\n":
            _fail("string literal has a raw line break", line)
        if escapes and text[k] == "\\":
            k += 2
            continue
        if hashes and text.startswith("\\" + "#" * hashes, k):
            k += 1 + hashes + 1
            continue
        if text.startswith(closing, k):
            return k + len(closing)
        k += 1
    _fail("unterminated string literal", line)


def _fail(message: str, line: int | None = None) -> NoReturn:
    raise InvalidOutput(message, line)
