"""react-native-config .env files: ReadDotEnv.rb, dotenv.gradle and generate-header.js."""

from __future__ import annotations

import re

from nudge_build.readers._common import fail

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
            fail("contains a carriage return, which the readers treat differently", number)
        ios, android, windows = _env_readings(line)
        if ios is None:
            fail("not a KEY=value line react-native-config can read", number)
        if ios != android or ios != windows:
            fail("iOS, Android and Windows would read this line differently", number)
        if "\\" in ios[1]:
            fail("a backslash in a value is read as an escape by the generated code", number)
        result[ios[0]] = ios[1]
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
