"""The merge into the partner's files: the digest input, the messages and the edit boundaries.

``nudge_part`` and ``dotenv_part`` are what the lockfile's digests of a partner-owned file are
computed from: a change to their bytes would make every existing lockfile report a hand edit,
so their exact output is pinned here.
"""

from __future__ import annotations

import plistlib

import pytest

from nudge_build.errors import ConfigError, RenderError
from nudge_build.merge import encode_plist_string, merge_info_plist, nudge_part
from nudge_build.merge.dotenv import dotenv_part
from nudge_build.merge.plan import _resolve, dotenv_entries

HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n'


def plist(body: bytes) -> bytes:
    return HEAD + body + b"</plist>\n"


def edit(data: bytes, **changes) -> bytes:
    args = {"strings": {}, "remove_keys": (), "add_modes": (), "remove_modes": ()}
    return merge_info_plist(data, **{**args, **changes}, where="App/Info.plist")


def test_nudge_part_is_a_sorted_xml_plist_of_nudges_keys_and_modes():
    data = plist(
        b"<dict>\n"
        b"\t<key>UIBackgroundModes</key>\n"
        b"\t<array><string>location</string><string>fetch</string>"
        b"<string>remote-notification</string></array>\n"
        b"\t<key>NSLocationWhenInUseUsageDescription</key>\n\t<string>Near.</string>\n"
        b"\t<key>CFBundleName</key>\n\t<string>App</string>\n"
        b"</dict>\n"
    )
    assert nudge_part(data) == plistlib.dumps(
        {
            "keys": {"NSLocationWhenInUseUsageDescription": "Near."},
            "UIBackgroundModes": ["location", "remote-notification"],
        },
        sort_keys=True,
    )


def test_nudge_part_of_a_plist_without_background_modes_has_an_empty_list():
    data = plist(b"<dict>\n\t<key>CFBundleName</key>\n\t<string>App</string>\n</dict>\n")
    assert plistlib.loads(nudge_part(data)) == {"keys": {}, "UIBackgroundModes": []}


def test_nudge_part_names_info_plist_when_it_cannot_read_it():
    with pytest.raises(ConfigError) as caught:
        nudge_part(b"not a plist")
    assert str(caught.value).startswith("Info.plist: is not a readable XML plist")
    assert caught.value.file == "Info.plist"


def test_a_key_nudge_cannot_edit_is_refused_naming_file_and_key():
    data = plist(
        b"<dict>\n\t<key>NSLocationWhenInUseUsageDescription</key>\n\t<integer>1</integer>\n"
        b"</dict>\n"
    )
    with pytest.raises(ConfigError) as caught:
        edit(data, strings={"NSLocationWhenInUseUsageDescription": "Near."})
    message = str(caught.value)
    assert message.startswith(
        "App/Info.plist: NSLocationWhenInUseUsageDescription: its value is a <integer>, "
    )
    assert message.endswith(
        "; nudge-build cannot edit it safely: fix it by hand (or delete the key) and run again"
    )
    assert caught.value.file == "App/Info.plist"


def test_removing_an_entry_that_shares_its_line_keeps_the_rest_of_the_line():
    data = plist(
        b"<dict><key>NSLocationAlwaysUsageDescription</key><string>a</string>\n"
        b"\t<key>CFBundleName</key>\n\t<string>App</string>\n"
        b"</dict>\n"
    )
    assert edit(data, remove_keys=("NSLocationAlwaysUsageDescription",)) == plist(
        b"<dict>\n\t<key>CFBundleName</key>\n\t<string>App</string>\n</dict>\n"
    )


def test_removing_an_entry_on_a_last_line_without_a_newline_keeps_what_follows_it():
    data = (
        HEAD + b"<dict>\n\t<key>CFBundleName</key>\n\t<string>App</string>\n"
        b"<key>NSLocationAlwaysUsageDescription</key><string>a</string></dict></plist>"
    )
    assert edit(data, remove_keys=("NSLocationAlwaysUsageDescription",)) == (
        HEAD + b"<dict>\n\t<key>CFBundleName</key>\n\t<string>App</string>\n</dict></plist>"
    )


def test_dotenv_part_normalizes_line_endings_and_nothing_else():
    data = (
        b"OWN=1\r\n# >>> nudge-build >>>\r\nNUDGE_KEY=value  \r\nNUDGE_BOX=XX\n"
        b"# <<< nudge-build <<<\r\n"
    )
    assert dotenv_part(data) == b"NUDGE_KEY=value  \nNUDGE_BOX=XX\n"


def test_a_dotenv_merge_without_a_template_environment_is_a_programming_error():
    with pytest.raises(ValueError) as caught:
        dotenv_entries(None, {}, "prairie-fcu")
    assert str(caught.value) == "a dotenv merge needs the job's template environment"


def refused(data: bytes, **changes) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        edit(data, **changes)
    assert caught.value.file == "App/Info.plist"
    return caught.value


def test_a_plist_declaring_another_encoding_is_refused():
    data = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<plist version="1.0">\n'
        b"<dict>\n\t<key>CFBundleName</key>\n\t<string>App</string>\n</dict>\n</plist>\n"
    )
    with pytest.raises(ConfigError) as caught:
        edit(data, remove_keys=("NSLocationAlwaysUsageDescription",))
    assert str(caught.value) == "App/Info.plist: declares encoding 'ISO-8859-1'; expected UTF-8"


@pytest.mark.parametrize(
    "body",
    [
        b"<foo><dict><key>CFBundleName</key><string>App</string></dict></foo>\n",
        b"<plist><dict/><dict/></plist>\n",
    ],
)
def test_a_root_other_than_a_plist_with_one_dict_is_refused(body):
    # plistlib reads both (it ignores unknown elements and keeps the last value): only the
    # editor's own reading sees that the file is not shaped as Xcode writes it.
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
    error = refused(data, remove_keys=("NSLocationAlwaysUsageDescription",))
    assert str(error) == "App/Info.plist: expected <plist> holding one <dict>"


def test_a_key_spelled_with_a_character_reference_is_found():
    data = plist(
        b"<dict>\n\t<key>NSLocationAlways&#85;sageDescription</key>\n\t<string>a</string>\n"
        b"\t<key>CFBundleName</key>\n\t<string>App</string>\n</dict>\n"
    )
    assert edit(data, remove_keys=("NSLocationAlwaysUsageDescription",)) == plist(
        b"<dict>\n\t<key>CFBundleName</key>\n\t<string>App</string>\n</dict>\n"
    )


def test_a_mode_is_added_inline_to_an_array_written_on_one_line():
    data = plist(
        b"<dict>\n\t<key>UIBackgroundModes</key>\n\t<array><string>fetch</string></array>\n"
        b"</dict>\n"
    )
    assert edit(data, add_modes=("location", "remote-notification")) == plist(
        b"<dict>\n\t<key>UIBackgroundModes</key>\n"
        b"\t<array><string>fetch</string><string>location</string>"
        b"<string>remote-notification</string></array>\n"
        b"</dict>\n"
    )


def resolve_refusal(project, path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _resolve(project, path, "info_plist")
    return caught.value


def test_a_merge_target_must_be_a_plain_file_inside_the_project(tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    missing = project / "Info.plist"
    error = resolve_refusal(project, missing)
    assert str(error) == (
        f"{missing}: no such file; [merge].info_plist names the app's own file, which "
        "nudge-build edits but never creates"
    )
    assert error.file == str(missing)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project / "ios").symlink_to(outside)
    through = project / "ios" / "Info.plist"
    error = resolve_refusal(project, through)
    assert str(error) == (
        f"{through}: leads outside the project folder {project} (through a symlink, to "
        f"{outside}); [merge].info_plist edits only files inside it"
    )
    assert error.file == str(through)

    (project / "Dir.plist").mkdir()
    assert str(resolve_refusal(project, project / "Dir.plist")) == (
        f"{project / 'Dir.plist'}: is not a plain file"
    )
    (project / "Link.plist").symlink_to(project / "Dir.plist")
    assert str(resolve_refusal(project, project / "Link.plist")) == (
        f"{project / 'Link.plist'}: is a symlink; nudge-build edits only plain files"
    )
    (project / "Real.plist").write_bytes(b"")
    assert _resolve(project, project / "Real.plist", "info_plist") == project / "Real.plist"


def test_a_refused_plist_string_is_named_as_a_value_unless_told_where():
    with pytest.raises(RenderError) as caught:
        encode_plist_string("a\x01b")
    assert str(caught.value) == "a value: contains U+0001, which XML 1.0 cannot hold"


def test_a_damaged_dotenv_block_is_named_as_the_env_file_unless_told_where():
    with pytest.raises(ConfigError) as caught:
        dotenv_part(b"A=1\n# >>> nudge-build >>>\nNUDGE_KEY=1\n")
    assert str(caught.value).startswith(".env:")


def test_a_key_cannot_be_both_set_and_removed():
    with pytest.raises(ValueError) as caught:
        edit(plist(b"<dict/>\n"), strings={"A": "a"}, remove_keys=("A",))
    assert str(caught.value) == "a key or mode cannot be both set and removed"


def test_edits_that_would_overlap_are_refused_rather_than_spliced():
    # The table never asks for this, but a caller could: removing the whole UIBackgroundModes
    # entry and one of its modes are two edits of the same bytes, and splicing both would
    # duplicate lines. The merge refuses instead.
    data = plist(
        b"<dict>\n\t<key>UIBackgroundModes</key>\n\t<array>\n"
        b"\t\t<string>location</string>\n\t</array>\n</dict>\n"
    )
    with pytest.raises(ConfigError) as caught:
        edit(data, remove_keys=("UIBackgroundModes",), remove_modes=("location",))
    assert str(caught.value) == (
        "App/Info.plist: nudge's keys overlap on one line; cannot edit it safely"
    )


ADDED = b"<key>UIBackgroundModes</key>\n{i}<array>\n{i}{u}<string>location</string>\n{i}</array>\n"


@pytest.mark.parametrize(
    ("body", "indent", "unit"),
    [
        # As Xcode writes it: a tab, and a tab more inside the new array.
        (b"\t<key>CFBundleName</key>\n\t<string>App</string>\n", b"\t", b"\t"),
        # Four spaces, the first key sharing its line with its value: the file's own indent.
        (b"    <key>CFBundleName</key><string>App</string>\n", b"    ", b"    "),
        # Keys at the start of their lines: no indent, and a tab inside the new array.
        (b"<key>CFBundleName</key>\n<string>App</string>\n", b"", b"\t"),
        # An empty dict: indented as Xcode would.
        (b"", b"\t", b"\t"),
    ],
)
def test_new_keys_follow_the_files_own_indentation(body, indent, unit):
    data = plist(b"<dict>\n" + body + b"</dict>\n")
    added = indent + ADDED.replace(b"{i}", indent).replace(b"{u}", unit)
    assert edit(data, add_modes=("location",)) == plist(b"<dict>\n" + body + added + b"</dict>\n")
