"""``.env`` files as the React Native side reads them: the npm ``dotenv`` parser and
react-native-config's ReadDotEnv.rb (iOS), dotenv.gradle (Android) and generate-header.js
(Windows).

``read_env`` is strict: a file that these readers would read differently is an error, not one
reader's opinion. Each pattern below is the reader's own, restated with its engine's character
classes (Ruby's and Java's ``\\s`` are ASCII, JavaScript's is Unicode).
"""

from __future__ import annotations

import re

from nudge_build.readers._common import fail

# ios/ReactNativeConfig/ReadDotEnv.rb, applied to each "\n"-separated line.
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
# JavaScript's \s (WhiteSpace and LineTerminator), which is also what String.prototype.trim strips.
_JS_BLANKS = "".join(
    [
        "\t\n\v\f\r \u00a0\u1680",
        *map(chr, range(0x2000, 0x200B)),
        "\u2028\u2029\u202f\u205f\u3000\ufeff",
    ]
)
_JS_SPACE = f"[{_JS_BLANKS}]"
# JavaScript's ^ and $ under the m flag.
_JS_LINE_START = "(?<![^\n\r\u2028\u2029])"
_JS_LINE_END = "(?=[\n\r\u2028\u2029]|\\Z)"
# windows/RNCConfig/generate-header.js: the Android pattern under JavaScript's Unicode \s.
_ENV_JS = re.compile(
    rf"{_JS_SPACE}*(?:export{_JS_SPACE}+|)([A-Za-z0-9_.\-]+){_JS_SPACE}*={_JS_SPACE}*['\"]?"
    rf"([^\n\r\u2028\u2029]*?)['\"]?{_JS_SPACE}*",
    re.ASCII,
)
# The npm dotenv package's LINE pattern (flags mg), run over the whole text as its parse() does:
# a quoted value may span lines, '#' outside quotes starts a comment.
_DOTENV_LINE = re.compile(
    rf"{_JS_LINE_START}{_JS_SPACE}*(?:export{_JS_SPACE}+)?"
    rf"([A-Za-z0-9_.\-]+)(?:{_JS_SPACE}*={_JS_SPACE}*?|:{_JS_SPACE}+?)"
    rf"({_JS_SPACE}*'(?:\\'|[^'])*'|{_JS_SPACE}*\"(?:\\\"|[^\"])*\"|{_JS_SPACE}*`(?:\\`|[^`])*`"
    rf"|[^#\r\n]+)?{_JS_SPACE}*(?:#[^\n\r\u2028\u2029]*)?{_JS_LINE_END}",
    re.ASCII,
)
_DOTENV_OUTER_QUOTES = re.compile(rf"{_JS_LINE_START}(['\"`])([\s\S]*)\1{_JS_LINE_END}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_dotenv_npm(text: str) -> dict[str, str]:
    """What ``require('dotenv').parse(text)`` returns (dotenv 16-18, default parser)."""
    text = re.sub(r"\r\n?", "\n", text)
    result: dict[str, str] = {}
    for match in _DOTENV_LINE.finditer(text):
        value = (match[2] or "").strip(_JS_BLANKS)
        first = value[:1]
        value = _DOTENV_OUTER_QUOTES.sub(r"\2", value)
        if first == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        result[match[1]] = value
    return result


def _env_readings(line: str) -> tuple[tuple[str, str] | None, ...]:
    """(key, value) as the iOS, Android and Windows readers see this line (None: no match)."""
    ios = _ENV_IOS.fullmatch(line)
    readings: list[tuple[str, str] | None] = [(ios["key"], ios["val"] or "") if ios else None]
    for pattern in (_ENV_ANDROID, _ENV_JS):
        match = pattern.fullmatch(line)
        readings.append((match[1], match[2] or "") if match else None)
    return tuple(readings)


def read_env(text: str) -> dict[str, str]:
    """A ``.env`` as the app gets it, strictly: a line that react-native-config's iOS, Android
    and Windows readers would read differently, a value that npm ``dotenv`` reads differently,
    or a value whose backslashes the generated Objective-C/Java source would interpret as
    escapes, raises InvalidOutput instead of picking one reading.

    react-native-config escapes each '"' for those string literals itself, so a '"' arrives
    as it is written."""
    result: dict[str, str] = {}
    defined_on: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip(" \t\n\v\f\r\0") or re.match(r"[ \t\r\n\f\v]*#", line):
            continue
        if "\r" in line:
            fail("contains a carriage return, which the readers treat differently", number)
        ios, android, windows = _env_readings(line)
        if ios is None:
            fail("not a KEY=value line react-native-config can read", number)
        if ios != android or ios != windows:
            fail("iOS, Android and Windows would read this line differently", number)
        if "\\" in ios[1]:
            fail("a backslash in a value is read as an escape by the generated code", number)
        result[ios[0]] = ios[1]
        defined_on[ios[0]] = number
    npm = read_dotenv_npm(text)
    for key, value in result.items():
        if npm.get(key) != value:
            fail(f"the npm dotenv package reads {key} differently", defined_on[key])
    if extra := sorted(npm.keys() - result.keys()):
        fail(f"the npm dotenv package reads {extra[0]}, which react-native-config does not")
    return result


def validate_env(text: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, _ = line.partition("=")
        if not sep or not _ENV_KEY.fullmatch(key):
            fail("expected KEY=value with KEY matching [A-Za-z_][A-Za-z0-9_]*", number)
    read_env(text)
