"""The Info.plist editor: nudge's keys set or removed in place, every other byte kept."""

from __future__ import annotations

import plistlib

import pytest

from nudge_build.errors import ConfigError, RenderError
from nudge_build.merge import encode_plist_string, merge_info_plist, nudge_part
from nudge_build.merge.plan import merge_plist
from nudge_build.platforms import rules_for
from tests.swift_build_macros import info_plist_value
from tests.xcode_plist import (
    WAS_BACKGROUND_PLIST,
    XCODE_INFO_PLIST,
    outside_nudge_lines,
    plistutil_reads,
)

TEXTS = {"location_when_in_use": "Nearby branches.", "location_always": "Alerts near branches."}
BACKGROUND = rules_for({"location": True, "background_location": True, "push": True})
FOREGROUND = rules_for({"location": True, "background_location": False, "push": True})
PUSH_ONLY = rules_for({"location": False, "background_location": False, "push": True})


def merge(data: bytes, rules=BACKGROUND, texts=TEXTS) -> bytes:
    return merge_plist(data, rules, texts, where="Info.plist")


def edit(data: bytes, **changes) -> bytes:
    args = {"strings": {}, "remove_keys": (), "add_modes": (), "remove_modes": ()}
    return merge_info_plist(data, **{**args, **changes}, where="App/Info.plist")


def test_background_client_gets_location_and_its_purpose_strings_and_nothing_else_changes():
    merged = merge(XCODE_INFO_PLIST)
    expected = (
        XCODE_INFO_PLIST.replace(
            b"\t<string>Find branches near you.</string>\n",
            b"\t<string>Nearby branches.</string>\n",
        )
        .replace(
            b"\t\t<string>fetch</string>\n",
            b"\t\t<string>fetch</string>\n\t\t<string>location</string>\n",
        )
        .replace(
            b"\t</array>\n</dict>\n</plist>\n",
            b"\t</array>\n"
            b"\t<key>NSLocationAlwaysAndWhenInUseUsageDescription</key>\n"
            b"\t<string>Alerts near branches.</string>\n"
            b"\t<key>NSLocationAlwaysUsageDescription</key>\n"
            b"\t<string>Alerts near branches.</string>\n"
            b"</dict>\n</plist>\n",
        )
    )
    assert merged == expected
    assert outside_nudge_lines(merged) == outside_nudge_lines(XCODE_INFO_PLIST)
    values = plistlib.loads(merged)
    assert values["UIBackgroundModes"] == ["remote-notification", "fetch", "location"]
    assert values["NSLocationWhenInUseUsageDescription"] == "Nearby branches."
    assert values["NSLocationAlwaysUsageDescription"] == "Alerts near branches."


def test_push_only_client_loses_every_nudge_location_key_and_mode_and_keeps_the_rest():
    merged = merge(WAS_BACKGROUND_PLIST, PUSH_ONLY)
    assert outside_nudge_lines(merged) == outside_nudge_lines(WAS_BACKGROUND_PLIST)
    # What is left is exactly the app's own file without nudge's lines.
    assert merged == b"".join(outside_nudge_lines(XCODE_INFO_PLIST))
    values = plistlib.loads(merged)
    assert not any(k.startswith("NSLocation") for k in values)
    assert values["UIBackgroundModes"] == ["remote-notification", "fetch"]
    # Also from the app's file as it came: its own When In Use string goes too.
    assert b"NSLocation" not in merge(XCODE_INFO_PLIST, PUSH_ONLY)


def test_foreground_client_keeps_when_in_use_and_drops_always_and_the_location_mode():
    merged = merge(WAS_BACKGROUND_PLIST, FOREGROUND)
    values = plistlib.loads(merged)
    assert values["NSLocationWhenInUseUsageDescription"] == "Nearby branches."
    assert "NSLocationAlwaysUsageDescription" not in values
    assert "NSLocationAlwaysAndWhenInUseUsageDescription" not in values
    assert values["UIBackgroundModes"] == ["remote-notification", "fetch"]
    assert outside_nudge_lines(merged) == outside_nudge_lines(XCODE_INFO_PLIST)


@pytest.mark.parametrize("rules", [BACKGROUND, FOREGROUND, PUSH_ONLY])
def test_a_plist_that_needs_no_change_comes_back_as_the_same_bytes(rules):
    once = merge(WAS_BACKGROUND_PLIST, rules)
    assert merge(once, rules) is once


def test_an_equal_value_written_another_way_is_not_rewritten():
    data = XCODE_INFO_PLIST.replace(b"Find branches near you.", b"Caf&#233; &amp; ATMs")
    assert edit(data, strings={"NSLocationWhenInUseUsageDescription": "Café & ATMs"}) is data


def test_every_result_reads_back_through_plistlib_and_plistutil(tmp_path):
    for name, data in {
        "background": merge(XCODE_INFO_PLIST),
        "foreground": merge(WAS_BACKGROUND_PLIST, FOREGROUND),
        "push-only": merge(WAS_BACKGROUND_PLIST, PUSH_ONLY),
        "hostile": merge(XCODE_INFO_PLIST, texts={k: HOSTILE for k in TEXTS}),
    }.items():
        path = tmp_path / f"{name}.plist"
        path.write_bytes(data)
        assert plistutil_reads(path, tmp_path) == plistlib.loads(data)


HOSTILE = "$(PRODUCT_NAME) ${HOME} $HOME $5 $$ & <b> \"q\" 'a' \r\n\t\x85\u2028\u2029 é 🙂 ]]>"


def test_strings_are_written_so_xcode_and_every_reader_get_them_exactly():
    merged = merge(XCODE_INFO_PLIST, texts={k: HOSTILE for k in TEXTS})
    assert b"$$(PRODUCT_NAME) $${HOME} $$HOME $$5 $$$$ &amp; &lt;b&gt;" in merged
    assert b"&#13;\n\t&#x85;&#x2028;&#x2029;" in merged
    for raw in ("\r", "\x85", "\u2028", "\u2029"):
        assert raw.encode() not in merged
    # A plist reader sees Xcode's input: each `$` doubled, which Xcode's expansion undoes.
    values = plistlib.loads(merged)
    assert values["NSLocationAlwaysUsageDescription"] == HOSTILE.replace("$", "$$")
    assert encode_plist_string("$") == "$$"
    # Xcode's expansion (swift-build's rules, re-implemented in the tests) gives the text back.
    settings = {"PRODUCT_NAME": "Prairie", "HOME": "/Users/runner"}
    for key in ("NSLocationWhenInUseUsageDescription", "NSLocationAlwaysUsageDescription"):
        assert info_plist_value(values[key], settings) == HOSTILE


def test_a_missing_background_modes_array_is_created_and_an_empty_one_filled():
    without = XCODE_INFO_PLIST.replace(
        b"\t<key>UIBackgroundModes</key>\n\t<array>\n"
        b"\t\t<string>remote-notification</string>\n\t\t<string>fetch</string>\n\t</array>\n",
        b"",
    )
    merged = merge(without)
    assert merged.endswith(
        b"\t<key>UIBackgroundModes</key>\n\t<array>\n\t\t<string>location</string>\n"
        b"\t\t<string>remote-notification</string>\n\t</array>\n</dict>\n</plist>\n"
    )
    empty = XCODE_INFO_PLIST.replace(
        b"\t<array>\n\t\t<string>remote-notification</string>\n\t\t<string>fetch</string>\n"
        b"\t</array>\n",
        b"\t<array/>\n",
    )
    filled = merge(empty)
    assert b"\t<key>UIBackgroundModes</key>\n\t<array>\n\t\t<string>location</string>\n" in filled
    assert plistlib.loads(filled)["UIBackgroundModes"] == ["location", "remote-notification"]
    # Nothing to add: an app without location, push or the array is left as it is.
    bare = b"".join(outside_nudge_lines(without))
    none = rules_for({"location": False, "background_location": False, "push": False})
    assert merge(bare, none) is bare


def test_the_files_own_newlines_and_indentation_are_followed():
    crlf_spaces = XCODE_INFO_PLIST.replace(b"\t", b"    ").replace(b"\n", b"\r\n")
    merged = merge(crlf_spaces)
    assert b"\r\n        <string>location</string>\r\n    </array>" in merged
    assert b"\r\n    <key>NSLocationAlwaysUsageDescription</key>\r\n" in merged
    assert b"\n" not in merged.replace(b"\r\n", b"")
    one_line = (
        b'<?xml version="1.0"?><plist version="1.0">'
        b"<dict><key>A</key><string>b</string></dict></plist>"
    )
    single = merge(one_line)
    assert single.startswith(
        b'<?xml version="1.0"?><plist version="1.0"><dict><key>A</key><string>b</string>'
        b"<key>NSLocationWhenInUseUsageDescription</key>"
    )
    assert plistlib.loads(single)["A"] == "b"
    empty_root = b'<?xml version="1.0"?>\n<plist version="1.0">\n<dict/>\n</plist>\n'
    assert plistlib.loads(merge(empty_root))["UIBackgroundModes"] == [
        "location",
        "remote-notification",
    ]


def test_comments_and_the_apps_own_keys_between_nudges_survive():
    data = XCODE_INFO_PLIST.replace(
        b"\t<key>NSLocationWhenInUseUsageDescription</key>\n",
        b"\t<!-- location, for the branch finder -->\n"
        b"\t<key>NSLocationWhenInUseUsageDescription</key>\n",
    )
    removed = merge(data, PUSH_ONLY)
    assert b"<!-- location, for the branch finder -->\n\t<key>UIApplicationSceneManifest" in removed


def test_nudge_part_ignores_the_partners_keys_and_key_order():
    merged = merge(XCODE_INFO_PLIST)
    renamed = merged.replace(b"<string>Prairie FCU</string>", b"<string>Prairie</string>")
    assert nudge_part(renamed) == nudge_part(merged)
    retouched = merged.replace(b"Nearby branches.", b"Nearby branches!")
    assert nudge_part(retouched) != nudge_part(merged)
    reordered = merged.replace(
        b"\t\t<string>remote-notification</string>\n\t\t<string>fetch</string>\n",
        b"\t\t<string>fetch</string>\n\t\t<string>remote-notification</string>\n",
    )
    assert nudge_part(reordered) == nudge_part(merged)
    assert b"Prairie" not in nudge_part(merged) and b"fetch" not in nudge_part(merged)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (plistlib.dumps({"A": "b"}, fmt=plistlib.FMT_BINARY), "is a binary plist"),
        (plistlib.dumps(["a"]), "the plist's root is list, not a dictionary"),
        (XCODE_INFO_PLIST.replace(b"</dict>\n</plist>", b"</plist>"), "not a readable XML plist"),
        (b"\xff\xfe<\x00", "is not UTF-8 text"),
        (
            XCODE_INFO_PLIST.replace(b"<string>Find branches near you.</string>", b"<true/>"),
            "NSLocationWhenInUseUsageDescription: its value is a <true>, not a <string>",
        ),
        (
            XCODE_INFO_PLIST.replace(
                b"\t<key>UILaunchScreen</key>",
                b"\t<key>NSLocationWhenInUseUsageDescription</key>\n\t<string>x</string>\n"
                b"\t<key>UILaunchScreen</key>",
            ),
            "NSLocationWhenInUseUsageDescription: it appears 2 times",
        ),
        (
            XCODE_INFO_PLIST.replace(
                b"<array>\n\t\t<string>remote-notification</string>\n\t\t<string>fetch</string>\n\t</array>",
                b"<string>fetch</string>",
            ),
            "UIBackgroundModes: its value is a <string>",
        ),
        (
            XCODE_INFO_PLIST.replace(b"<string>fetch</string>", b"<integer>1</integer>"),
            "UIBackgroundModes: it holds values other than <string>",
        ),
    ],
)
def test_what_cannot_be_edited_safely_is_refused_naming_the_file(data, message):
    with pytest.raises(ConfigError) as caught:
        merge(data)
    assert str(caught.value).startswith("Info.plist: ")
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_text_a_plist_cannot_hold_is_a_render_error_naming_the_key():
    with pytest.raises(RenderError) as caught:
        merge(XCODE_INFO_PLIST, texts={**TEXTS, "location_always": "bell \x07"})
    assert "Info.plist: NSLocationAlwaysAndWhenInUseUsageDescription: contains U+0007" in str(
        caught.value
    )


def test_a_key_cannot_be_both_set_and_removed():
    with pytest.raises(ValueError):
        edit(XCODE_INFO_PLIST, strings={"A": "b"}, remove_keys=("A",))


@pytest.mark.parametrize("between", [b"", b"\n"], ids=["same-line", "own-line"])
def test_an_empty_root_dict_written_as_one_tag_is_filled(between):
    """`<dict/>` right before `</plist>` once made the reader take `</plist>` for its end tag."""
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">'
        + between
        + b"<dict/>"
        + between
        + b"</plist>\n"
    )
    merged = merge_info_plist(
        data,
        strings={"NSLocationWhenInUseUsageDescription": "Near you"},
        remove_keys=[],
        add_modes=["location"],
        remove_modes=[],
        where="App/Info.plist",
    )
    assert plistlib.loads(merged) == {
        "NSLocationWhenInUseUsageDescription": "Near you",
        "UIBackgroundModes": ["location"],
    }
    assert merged.startswith(data[: data.index(b"<dict/>")])
    assert merged.endswith(between + b"</plist>\n")
