"""Per-format value encoding and whole-output validation for rendered build files.

The render layer passes every ``{{ value }}`` through ``encode(fmt, value)`` for the target's
format and every rendered file through ``validate(fmt, text)`` before writing it. ``encode``
either returns text that the format's real consumer reads back as exactly ``value``, or raises
``ValueRefused`` saying which character or shape cannot be carried. It never truncates.

Where a rule is surprising, the comment names the consumer source it comes from; the parsers
themselves live in ``readers``.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import PurePath
from typing import NoReturn

from markupsafe import Markup

from nudge_build import readers
from nudge_build.readers import (
    InvalidOutput,
    read_env,
    read_properties,
    read_xcconfig,
    unescape_android_string,
)

__all__ = [
    "FORMATS",
    "TEMPLATE_FILTERS",
    "InvalidOutput",
    "ValueRefused",
    "encode",
    "format_for",
    "infoplist_setting",
    "read_env",
    "read_properties",
    "read_xcconfig",
    "unescape_android_string",
    "validate",
]

FORMATS: tuple[str, ...] = (
    "plist",
    "infoplist",
    "xml",
    "android-strings",
    "json",
    "toml",
    "properties",
    "xcconfig",
    "env",
    "swift",
    "kotlin",
    "dart",
    "text",
)


class ValueRefused(ValueError):
    """A value the target format cannot carry; ``str()`` is the reason (the caller adds where)."""


def _refuse(reason: str) -> NoReturn:
    raise ValueRefused(reason)


# --- choosing a format ---------------------------------------------------------------------------

_BY_SUFFIX = {
    ".plist": "plist",
    ".xcprivacy": "plist",
    ".xml": "xml",
    ".json": "json",
    ".toml": "toml",
    ".properties": "properties",
    ".xcconfig": "xcconfig",
    ".env": "env",
    ".swift": "swift",
    ".kt": "kotlin",
    ".dart": "dart",
}


# Named like an Info.plist but copied as a resource, never through Xcode's Info.plist processing.
_UNEXPANDED_INFO_PLISTS = frozenset({"GoogleService-Info.plist"})


def format_for(target: str) -> str:
    """The format of a target file, by its name once a trailing ``.j2`` is removed."""
    path = PurePath(target)
    name = path.name.removesuffix(".j2")
    if name.endswith("Info.plist") and name not in _UNEXPANDED_INFO_PLISTS:
        return "infoplist"  # Xcode expands build settings in it (INFOPLIST_FILE)
    fmt = _BY_SUFFIX.get(PurePath(name).suffix.lower())
    if fmt == "xml" and (path.parent.name == "values" or path.parent.name.startswith("values-")):
        return "android-strings"  # res/values*/: aapt2 compiles it with its own escapes
    if fmt is not None:
        return fmt
    if name == ".env" or name.startswith(".env."):
        return "env"
    return "text"


# --- shared checks -------------------------------------------------------------------------------


def _describe(char: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab"}
    return names.get(char, f"U+{ord(char):04X}")


def _as_text(value: object, *, true: str = "true", false: str = "false") -> str:
    """A scalar as the text that a text-based format carries."""
    if value is None:
        _refuse("is null")
    if isinstance(value, bool):
        return true if value else false
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list | tuple | dict):
        _refuse(f"is a {type(value).__name__}, which only JSON and TOML files can hold")
    _refuse(f"is a {type(value).__name__}, which cannot be rendered")


def _checked_text(value: object, *, true: str = "true", false: str = "false") -> str:
    text = _as_text(value, true=true, false=false)
    if (lone := re.search("[\ud800-\udfff]", text)) is not None:
        # Only a JSON escape can produce one; no file encoding or compiler accepts it.
        _refuse(f"contains a lone surrogate {_describe(lone.group())}, which is not a character")
    return text


def _check_int64(value: int, lowest: int = -(2**63)) -> None:
    if not lowest <= value <= 2**63 - 1:
        _refuse(f"is {value}, outside the 64-bit integer range")


# --- XML family ----------------------------------------------------------------------------------

_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
# A raw CR reaches XML parsers as LF (XML 1.0 section 2.11); a character reference survives.
_XML_TEXT_ESCAPES = {**_XML_ESCAPES, "\r": "&#13;"}
# In an attribute value, raw tab/LF become spaces (attribute-value normalization, 3.3.3).
_XML_ATTRIBUTE_ESCAPES = {**_XML_TEXT_ESCAPES, "\t": "&#9;", "\n": "&#10;"}


def _check_xml_chars(text: str) -> None:
    for char in text:
        code = ord(char)
        if (code < 0x20 and char not in "\t\n\r") or code in (0xFFFE, 0xFFFF):
            _refuse(f"contains {_describe(char)}, which XML 1.0 cannot hold")


def _encode_xml_text(value: object, escapes: dict[str, str]) -> str:
    text = _checked_text(value)
    _check_xml_chars(text)
    return "".join(escapes.get(char, char) for char in text)


# xmldom (the XML parser under Expo's config tools and the `plist` npm package) normalizes a raw
# U+0085, U+2028 or U+2029 to "\n" as XML 1.1 would; a character reference reaches every reader
# as the character itself.
_LINE_BREAK_REFERENCES = {"\x85": "&#x85;", "\u2028": "&#x2028;", "\u2029": "&#x2029;"}
_PLIST_TEXT_ESCAPES = {**_XML_TEXT_ESCAPES, **_LINE_BREAK_REFERENCES}
# Xcode's Info.plist processing runs every string value through the build-setting macro parser
# (InfoPlistProcessorTaskAction -> PropertyListItem.byEvaluatingMacros -> parseString). There
# "$$" is the one spelling of a literal "$" (MacroExpressionParser.parseSubstitutionSubexpression)
# that is never read as the start of a reference, whatever follows it.
_INFOPLIST_TEXT_ESCAPES = {**_PLIST_TEXT_ESCAPES, "$": "$$"}


def _encode_android_string(value: object) -> str:
    """XML escaping plus aapt2's own layer (``ResourceUtils::StringBuilder``), so the string
    resource reads back exactly: aapt2 trims and collapses unquoted whitespace, fails on an
    unescaped apostrophe, and reads a leading ``@``/``?`` as a resource reference."""
    text = _checked_text(value)
    _check_xml_chars(text)
    out: list[str] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char == " ":
            # Keep a space that aapt2 would trim (first/last) or collapse (after another one).
            keep = index in (0, last) or text[index - 1] == " "
            out.append("\\u0020" if keep else " ")
        elif char in "\\'\"":
            out.append("\\" + char)
        elif char in "@?" and index == 0:
            out.append("\\" + char)
        elif char in "\n\t":
            out.append("\\n" if char == "\n" else "\\t")
        elif char == "\r":
            out.append("\\u000D")  # aapt2 has no \r escape
        else:
            out.append(_XML_ESCAPES.get(char, char))
    return "".join(out)


# --- JSON / TOML ---------------------------------------------------------------------------------


def _check_json_tree(value: object) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            _refuse(f"is {value}, which JSON cannot hold")
    elif isinstance(value, str):
        _checked_text(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json_tree(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                _refuse(f"has a non-string key {key!r}")
            _checked_text(key)
            _check_json_tree(item)
    else:
        _refuse(f"is a {type(value).__name__}, which cannot be rendered")


def _encode_json(value: object) -> str:
    _check_json_tree(value)
    text = json.dumps(value, ensure_ascii=False)
    # U+2028/U+2029 are legal in JSON strings but end a line in older JavaScript.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# tomli-w's choices, so the literal is byte-for-byte what ``tomli_w.dumps`` would write.
_TOML_ESCAPES = {"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_string(text: str) -> str:
    text = _checked_text(text)
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif (ord(char) < 0x20 and char != "\t") or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_literal(value: object, nest_level: int = 0) -> str:
    if value is None:
        _refuse("is null, which TOML has no way to write")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        _check_int64(value)  # TOML 1.0: integers are 64-bit, larger ones must be an error
        return str(value)
    if isinstance(value, float):
        return str(value)  # inf, -inf and nan are TOML too
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        indent = "    " * (nest_level + 1)
        items = ",\n".join(indent + _toml_literal(item, nest_level + 1) for item in value)
        return f"[\n{items},\n{'    ' * nest_level}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = (f"{_toml_key(key)} = {_toml_literal(item)}" for key, item in value.items())
        return "{ " + ", ".join(pairs) + " }"
    _refuse(f"is a {type(value).__name__}, which cannot be rendered")


def _toml_key(key: object) -> str:
    if not isinstance(key, str):
        _refuse(f"has a non-string key {key!r}")
    return key if _TOML_BARE_KEY.fullmatch(key) else _toml_string(key)


# --- properties / xcconfig / env -----------------------------------------------------------------

_PROPERTIES_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}


def _encode_properties(value: object) -> str:
    """As ``Properties.store`` writes a value: Gradle reads gradle.properties as ISO-8859-1, so
    everything outside printable ASCII becomes ``\\uXXXX`` (UTF-16 units)."""
    text = _checked_text(value)
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _PROPERTIES_ESCAPES:
            out.append(_PROPERTIES_ESCAPES[char])
        elif char in "=:#!" or (char == " " and index == 0):
            out.append("\\" + char)  # separators, comment markers, a blank load() would skip
        elif " " <= char <= "~":
            out.append(char)
        else:
            units = char.encode("utf-16-be")
            out.extend(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))
    return "".join(out)


def _encode_xcconfig(value: object) -> str:
    """One line that Xcode's ``MacroConfigFileParser`` + ``MacroExpressionParser`` (swiftlang/
    swift-build) evaluate back to ``value`` in a user-defined setting and in Info.plist."""
    text = _checked_xcconfig_line(value)
    if "\\$" in text:
        # List-typed settings read \$ as an escaped '$', string-typed ones do not: no spelling
        # of this reads back the same in both.
        _refuse("has a backslash right before '$', which Xcode settings read inconsistently")
    return _escape_xcconfig(text)


def _checked_xcconfig_line(value: object) -> str:
    """``value`` as text that fits on one xcconfig line and is not trimmed there."""
    text = _checked_text(value, true="YES", false="NO")
    for char in text:
        if unicodedata.category(char) == "Cc":
            _refuse(f"contains {_describe(char)}, which an xcconfig value cannot hold")
        if char in "\u2028\u2029":
            _refuse(f"contains {_describe(char)}, which Xcode reads as a line break")
    if text.startswith(" ") or text.endswith(" "):
        _refuse("starts or ends with a space, which Xcode trims from an xcconfig value")
    if text.endswith("\\"):
        _refuse("ends with a backslash, which Xcode reads as a line continuation")
    return text


def _escape_xcconfig(text: str) -> str:
    escaped = text.replace("$", "$$")  # "$$ is an escape for $" (MacroExpressionParsing.swift)
    # '//' starts a comment anywhere on the line, even mid-value; an empty expansion between
    # the slashes breaks the marker and evaluates to nothing.
    escaped = re.sub("/(?=/)", "/$()", escaped)
    if escaped.endswith(";"):
        escaped += "$()"  # Xcode drops one trailing ';' from a value
    return escaped


def infoplist_setting(value: object) -> str:
    """An xcconfig value for an ``INFOPLIST_KEY_<key>`` setting that ends up as exactly ``value``
    in a generated Info.plist.

    Such a value is expanded twice: once as the (string-typed) build setting, when
    ``InfoPlistProcessorTaskAction.defaultInfoPlistContent`` takes ``propertyListValue(in:)``, and
    again with every other string of the plist in ``byEvaluatingMacros``. So each ``$`` is
    written for the plist first (``$$``) and that again for the xcconfig line (``$$$$``).
    The setting is string-typed (``BuiltinMacros.declareStringMacro``), so it is parsed with
    ``parseAsString``, where a backslash is plain text: unlike a user-defined setting, ``\\$``
    needs no refusal here.
    """
    return _escape_xcconfig(_checked_xcconfig_line(value).replace("$", "$$"))


def _infoplist_setting_filter(value: object) -> object:
    """``{{ text | infoplist_setting }}`` in an xcconfig template. A value it refuses goes on
    unchanged, so the xcconfig encoder refuses it with the usual message naming the field."""
    try:
        return Markup(infoplist_setting(value))
    except ValueRefused:
        return value


def _infoplist_setting_refusal_filter(value: object) -> str:
    """``{{ text | infoplist_setting_refusal }}``: why ``infoplist_setting`` refuses ``value``,
    or "" when it does not."""
    try:
        infoplist_setting(value)
    except ValueRefused as refusal:
        return str(refusal)
    return ""


# Registered by render.make_environment.
TEMPLATE_FILTERS: dict[str, Callable[[object], object]] = {
    "infoplist_setting": _infoplist_setting_filter,
    "infoplist_setting_refusal": _infoplist_setting_refusal_filter,
}


# A character that some .env reader treats specially when unquoted: dotenv trims (Unicode)
# whitespace and cuts at '#', react-native-config's regexes strip quotes and blanks, and shells
# or expanders that source the file act on '$' and '`'.
_ENV_QUOTE_TRIGGERS = frozenset("'\"`#$\ufeff")


def _encode_env(value: object) -> str:
    """``value`` spelled for a ``KEY=value`` line that the npm ``dotenv`` parser and
    react-native-config's readers (ReadDotEnv.rb -> the generated Objective-C, dotenv.gradle ->
    BuildConfig) all read back as exactly ``value``.

    None of them has an escape, but all of them take a value between quotes literally, except
    that dotenv ends a single/double-quoted value at the first quote of its kind followed by the
    end of the line or a ``#``. So: plain text as it is, anything else in single quotes, in
    double quotes if it holds a ``'``, and in single quotes again if it holds both kinds (then
    dotenv reads the whole rest of the line and strips the outer pair, which works unless a
    ``#`` cuts it short).
    """
    text = _checked_text(value)
    for char in text:
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            _refuse(f"contains {_describe(char)}, which a .env line cannot hold")
    if "\\" in text:
        # dotenv keeps a backslash as it is; react-native-config pastes the value into an
        # Objective-C and a Java string literal, where it starts an escape. No spelling agrees.
        _refuse(
            "contains a backslash, which dotenv keeps but react-native-config's generated "
            "Objective-C/Java code reads as an escape"
        )
    if not text:
        return ""  # KEY= is empty for every reader; KEY='' is "'" for ReadDotEnv.rb
    if not any(char.isspace() or char in _ENV_QUOTE_TRIGGERS for char in text):
        return text
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    if "#" in text:
        _refuse(
            "contains both quote characters and a '#', which no .env spelling carries through "
            "dotenv (it has no escapes and reads '#' after a closing quote as a comment)"
        )
    return f"'{text}'"


# --- Swift / Kotlin / Dart -----------------------------------------------------------------------


def _needs_code_escape(char: str) -> bool:
    # Controls, invisible format characters (bidi overrides, BOM) and line/paragraph separators
    # are legal in none of the literals or are hazards in review; spell them as escapes.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _swift_string(text: str) -> str:
    simple = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
    return '"' + "".join(_code_char(c, simple, lambda c: f"\\u{{{ord(c):X}}}") for c in text) + '"'


def _kotlin_string(text: str) -> str:
    simple = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    simple["\b"] = "\\b"

    def utf16(char: str) -> str:
        units = char.encode("utf-16-be")
        return "".join(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))

    return '"' + "".join(_code_char(c, simple, utf16) for c in text) + '"'


def _dart_string(text: str) -> str:
    simple = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(_code_char(c, simple, lambda c: f"\\u{{{ord(c):X}}}") for c in text) + '"'


def _code_char(char: str, simple: dict[str, str], escape: Callable[[str], str]) -> str:
    if char in simple:
        return simple[char]
    return escape(char) if _needs_code_escape(char) else char


def _source_encoder(string: Callable[[str], str]) -> Callable[[object], str]:
    def encode_literal(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            # Kotlin cannot spell -2**63 as a literal; keep one range for all three languages.
            _check_int64(value, lowest=-(2**63) + 1)
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                _refuse(f"is {value}, which has no literal in source code")
            return repr(value)
        return string(_checked_text(value))

    return encode_literal


# --- dispatch ------------------------------------------------------------------------------------

_ENCODERS: dict[str, Callable[[object], str]] = {
    "plist": lambda value: _encode_xml_text(value, _PLIST_TEXT_ESCAPES),
    "infoplist": lambda value: _encode_xml_text(value, _INFOPLIST_TEXT_ESCAPES),
    "xml": lambda value: _encode_xml_text(value, _XML_ATTRIBUTE_ESCAPES),
    "android-strings": _encode_android_string,
    "json": _encode_json,
    "toml": _toml_literal,
    "properties": _encode_properties,
    "xcconfig": _encode_xcconfig,
    "env": _encode_env,
    "swift": _source_encoder(_swift_string),
    "kotlin": _source_encoder(_kotlin_string),
    "dart": _source_encoder(_dart_string),
    "text": _as_text,
}

_VALIDATORS: dict[str, Callable[[str], None]] = {
    "plist": readers.validate_plist,
    "infoplist": readers.validate_plist,
    "xml": readers.validate_xml,
    "android-strings": readers.validate_android_strings,
    "json": readers.validate_json,
    "toml": readers.validate_toml,
    "properties": readers.validate_properties,
    "xcconfig": readers.validate_xcconfig,
    "env": readers.validate_env,
    "swift": lambda text: readers.validate_source(text, "swift"),
    "kotlin": lambda text: readers.validate_source(text, "kotlin"),
    "dart": lambda text: readers.validate_source(text, "dart"),
    "text": lambda text: None,
}


def encode(fmt: str, value: object) -> str:
    """``value`` as text for a file of format ``fmt``; raises ValueRefused if it cannot be."""
    try:
        encoder = _ENCODERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return encoder(value)


def validate(fmt: str, text: str) -> None:
    """Parse a whole rendered file as its consumer would; raises InvalidOutput if it fails."""
    try:
        validator = _VALIDATORS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    validator(text)
