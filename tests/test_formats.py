"""Per-format encoding: every value reads back exactly through the real parser, or is refused for
a reason the format's rules name. Never a broken file."""

from __future__ import annotations

import json
import math
import plistlib
import random
import re
import subprocess
import tomllib
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_build.formats import (
    FORMATS,
    InvalidOutput,
    ValueRefused,
    encode,
    format_for,
    read_env,
    read_properties,
    read_xcconfig,
    unescape_android_string,
    validate,
)
from tests import platform_tools
from tests.swift_build_macros import info_plist_value

JAVA_READER = Path(__file__).parent / "java" / "ReadBack.java"

# Shapes that break one format or another, to be glued together by the strategies below.
PIECES = [
    "&", "<", ">", "]]>", '"', "'", "\\", "\\\\", "/", "//", "///", "$", "$$", "$(", "$(HOME)",
    "${HOME}", "$HOME", "$[X]", "$()", "{{ 7*7 }}", "{% if x %}", "{#", "#", "!", "=", ":", ";",
    " ", "  ", "@", "?", "@string/app_name", "?attr/x", "\n", "\r", "\r\n", "\t", "\f", "\v",
    "\u2028", "\u2029", "\x85", "\x00", "\x01", "\x1b", "\x7f", "\ufeff", "\ufffe", "\uffff",
    "\ud800", "\udfff", "😀", "𝄞", "é", "中", "\u00a0", "%s", "%1$s", "%d", "\\u0041", "\\n",
    "http://", "https://example.com//a", "Harbor & Main's \"Bank\"", "export ", "KEY=", "*/",
]  # fmt: skip
HOSTILE = PIECES + [
    "", "  lead", "trail  ", " both ", "a  b", "'quoted'", '"quoted"', "a\\$b", "ends\\",
    "x;", "; ", "@", "?", "100% sure, 50% done", "$(inherited) //comment", "a\r\nb", "\\u12",
]  # fmt: skip

any_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=8).map("".join),
)
MANY = settings(max_examples=300, deadline=None, database=None)
SOME = settings(max_examples=150, deadline=None, database=None)


# --- the rules, stated independently of the encoders --------------------------------------------


def _has(value: str, test: Callable[[str], bool]) -> bool:
    return any(test(char) for char in value)


def _control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def should_refuse(fmt: str, value: str) -> bool:
    """The README's refusal column: a value is refused exactly when one of these holds."""
    if fmt != "text" and _has(value, lambda c: 0xD800 <= ord(c) <= 0xDFFF):
        return True  # a lone surrogate is not a character in any encoding a tool reads
    if fmt in ("plist", "infoplist", "xml", "android-strings"):
        return _has(value, lambda c: (ord(c) < 0x20 and c not in "\t\n\r") or c in "\ufffe\uffff")
    if fmt == "xcconfig":
        return (
            _has(value, lambda c: _control(c) or c in "\u2028\u2029")
            or value.startswith(" ")
            or value.endswith((" ", "\\"))
            or "\\$" in value
        )
    if fmt == "env":
        return _has(value, lambda c: _control(c) or c in "\u2028\u2029\\") or (
            "#" in value and "'" in value and '"' in value
        )
    return False


# --- reading an encoded value back through the real consumer -------------------------------------


def read_plist(encoded: str) -> object:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"'
        ' "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n'
        f"\t<key>NudgeValue</key>\n\t<string>{encoded}</string>\n</dict>\n</plist>\n"
    )
    validate("plist", doc)
    return plistlib.loads(doc.encode())["NudgeValue"]


def read_info_plist(encoded: str) -> object:
    """What the app carries after Xcode expands build settings in the Info.plist string."""
    assert not any(char in encoded for char in "\x85\u2028\u2029")  # xmldom would alter them
    return info_plist_value(str(read_plist(encoded)), {"HOME": "/Users/runner", "X": "x"})


def read_xml(encoded: str) -> object:
    doc = f'<manifest>\n  <meta-data android-value="{encoded}">{encoded}</meta-data>\n</manifest>\n'
    validate("xml", doc)
    element = ET.fromstring(doc).find("meta-data")
    assert element is not None
    assert element.get("android-value") == (element.text or "")  # same value in both places
    return element.text or ""


def read_android_string(encoded: str) -> object:
    # Indented as a template would be: aapt2 trims that whitespace, never the value's own.
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
        f'    <string name="nudge_value" formatted="false">\n        {encoded}\n    </string>\n'
        "</resources>\n"
    )
    validate("android-strings", doc)
    element = ET.fromstring(doc).find("string")
    assert element is not None
    return unescape_android_string(element.text or "")


def read_json(encoded: str) -> object:
    doc = '{\n  "name": ' + encoded + "\n}\n"
    validate("json", doc)
    assert "\u2028" not in doc and "\u2029" not in doc
    return json.loads(doc)["name"]


def read_toml(encoded: str) -> object:
    doc = f"[organization]\nname = {encoded}\n"
    validate("toml", doc)
    return tomllib.loads(doc)["organization"]["name"]


def read_java_properties(encoded: str) -> object:
    doc = f"# generated\nnudge.organizationName={encoded}\nnudge.spaced = {encoded}\n"
    validate("properties", doc)
    values = read_properties(doc)
    assert values["nudge.spaced"] == values["nudge.organizationName"]
    return values["nudge.organizationName"]


class _EveryName(Mapping[str, str]):
    """Resolves every setting name, so a reference that leaked through shows up in the value."""

    def __getitem__(self, name: str) -> str:
        return f"<expanded {name}>"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def read_xcconfig_value(encoded: str) -> object:
    doc = f'// generated\n#include? "Local.xcconfig"\nNUDGE_ORG_NAME = {encoded}\n'
    validate("xcconfig", doc)
    as_list = read_xcconfig(doc, variables=_EveryName())["NUDGE_ORG_NAME"]
    as_string = read_xcconfig(doc, variables=_EveryName(), string_typed=True)["NUDGE_ORG_NAME"]
    assert as_list == as_string  # the same for user-defined and built-in string settings
    return as_list


def read_env_value(encoded: str) -> object:
    doc = f"# generated\nNUDGE_ORG_NAME={encoded}\nNUDGE_FLAG=true\n"
    validate("env", doc)
    return read_env(doc)["NUDGE_ORG_NAME"]


# Escape grammars from the language references (Swift: "String Literals" in The Swift
# Programming Language; Kotlin: "Strings"; Dart: "Strings" in the language tour).
_SIMPLE_ESCAPES = {
    "swift": {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "0": "\0"},
    "kotlin": {"\\": "\\", '"': '"', "'": "'", "$": "$", "n": "\n", "r": "\r", "t": "\t"}
    | {"b": "\b"},
    "dart": {"\\": "\\", '"': '"', "'": "'", "$": "$", "n": "\n", "r": "\r", "t": "\t"}
    | {"b": "\b", "f": "\f", "v": "\v"},
}


def decode_literal(language: str, literal: str) -> str:
    assert literal[0] == literal[-1] == '"' and len(literal) >= 2
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        char = body[i]
        assert char not in '"\r\n\u2028\u2029', f"raw {char!r} in {literal!r}"
        assert not (char == "$" and language != "swift"), "unescaped $ starts a template"
        if char != "\\":
            out.append(char)
            i += 1
        elif body[i + 1] == "u" and language == "kotlin":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif body[i + 1] == "u":
            end = body.index("}", i)
            assert body[i + 2] == "{"
            code = int(body[i + 3 : end], 16)
            assert not 0xD800 <= code <= 0xDFFF
            out.append(chr(code))
            i = end + 1
        else:
            out.append(_SIMPLE_ESCAPES[language][body[i + 1]])  # KeyError: not an escape
            i += 2
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def source_reader(language: str) -> Callable[[str], object]:
    def read(encoded: str) -> object:
        declaration = {"swift": "let", "kotlin": "const val", "dart": "const"}[language]
        doc = f"// generated\n{declaration} organizationName = {encoded}\n"
        validate(language, doc)
        return decode_literal(language, encoded)

    return read


READ_BACK: dict[str, Callable[[str], object]] = {
    "plist": read_plist,
    "infoplist": read_info_plist,
    "xml": read_xml,
    "android-strings": read_android_string,
    "json": read_json,
    "toml": read_toml,
    "properties": read_java_properties,
    "xcconfig": read_xcconfig_value,
    "env": read_env_value,
    "swift": source_reader("swift"),
    "kotlin": source_reader("kotlin"),
    "dart": source_reader("dart"),
    "text": lambda encoded: encoded,
}


def check_round_trip(fmt: str, value: str) -> None:
    try:
        encoded = encode(fmt, value)
    except ValueRefused as refusal:
        assert should_refuse(fmt, value), f"{fmt} refused {value!r} without cause: {refusal}"
        assert str(refusal)
        return
    assert not should_refuse(fmt, value), f"{fmt} accepted {value!r}: {encoded!r}"
    assert READ_BACK[fmt](encoded) == value


# --- property tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@MANY
@given(value=any_text)
def test_text_reads_back_exactly_or_is_refused_for_a_stated_reason(fmt: str, value: str) -> None:
    check_round_trip(fmt, value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_values_read_back_exactly_or_are_refused_for_a_stated_reason(fmt: str) -> None:
    for value in HOSTILE:
        check_round_trip(fmt, value)


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


@pytest.mark.parametrize("fmt", FORMATS)
@SOME
@given(value=scalars)
def test_scalars_read_back_with_their_type(fmt: str, value: bool | int | float) -> None:
    encoded = encode(fmt, value)
    if isinstance(value, bool):
        assert encoded == {"xcconfig": ("YES" if value else "NO")}.get(fmt, str(value).lower())
    elif fmt in ("json", "toml"):
        assert READ_BACK[fmt](encoded) == value and type(READ_BACK[fmt](encoded)) is type(value)
    elif fmt in ("swift", "kotlin", "dart"):
        validate(fmt, f"let x = {encoded}\n")
        assert type(value)(encoded) == value
    else:
        assert READ_BACK[fmt](encoded) == str(value)


json_trees = st.recursive(
    st.none() | scalars | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
toml_trees = st.recursive(
    scalars | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


def _has_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return _has(value, lambda c: 0xD800 <= ord(c) <= 0xDFFF)
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


@SOME
@given(value=json_trees)
def test_json_trees_read_back_exactly(value: object) -> None:
    if _has_surrogate(value):
        with pytest.raises(ValueRefused, match="lone surrogate"):
            encode("json", value)
        return
    assert read_json(encode("json", value)) == value


@SOME
@given(value=toml_trees)
def test_toml_literals_are_what_tomli_w_writes_and_read_back(value: object) -> None:
    encoded = encode("toml", value)
    assert read_toml(encoded) == value
    written = tomli_w.dumps({"name": value})
    if written.startswith("name = "):  # else tomli-w chose a [table] or [[array of tables]]
        assert written == f"name = {encoded}\n"


# --- the real consumers: java.util.Properties, dotenv.gradle, generate-header.js ----------------


def _seeded_values(count: int = 300) -> list[str]:
    alphabet = [*map(chr, range(0x20, 0x7F)), *"=:#!\\ \t\n\r\f$/;'\""] + [
        "é", "ß", "€", "中", "😀", "𝄞", "\u2028", "\x00", "\x7f", "\x85", "\ufeff", "\u00a0",
    ]  # fmt: skip
    rng = random.Random(20240517)
    generated = ["".join(rng.choices(alphabet, k=rng.randint(0, 24))) for _ in range(count)]
    return HOSTILE + generated


def _random_properties_document(rng: random.Random) -> str:
    pieces = ["a", "b", "=", ":", " ", "\t", "\f", "\\", "\\\\", "\n", "\r", "\r\n", "#", "!"]
    pieces += ["\\u0041", "\\u00e9", "\\ud83d\\ude00", "\\n", "é", "0", "x y"]
    document = "".join(rng.choices(pieces, k=rng.randint(0, 30)))
    if rng.random() < 0.1:  # now and then a malformed escape, which Java rejects
        cut = rng.randint(0, len(document))
        document = document[:cut] + "\\u12" + document[cut:]
    return document


def _run_java(args: list[str]) -> dict[str, dict[str, str] | str]:
    java = platform_tools.debian_tool("java", "default-jre-headless")
    result = subprocess.run(
        [java, str(JAVA_READER), *args], capture_output=True, text=True, check=True, timeout=120
    )
    files: dict[str, dict[str, str] | str] = {}
    current: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if line.startswith("FILE "):
            current = files.setdefault(line[5:], {})  # type: ignore[assignment]
        elif line.startswith("ERROR "):
            files[next(reversed(files))] = line[6:]
        else:
            key, value = line.split("\t")
            current[json.loads(f'"{key}"')] = json.loads(f'"{value}"')
    return files


@pytest.fixture(scope="module")
def java_readings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One JVM run reading everything the tests below compare: encoded values in a
    gradle.properties and a .env, plus random properties documents for the reader itself."""
    root = tmp_path_factory.mktemp("java")
    values = _seeded_values()
    expected_properties: dict[str, str] = {}
    lines = []
    for index, value in enumerate(values):
        try:
            encoded = encode("properties", value)
        except ValueRefused:
            assert should_refuse("properties", value)
            continue
        key = f"nudge.value{index}"
        lines.append(f"{key}{['=', ' = ', ':', ' '][index % 4]}{encoded}\n")
        expected_properties[key] = value
    (root / "gradle.properties").write_bytes("".join(lines).encode("ascii"))

    expected_env: dict[str, str] = {}
    env_lines = []
    for index, value in enumerate(values):
        try:
            encoded = encode("env", value)
        except ValueRefused:
            assert should_refuse("env", value)
            continue
        env_lines.append(f"NUDGE_VALUE_{index}={encoded}\n")
        expected_env[f"NUDGE_VALUE_{index}"] = value
    (root / ".env").write_text("".join(env_lines), encoding="utf-8")

    rng = random.Random(7)
    documents = {f"doc{i}.properties": _random_properties_document(rng) for i in range(300)}
    for name, text in documents.items():
        (root / name).write_bytes(text.encode("latin-1"))

    args = [f"properties:{root / 'gradle.properties'}", f"dotenv:{root / '.env'}"]
    args += [f"properties:{root / name}" for name in documents]
    return {
        "java": _run_java(args),
        "properties": expected_properties,
        "env": expected_env,
        "env_path": root / ".env",
        "documents": documents,
    }


def test_properties_values_read_back_exactly_with_java(java_readings: dict[str, object]) -> None:
    java = java_readings["java"]
    assert isinstance(java, dict)
    assert java["gradle.properties"] == java_readings["properties"]
    assert len(java_readings["properties"]) > 300  # type: ignore[arg-type]


def test_read_properties_agrees_with_java_on_random_documents(
    java_readings: dict[str, object],
) -> None:
    java = java_readings["java"]
    documents = java_readings["documents"]
    assert isinstance(java, dict) and isinstance(documents, dict)
    for name, text in documents.items():
        try:
            ours: dict[str, str] | str = read_properties(text)
        except InvalidOutput as exc:
            ours = str(exc)
        assert ours == java[name], f"{text!r}"


def test_env_values_read_back_exactly_with_the_android_gradle_regex(
    java_readings: dict[str, object],
) -> None:
    java = java_readings["java"]
    assert isinstance(java, dict)
    assert java[".env"] == java_readings["env"]


def test_env_values_read_back_exactly_with_the_windows_js_regex(
    java_readings: dict[str, object],
) -> None:
    node = platform_tools.node()
    # The line regex of windows/RNCConfig/generate-header.js, over readline's lines.
    script = (
        "const text = require('fs').readFileSync(process.argv[1], 'utf8');"
        "const re = /^\\s*(?:export\\s+|)([\\w\\d\\.\\-_]+)\\s*=\\s*['\"]?(.*?)?['\"]?\\s*$/;"
        "const out = {};"
        "for (const line of text.split(/\\r\\n|\\n|\\r/)) {"
        "  const m = line.match(re); if (m) out[m[1]] = m[2] ?? ''; }"
        "process.stdout.write(JSON.stringify(out));"
    )
    result = subprocess.run(
        [node, "-e", script, str(java_readings["env_path"])],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == java_readings["env"]


# --- exact encodings ---------------------------------------------------------------------------

BANK = 'Harbor & Main\'s "Bank"'


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        ("plist", BANK, "Harbor &amp; Main&apos;s &quot;Bank&quot;"),
        ("plist", "a]]>b\r\n", "a]]&gt;b&#13;\n"),
        ("xml", "tab\tline\nret\r", "tab&#9;line&#10;ret&#13;"),
        ("android-strings", BANK, 'Harbor &amp; Main\\\'s \\"Bank\\"'),
        ("android-strings", "@string/x", "\\@string/x"),
        ("android-strings", "?attr", "\\?attr"),
        ("android-strings", " two  spaces ", "\\u0020two \\u0020spaces\\u0020"),
        ("android-strings", "a\\b\nc\td\re", "a\\\\b\\nc\\td\\u000De"),
        ("json", BANK, '"Harbor & Main\'s \\"Bank\\""'),
        ("json", "line\u2028sep", '"line\\u2028sep"'),
        ("json", None, "null"),
        ("toml", BANK, '"Harbor & Main\'s \\"Bank\\""'),
        ("toml", {"a b": [1]}, '{ "a b" = [\n    1,\n] }'),
        ("properties", BANK, 'Harbor & Main\'s "Bank"'),
        ("properties", " =:#!\\", "\\ \\=\\:\\#\\!\\\\"),
        ("properties", "é😀\n", "\\u00E9\\uD83D\\uDE00\\n"),
        ("xcconfig", "https://example.com//x", "https:/$()/example.com/$()/x"),
        ("xcconfig", "$(HOME) costs $5;", "$$(HOME) costs $$5;$()"),
        ("xcconfig", True, "YES"),
        ("env", "https://example.com/?a=1#top", "'https://example.com/?a=1#top'"),
        ("swift", BANK + "\\(x)", '"Harbor & Main\'s \\"Bank\\"\\\\(x)"'),
        ("swift", "\x00\u202e\n", '"\\0\\u{202E}\\n"'),
        ("kotlin", "${x} $y", '"\\${x} \\$y"'),
        ("kotlin", "\u2029😀", '"\\u2029😀"'),
        ("dart", "${x}\u0007", '"\\${x}\\u{7}"'),
        ("text", "{{ 7*7 }} & $(X)", "{{ 7*7 }} & $(X)"),
        ("text", False, "false"),
    ],
)
def test_exact_encodings(fmt: str, value: object, expected: str) -> None:
    assert encode(fmt, value) == expected


@pytest.mark.parametrize(
    ("fmt", "value", "reason"),
    [
        ("plist", "a\x01b", "contains U+0001, which XML 1.0 cannot hold"),
        ("xml", "\uffff", "contains U+FFFF, which XML 1.0 cannot hold"),
        ("xcconfig", "a\nb", "contains a newline, which an xcconfig value cannot hold"),
        ("xcconfig", "a\u2028b", "contains U+2028, which Xcode reads as a line break"),
        ("xcconfig", " a", "starts or ends with a space, which Xcode trims from an xcconfig value"),
        ("xcconfig", "C:\\", "ends with a backslash, which Xcode reads as a line continuation"),
        (
            "env",
            "C:\\x",
            "contains a backslash, which dotenv keeps but react-native-config's generated "
            "Objective-C/Java code reads as an escape",
        ),
        ("env", "x\ty", "contains a tab, which a .env line cannot hold"),
        ("json", math.nan, "is nan, which JSON cannot hold"),
        ("toml", None, "is null, which TOML has no way to write"),
        ("toml", 2**63, "is 9223372036854775808, outside the 64-bit integer range"),
        ("kotlin", -(2**63), "is -9223372036854775808, outside the 64-bit integer range"),
        ("swift", math.inf, "is inf, which has no literal in source code"),
        ("plist", None, "is null"),
        ("properties", ["a"], "is a list, which only JSON and TOML files can hold"),
        ("json", {1: "a"}, "has a non-string key 1"),
        ("json", "\ud800", "contains a lone surrogate U+D800, which is not a character"),
    ],
)
def test_refusals_say_why(fmt: str, value: object, reason: str) -> None:
    with pytest.raises(ValueRefused) as refused:
        encode(fmt, value)
    assert str(refused.value) == reason
    assert isinstance(refused.value, ValueError)


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        encode("yaml", "x")
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        validate("yaml", "x")


@pytest.mark.parametrize("fmt", ["plist", "xml", "json", "properties"])
def test_organization_text_with_markup_reads_back(fmt: str) -> None:
    """RELIABILITY row 17 (and row 19: template syntax in data is only ever data)."""
    value = 'Harbor & Main\'s "Bank" <b>]]> {{ 7*7 }} {% raw %}'
    assert READ_BACK[fmt](encode(fmt, value)) == value


# --- format_for --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "fmt"),
    [
        ("ios/Runner/Info.plist", "infoplist"),
        ("ios/Runner/Info.plist.j2", "infoplist"),
        ("ios/Runner/GoogleService-Info.plist", "plist"),
        ("ios/Runner/PrivacyInfo.xcprivacy", "plist"),
        ("android/app/src/main/AndroidManifest.xml", "xml"),
        ("android/app/src/main/res/values/strings.xml", "android-strings"),
        ("res/values-fr/strings.xml.j2", "android-strings"),
        ("res/values-night-v31/colors.xml", "android-strings"),
        ("res/valuesx/strings.xml", "xml"),
        ("res/xml/network_security_config.xml", "xml"),
        ("assets/nudge.json", "json"),
        ("nudge.toml", "toml"),
        ("android/gradle.properties", "properties"),
        ("ios/Flutter/Nudge.xcconfig", "xcconfig"),
        (".env", "env"),
        (".env.j2", "env"),
        (".env.nudge", "env"),
        ("config/nudge.env", "env"),
        ("ios/Runner/Nudge.swift", "swift"),
        ("android/app/src/main/kotlin/Nudge.kt", "kotlin"),
        ("lib/nudge_config.dart.j2", "dart"),
        ("README.md", "text"),
        ("Makefile", "text"),
        ("notes.j2", "text"),
        ("app.JSON", "json"),
    ],
)
def test_format_for(target: str, fmt: str) -> None:
    assert format_for(target) == fmt


def test_every_format_has_an_encoder_and_a_validator() -> None:
    minimal = {"plist": "<plist><true/></plist>", "xml": "<a/>", "android-strings": "<resources/>"}
    minimal["infoplist"] = minimal["plist"]
    for fmt in FORMATS:
        encode(fmt, "x")
        validate(fmt, minimal.get(fmt, {"json": "{}"}.get(fmt, "")))


# --- validation failures carry the line ------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "text", "line", "message"),
    [
        (
            "plist",
            "<plist>\n<dict>\n<key>a</key><string>a & b</string>\n</dict></plist>",
            3,
            "not well",
        ),
        ("xml", "<manifest>\n  <application>\n</manifest>\n", 3, "mismatched tag"),
        ("android-strings", "<?xml version='1.0'?>\n<manifest/>\n", 2, "must be <resources>"),
        (
            "android-strings",
            "<resources>\n  <string name='a'>ok</string>\n  <string name='b'>Main's</string>\n"
            "</resources>\n",
            3,
            "unescaped apostrophe",
        ),
        (
            "android-strings",
            "<resources>\n\n  <string name='a'>%s and %d</string>\n</resources>\n",
            3,
            "non-positional format",
        ),
        (
            "android-strings",
            "<resources>\n  <string-array name='a'>\n    <item>Main's</item>\n"
            "  </string-array>\n</resources>\n",
            3,
            "unescaped apostrophe",
        ),
        ("json", '{\n  "a": 1,\n  "b": \n}\n', 4, "Expecting value"),
        ("json", '{\n  "a": NaN\n}\n', None, "NaN is not JSON"),
        ("toml", 'a = 1\nb = "open\n', 2, "Illegal character"),
        ("properties", "a=1\nname=Café\n", 2, "U+00E9"),
        ("properties", "a=1\nb=\\u00zz\n", 2, "Malformed"),
        ("properties", "a=1\nb=2\\\n\n", 2, "continues into nothing"),
        ("xcconfig", "A = 1\nURL = https://example.com\n", 2, "'//' in a value"),
        ("xcconfig", "A = 1\n\nB = x \\\nC = 2\n", 3, "continues onto the next line"),
        ("xcconfig", "A = 1\n-B = 2\n", 2, "expected KEY = value"),
        ("xcconfig", '#import "x"\n', 1, "#include"),
        ("env", "A=1\nB C=2\n", 2, "expected KEY=value"),
        ("env", "A=1\n# note\nB.C=2\n", 3, "expected KEY=value"),
        ("env", "A=1\nB=it'\n", 2, "read this line differently"),
        ("env", "A=1\nB=x\\n\n", 2, "backslash"),
        ("swift", 'let a = "ok"\nlet b = "open\nlet c = 1\n', 2, "raw line break"),
        ("kotlin", 'val a = """\nmulti\n"""\nval b = "x\n', 4, "raw line break"),
        ("dart", "const a = r'\\';\nconst b = 'open", 2, "unterminated string"),
        ("swift", "/* outer /* inner */ still comment\nlet a = 1\n", 2, "unterminated /*"),
    ],
)
def test_validate_reports_the_line(fmt: str, text: str, line: int | None, message: str) -> None:
    with pytest.raises(InvalidOutput, match=re.escape(message)) as failure:
        validate(fmt, text)
    assert failure.value.line == line


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (
            "xcconfig",
            '#include "Pods.xcconfig"\n// note\nA = $(inherited) -ObjC\nB[sdk=ios*] = 1\n',
        ),
        ("env", "# comment\n\nA_B='https://example.com/#frag'\nEMPTY=\n"),
        ("properties", "# c\n! c\nkey = value \\\n    continued\n"),
        (
            "android-strings",
            '<resources>\n  <string name="a">%1$s and %2$s</string>\n'
            '  <string name="b" formatted="false">%s and %d</string>\n'
            '  <string name="c">"Main\'s" <b>bold</b></string>\n</resources>\n',
        ),
        ("kotlin", 'val a = "${map["k"]}"\nval b = \'"\'\nval c = """\n"x"\n"""\n// "\n'),
        ("swift", 'let a = #"raw "quoted" \\ text"#\nlet b = """\nline\n"""\n'),
        ("dart", "const a = r'C:\\';\nconst b = '''\nx\n''';\nconst c = \"it's\";\n"),
    ],
)
def test_validate_accepts_ordinary_files(fmt: str, text: str) -> None:
    validate(fmt, text)


# --- the readers on their own ------------------------------------------------------------------


def test_read_properties_follows_java() -> None:
    text = (
        "# comment \\\n"
        "a = 1\n"
        "  b:2\r\n"
        "c 3\r"
        "d=one \\\n"
        "   two \\\n"
        "# not a comment\n"
        "e\\ key=\\u0041\\t\n"
        "f=\\\n"
        "\n"
        "g=last\\"
    )
    assert read_properties(text) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "one two # not a comment",
        "e key": "A\t",
        "f": "",
        "g": "last",
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("  plain  text  ", "plain text"),
        ('"  quoted  "', "  quoted  "),
        ("\\@string/x", "@string/x"),
        ("a\\nb\\tc\\u0041\\'\\\"\\\\", "a\nb\tcA'\"\\"),
        ("don\\'t", "don't"),
        ('"don\'t"', "don't"),
        ("line\n   break", "line break"),
        ("\\u0020lead", " lead"),
        ("\\q", "q"),
    ],
)
def test_unescape_android_string(raw: str, value: str) -> None:
    assert unescape_android_string(raw) == value


def test_unescape_android_string_rejects_what_aapt2_rejects() -> None:
    with pytest.raises(InvalidOutput, match="unescaped apostrophe"):
        unescape_android_string("Main's")
    with pytest.raises(InvalidOutput, match="invalid unicode escape"):
        unescape_android_string("\\u12g4")


def test_read_xcconfig_follows_xcode() -> None:
    text = (
        '#include? "Local.xcconfig"\n'
        "// comment\n"
        "A = one // trailing comment\n"
        "B = two ;\n"
        "C = https:/$()/x\n"
        "D[sdk=iphoneos*][arch=arm64] = $$(NOT_A_REF) 5$$\n"
        "E = first \\\n"
        "    second\n"
        "F = 'quoted' \"kept\" \\$(X)\n"
        "G =\n"
        "H = $(HOME)/$USER\r\n"
        "I = x\u2028J = y\n"
    )
    assert read_xcconfig(text) == {
        "A": "one",
        "B": "two",
        "C": "https://x",
        "D[sdk=iphoneos*][arch=arm64]": "$(NOT_A_REF) 5$",
        "E": "first second",
        "F": "'quoted' \"kept\" \\$(X)",
        "G": "",
        "H": "$(HOME)/$USER",
        "I": "x",
        "J": "y",
    }
    resolved = read_xcconfig(text, variables={"HOME": "/Users/me"})
    assert resolved["H"] == "/Users/me/$USER"  # an undefined $NAME stays, $(NAME) would be empty


def test_read_env_is_strict_about_disagreeing_readers() -> None:
    assert read_env("# c\n  \nA=1\nexport B=two words\nC=\nD='x=y#z'\n") == {
        "A": "1",
        "B": "two words",
        "C": "",
        "D": "x=y#z",
    }
    # Android strips a trailing quote and trailing blanks, Windows also Unicode blanks, and iOS
    # neither; iOS cannot read a dotted key; CR is a line break for only some of them; npm
    # dotenv cuts an unquoted value at '#'.
    for line in ["A=it'", "A=trail\t", "A=\u00a0x", "A.B=1", "A=x\r", "A=x#y"]:
        with pytest.raises(InvalidOutput):
            read_env(line + "\n")
