"""Exact spellings and refusal messages of the per-format encoders.

The read-back tests in test_formats.py prove that every value survives its consumer; these pin
the one spelling chosen where several would read back the same (so output bytes, and with them
golden files and lockfile digests, do not drift), and the words a refusal shows the user.
"""

from __future__ import annotations

import pytest
import tomli_w
from markupsafe import Markup

from nudge_build import formats
from nudge_build.formats import FORMATS, ValueRefused, encode, validate


def refusal(fmt: str, value: object) -> str:
    with pytest.raises(ValueRefused) as caught:
        encode(fmt, value)
    return str(caught.value)


@pytest.mark.parametrize("call", [encode, validate])
def test_an_unknown_format_is_named_with_the_list_of_known_ones(call):
    with pytest.raises(ValueError) as caught:
        call("yaml", "x")
    assert str(caught.value) == f"unknown format 'yaml'; expected one of {', '.join(FORMATS)}"
    assert "plist, infoplist, xml" in str(caught.value)


def test_a_carriage_return_is_named_in_words():
    assert refusal("env", "a\rb") == "contains a carriage return, which a .env line cannot hold"


@pytest.mark.parametrize("fmt", ["text", "json", "toml"])
def test_an_unrenderable_type_is_named(fmt):
    assert refusal(fmt, {1, 2}) == "is a set, which cannot be rendered"


def test_a_toml_table_with_a_non_string_key_is_refused_naming_the_key():
    assert refusal("toml", {1: "a"}) == "has a non-string key 1"


def test_json_keeps_non_ascii_characters_as_they_are():
    assert encode("json", "Zürich ✓") == '"Zürich ✓"'


def test_a_toml_tab_is_written_raw_as_tomli_w_writes_it():
    assert encode("toml", "a\tb") == '"a\tb"'
    assert tomli_w.dumps({"k": "a\tb"}) == 'k = "a\tb"\n'


@pytest.mark.parametrize("text", ["X", "Xylophone", "x@y?z", "~"])
def test_android_strings_escape_only_what_aapt2_needs(text):
    assert encode("android-strings", text) == text


def test_android_strings_escape_a_leading_reference_marker():
    assert encode("android-strings", "@home") == "\\@home"
    assert encode("android-strings", "?attr") == "\\?attr"


@pytest.mark.parametrize("text", ["X", "Xylophone", "~tilde~", "a b"])
def test_properties_keep_printable_ascii_as_properties_store_does(text):
    assert encode("properties", text) == text


def test_properties_escape_separators_and_non_ascii():
    assert encode("properties", "=:#!") == "\\=\\:\\#\\!"
    assert encode("properties", "é\U0001f600") == "\\u00E9\\uD83D\\uDE00"


def test_an_xcconfig_backslash_dollar_is_refused_with_the_reason():
    assert refusal("xcconfig", "a\\$b") == (
        "has a backslash right before '$', which Xcode settings read inconsistently"
    )


def test_an_env_value_with_both_quotes_and_a_hash_is_refused_with_the_reason():
    assert refusal("env", "'\"#") == (
        "contains both quote characters and a '#', which no .env spelling carries through "
        "dotenv (it has no escapes and reads '#' after a closing quote as a comment)"
    )


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("swift", '"\\r\\t\\n\\0\\u{E0001}"'),
        ("kotlin", '"\\r\\t\\n\\u0000\\uDB40\\uDC01"'),
        ("dart", '"\\r\\t\\n\\u{0}\\u{E0001}"'),
    ],
)
def test_source_literals_use_the_short_escapes_and_one_spelling_for_the_rest(fmt, expected):
    # U+E0001 (a format character outside the BMP) is a surrogate pair in Kotlin's \\u escapes.
    assert encode(fmt, "\r\t\n\0\U000e0001") == expected


def test_kotlin_spells_backspace_with_its_short_escape():
    assert encode("kotlin", "\b") == '"\\b"'


def test_the_infoplist_setting_filter_returns_safe_markup_or_the_value_unchanged():
    setting = formats.TEMPLATE_FILTERS["infoplist_setting"]
    assert setting("a$b") == Markup("a$$$$b")
    assert isinstance(setting("a$b"), Markup)
    assert setting("a\nb") == "a\nb"  # refused: left for the xcconfig encoder to refuse


def test_the_refusal_filter_says_why_or_nothing():
    why = formats.TEMPLATE_FILTERS["infoplist_setting_refusal"]
    assert why("fine $ value") == ""
    assert why("a\nb") == "contains a newline, which an xcconfig value cannot hold"


@pytest.mark.parametrize("language", ["swift", "kotlin", "dart"])
def test_a_freshly_built_source_encoder_writes_the_same_literals(language):
    # The encoders are built once at import; building one here runs that code under test too.
    string = {
        "swift": formats._swift_string,
        "kotlin": formats._kotlin_string,
        "dart": formats._dart_string,
    }[language]
    fresh = formats._source_encoder(string)
    for value in (True, False, 0, -(2**63) + 1, 2**63 - 1, 1.5, -0.0, "a$b"):
        assert fresh(value) == encode(language, value)
    assert fresh(True) == "true"
    assert fresh(False) == "false"
    assert fresh(42) == "42"
    assert fresh(1.5) == "1.5"
    assert fresh("hi") == '"hi"'
    with pytest.raises(ValueRefused, match="outside the 64-bit integer range"):
        fresh(-(2**63))
    with pytest.raises(ValueRefused, match="outside the 64-bit integer range"):
        fresh(2**63)
    with pytest.raises(ValueRefused, match="is inf, which has no literal in source code"):
        fresh(float("inf"))
    with pytest.raises(ValueRefused, match="is null"):
        fresh(None)


def test_a_toml_key_is_bare_where_toml_allows_and_quoted_where_it_must_be():
    # Both spellings read back alike; the bare one is pinned so output bytes do not drift.
    assert encode("toml", {"bare_key-1": 1, "needs quote": 2, "ü": 3}) == (
        '{ bare_key-1 = 1, "needs quote" = 2, "ü" = 3 }'
    )
