"""Purpose strings reach the iOS user exactly, through Xcode's build-setting expansion.

The rendered files come from the real CLI against the sandbox API; Xcode's side is
``tests/swift_build_macros.py``, written from swift-build's source and independent of
nudge-build's own readers.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import subprocess
import sys
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_build.formats import ValueRefused, encode, format_for, infoplist_setting
from nudge_build.platforms import rules_for
from nudge_build.sandbox import Sandbox
from tests import swift_build_macros as xcode
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, project_env, write_project
from tests.platform_tools import run_node

# Each is one organization's locationPermissionText (background location on: all three keys).
PURPOSE_TEXTS = [
    "Allow $(PRODUCT_NAME) to use ${HOME} and $HOME: $5 off, $$ twice, $1 each",
    "$",
    "ends with a dollar $",
    "unterminated $( here",
    "$(PRODUCT_NAME:rfc1034identifier) ${HOME:upper} $[HOME] $$$ $$$$ $()",
    "$HOME$(PRODUCT_NAME) $HOME. $_x $9 $ $) $: $(",
    "semicolon at the end;",
    "a // b ///c $(X) // $",
    "back\\slash \\$HOME \\$(PRODUCT_NAME)",
    "breaks\u2028and\u2029and\x85here, $HOME",
    "line one\nline two $HOME",
]

XCODE_ENV = {"PRODUCT_NAME": "Harbor Bank", "HOME": "/Users/runner", "X": "ex", "_x": "under"}
BACKGROUND = rules_for({"location": True, "background_location": True, "push": True})


class EveryName(Mapping[str, str]):
    """Every setting name is defined, so a reference that leaked through shows in the text."""

    def __getitem__(self, name: str) -> str:
        return f"<{name}>"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def org(index: int, text: str) -> dict:
    return {
        "apiKey": f"key-x{index}",
        "organizationId": f"org_x{index}",
        "name": f"Expansion Bank {index}",
        "status": "active",
        "features": {"locationBasedNudges": True, "backgroundLocation": True},
        "messaging": {"locationPermissionText": text},
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("xcode")
    orgs = [org(i, text) for i, text in enumerate(PURPOSE_TEXTS)]
    clients = [f"x{i}" for i in range(len(orgs))]
    keys = {client: o["apiKey"] for client, o in zip(clients, orgs, strict=True)}
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(workdir, api.base_url, clients=clients, stock=["ios"])
        result = cli(config, "build", env=project_env(keys))
    assert result.exit_code == 0, result.output
    return workdir / "nudge"


def xcconfig_settings(path: Path) -> dict[str, str]:
    return {**XCODE_ENV, **xcode.settings_from_xcconfig(path.read_text(encoding="utf-8"))}


# -- the model itself, on the example ---------------------------------------------------


def test_the_model_alters_unescaped_text_as_xcode_does() -> None:
    assert xcode.info_plist_value("$HOME $1 cost $5 $$", XCODE_ENV) == "/Users/runner $1 cost $5 $"
    assert xcode.info_plist_value("Allow $(PRODUCT_NAME)", XCODE_ENV) == "Allow Harbor Bank"
    assert xcode.info_plist_value("${HOME} $(UNSET) $UNSET", XCODE_ENV) == "/Users/runner  $UNSET"
    assert xcode.info_plist_value("a $(b", XCODE_ENV) == "a "


# -- NudgeInfo.plist ----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(PURPOSE_TEXTS)))
@pytest.mark.parametrize("environment", [XCODE_ENV, EveryName()], ids=["xcode-env", "every-name"])
def test_info_plist_purpose_strings_reach_the_user_exactly(rendered, index, environment) -> None:
    text = PURPOSE_TEXTS[index]
    plist = plistlib.loads((rendered / f"x{index}" / "ios" / "NudgeInfo.plist").read_bytes())
    assert [p.key for p in BACKGROUND.ios.purpose_strings] == [k for k in plist if k[:2] == "NS"]
    for purpose in BACKGROUND.ios.purpose_strings:
        assert xcode.info_plist_value(plist[purpose.key], environment) == text
    for mode in plist["UIBackgroundModes"]:
        assert xcode.info_plist_value(mode, environment) == mode


def test_info_plist_line_breaks_are_character_references(rendered) -> None:
    raw = (rendered / "x9" / "ios" / "NudgeInfo.plist").read_text(encoding="utf-8")
    assert "&#x2028;" in raw and "&#x2029;" in raw and "&#x85;" in raw
    assert not any(char in raw for char in "\u2028\u2029\x85")


def test_info_plist_reads_back_through_the_plist_npm_package(rendered) -> None:
    """The `plist` package (xmldom) is what Expo's config tools read plists with."""
    script = "const plist = require('plist'); const fs = require('fs');\n" + (
        "process.stdout.write(JSON.stringify(plist.parse(fs.readFileSync(0, 'utf8'))));"
    )
    for index, text in enumerate(PURPOSE_TEXTS):
        source = (rendered / f"x{index}" / "ios" / "NudgeInfo.plist").read_text(encoding="utf-8")
        parsed = json.loads(run_node("-e", script, stdin=source))
        for purpose in BACKGROUND.ios.purpose_strings:
            assert xcode.info_plist_value(parsed[purpose.key], XCODE_ENV) == text


# -- Nudge.xcconfig: INFOPLIST_KEY_ for generated Info.plists ------------------------------------


def carried_by_xcconfig(text: str) -> bool:
    try:
        infoplist_setting(text)
    except ValueRefused:
        return False
    return True


@pytest.mark.parametrize("index", range(len(PURPOSE_TEXTS)))
def test_generated_info_plist_purpose_strings_reach_the_user_exactly(rendered, index) -> None:
    text = PURPOSE_TEXTS[index]
    path = rendered / f"x{index}" / "ios" / "Nudge.xcconfig"
    found = xcconfig_settings(path)
    for purpose in BACKGROUND.ios.purpose_strings:
        setting = f"INFOPLIST_KEY_{purpose.key}"
        if carried_by_xcconfig(text):
            assert xcode.generated_info_plist_value(purpose.key, found) == text
            every = {**found, **{k: f"<{k}>" for k in ("PRODUCT_NAME", "HOME", "X", "_x")}}
            assert xcode.generated_info_plist_value(purpose.key, every) == text
        else:
            # No xcconfig line can hold it: a comment says so, and no half-right value is set.
            assert setting not in found
            assert f"// {setting} is not set: the text " in path.read_text(encoding="utf-8")


def test_texts_an_xcconfig_cannot_hold_are_the_line_break_ones() -> None:
    refused = [text for text in PURPOSE_TEXTS if not carried_by_xcconfig(text)]
    assert refused == [PURPOSE_TEXTS[9], PURPOSE_TEXTS[10]]


def test_only_keys_xcode_generates_are_written_as_infoplist_key_settings(rendered) -> None:
    found = xcconfig_settings(rendered / "x0" / "ios" / "Nudge.xcconfig")
    keys = {name.removeprefix("INFOPLIST_KEY_") for name in found if "INFOPLIST_KEY_" in name}
    assert keys == {p.key for p in BACKGROUND.ios.purpose_strings}
    assert keys <= xcode.GENERATED_LOCATION_KEYS


def test_a_client_without_location_sets_no_infoplist_keys(tmp_path) -> None:
    quiet = org(0, "unused $HOME")
    quiet["features"] = {"locationBasedNudges": False, "backgroundLocation": False}
    with Sandbox([quiet], client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=["q"], stock=["ios"])
        result = cli(config, "build", env=project_env({"q": "key-x0"}))
    assert result.exit_code == 0, result.output
    out = tmp_path / "nudge" / "q" / "ios"
    assert "INFOPLIST_KEY_" not in (out / "Nudge.xcconfig").read_text(encoding="utf-8")
    plist = plistlib.loads((out / "NudgeInfo.plist").read_bytes())
    assert not [key for key in plist if key.startswith("NSLocation")]
    privacy = plistlib.loads((out / "PrivacyInfo.xcprivacy").read_bytes())
    assert privacy["NSPrivacyCollectedDataTypes"] == []


# -- PrivacyInfo.xcprivacy ----------------------------------------------------------------------


def test_privacy_manifest_declares_the_tables_collected_data(rendered) -> None:
    manifest = plistlib.loads((rendered / "x0" / "ios" / "PrivacyInfo.xcprivacy").read_bytes())
    assert manifest["NSPrivacyTracking"] is False
    assert manifest["NSPrivacyCollectedDataTypes"] == [
        {
            "NSPrivacyCollectedDataType": data.type,
            "NSPrivacyCollectedDataTypeLinked": data.linked,
            "NSPrivacyCollectedDataTypeTracking": data.tracking,
            "NSPrivacyCollectedDataTypePurposes": list(data.purposes),
        }
        for data in BACKGROUND.ios.privacy_collected
    ]
    assert [d["NSPrivacyCollectedDataType"] for d in manifest["NSPrivacyCollectedDataTypes"]] == (
        ["NSPrivacyCollectedDataTypePreciseLocation"]
    )


# -- the encoders over arbitrary text -----------------------------------------------------------

PIECES = [
    "$", "$$", "$(", "$((", "$()", ")", "}", "]", "${", "$[", "$(PRODUCT_NAME)", "${HOME}",
    "$HOME", "$_", "$5", ":", ":upper", ":default=", "=", "\\", "//", ";", " ", "&", "<", "\n",
    "\r", "\t", "\u2028", "\u2029", "\x85", "é", "😀", "PRODUCT_NAME", "HOME", ".",
]  # fmt: skip
any_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=10).map("".join),
)
MANY = settings(max_examples=400, deadline=None, database=None)


def xml_refuses(text: str) -> bool:
    return any(
        (ord(c) < 0x20 and c not in "\t\n\r") or c in "\ufffe\uffff" or 0xD800 <= ord(c) < 0xE000
        for c in text
    )


def plist_document(encoded: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n'
        f"\t<key>K</key>\n\t<string>{encoded}</string>\n</dict>\n</plist>\n"
    ).encode()


@MANY
@given(text=any_text)
def test_infoplist_encoding_survives_xcode_expansion(text: str) -> None:
    try:
        encoded = encode("infoplist", text)
    except ValueRefused:
        assert xml_refuses(text)
        return
    assert not xml_refuses(text)
    assert not any(char in encoded for char in "\u2028\u2029\x85")
    value = plistlib.loads(plist_document(encoded))["K"]
    assert value == text.replace("$", "$$")
    assert xcode.info_plist_value(value, XCODE_ENV) == text
    assert xcode.info_plist_value(value, EveryName()) == text


@MANY
@given(text=any_text)
def test_infoplist_setting_survives_both_expansions(text: str) -> None:
    try:
        line = "INFOPLIST_KEY_NSLocationWhenInUseUsageDescription = " + infoplist_setting(text)
    except ValueRefused:
        # Only what no xcconfig line can hold: line breaks, controls, edge spaces, a final '\'.
        assert (
            any(c in "\u2028\u2029" or unicodedata.category(c) == "Cc" for c in text)
            or (text[:1] == " " or text[-1:] in (" ", "\\"))
            or any(0xD800 <= ord(c) < 0xE000 for c in text)
        )
        return
    found = {**XCODE_ENV, **xcode.settings_from_xcconfig(f"// x\n{line}\nOTHER = 1\n")}
    assert xcode.generated_info_plist_value("NSLocationWhenInUseUsageDescription", found) == text


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
@pytest.mark.parametrize("fmt", ["plist", "infoplist"])
def test_line_breaks_are_written_as_character_references(fmt: str, char: str) -> None:
    encoded = encode(fmt, f"a{char}b")
    assert encoded == f"a&#x{ord(char):x};b"
    assert plistlib.loads(plist_document(encoded))["K"] == f"a{char}b"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ios/NudgeInfo.plist.j2", "infoplist"),
        ("ios/Runner/Info.plist", "infoplist"),
        ("MyApp-Info.plist", "infoplist"),
        ("ios/Runner/GoogleService-Info.plist", "plist"),
        ("ios/PrivacyInfo.xcprivacy.j2", "plist"),
        ("Settings.bundle/Root.plist", "plist"),
    ],
)
def test_files_xcode_expands_get_the_infoplist_format(name: str, fmt: str) -> None:
    assert format_for(name) == fmt


# -- docs/wiring-ios.md: the recipes' paths, names and commands -----------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "wiring-ios.md"
CLIENT = "prairie-fcu"  # the client the doc's examples name (background location, push)


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


XCODE_INFO_PLIST = """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleName</key>
	<string>$(PRODUCT_NAME)</string>
	<key>UIBackgroundModes</key>
	<array>
		<string>fetch</string>
	</array>
</dict>
</plist>
"""


@pytest.fixture(scope="module")
def wired(tmp_path_factory) -> Path:
    """A repository laid out as the doc says, built once with the doc's configuration."""
    root = tmp_path_factory.mktemp("wired")
    (toml,) = doc_blocks("toml")
    merge_target = re.search(r'info_plist = "(.*)"', toml)
    assert merge_target is not None
    plist = root / merge_target.group(1).replace("{client}", CLIENT)
    plist.parent.mkdir(parents=True)
    plist.write_text(XCODE_INFO_PLIST, encoding="utf-8")
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = root / "nudge-build.toml"
        config.write_text(
            toml + f'\n[api]\nbase_url = "{api.base_url}"\nretry_backoff = 0.05\n\n'
            f'[clients.{CLIENT}]\napi_key_env = "NUDGE_KEY"\n',
            encoding="utf-8",
        )
        result = cli(config, "build", env={**project_env({}), "NUDGE_KEY": SAMPLE_KEYS[CLIENT]})
    assert result.exit_code == 0, result.output
    return root


def test_the_docs_client_has_background_location_and_push(wired) -> None:
    lock = tomllib.loads((wired / "nudge-build.lock").read_text(encoding="utf-8"))
    flags = lock["clients"][CLIENT]["flags"]
    assert flags == {"location": True, "background_location": True, "push": True}


def test_configuration_file_includes_the_clients_xcconfig_and_info_plist(wired) -> None:
    (block,) = doc_blocks("xcconfig")
    first, *lines = block.splitlines()
    config_file = wired / first.removeprefix("// ")
    srcroot = wired / "ios"
    assert config_file.parent.parent == srcroot  # ios/Config/…
    include = re.fullmatch(r'#include "(.*)"', lines[0])
    assert include is not None
    # MacroConfigFileLoader: a relative #include is looked up beside the including file.
    included = (config_file.parent / include.group(1)).resolve()
    assert included == (wired / "nudge" / CLIENT / "ios" / "Nudge.xcconfig").resolve()
    settings = xcode.settings_from_xcconfig("\n".join(lines[1:]))
    info_plist = srcroot / settings["INFOPLIST_FILE"]
    assert info_plist.is_file()
    merged = plistlib.loads(info_plist.read_bytes())
    assert merged["UIBackgroundModes"][0] == "fetch" and "location" in merged["UIBackgroundModes"]
    assert all(p.key in merged for p in BACKGROUND.ios.purpose_strings)
    client_settings = xcode.settings_from_xcconfig(included.read_text(encoding="utf-8"))
    assert client_settings["NUDGE_CLIENT"] == CLIENT


def run_script(wired: Path, script: str, bindir: Path, **variables: str) -> None:
    """Run a doc script as Xcode would: build settings in the environment, no secrets."""
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "SRCROOT": str(wired / "ios"),
        "NUDGE_CLIENT": CLIENT,
        "TMPDIR": str(wired / "tmp"),
        **variables,
    }
    result = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def nudge_build_on_path(tmp_path_factory) -> Path:
    bindir = tmp_path_factory.mktemp("bin")
    wrapper = bindir / "nudge-build"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nudge_build "$@"\n')
    wrapper.chmod(0o755)
    return bindir


def test_build_phase_declares_every_file_check_reads_and_passes(wired, nudge_build_on_path):
    inputs, outputs = (block.split() for block in doc_blocks("text"))
    variables = {
        "SRCROOT": str(wired / "ios"),
        "NUDGE_CLIENT": CLIENT,
        "DERIVED_FILE_DIR": str(wired / "derived"),
    }
    declared = {Path(xcode.evaluate_string(item, variables)).resolve() for item in inputs}
    client_files = {p.resolve() for p in (wired / "nudge" / CLIENT / "ios").iterdir()}
    assert client_files <= declared
    assert {(wired / n).resolve() for n in ("nudge-build.toml", "nudge-build.lock")} <= declared
    assert all(path.is_file() for path in declared)
    (stamp,) = (xcode.evaluate_string(item, variables) for item in outputs)

    check, *_ = doc_blocks("sh")
    (wired / "derived").mkdir(exist_ok=True)
    run_script(wired, check, nudge_build_on_path, DERIVED_FILE_DIR=str(wired / "derived"))
    assert Path(stamp).is_file()


def test_pre_action_regenerates_offline_without_changes(wired, nudge_build_on_path) -> None:
    pre_action = doc_blocks("sh")[2]
    assert "build --offline" in pre_action
    (wired / "tmp").mkdir(exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in (wired / "nudge").rglob("*")}
    run_script(wired, pre_action, nudge_build_on_path)
    log = (wired / "tmp" / "nudge-build.log").read_text(encoding="utf-8")
    assert "wrote 0 new and 0 changed files" in log
    assert {p: p.stat().st_mtime_ns for p in (wired / "nudge").rglob("*")} == before


def test_privacy_manifest_copy_phase(wired, nudge_build_on_path) -> None:
    copy = doc_blocks("sh")[1]
    source = wired / "nudge" / CLIENT / "ios" / "PrivacyInfo.xcprivacy"
    target = wired / "App.app" / "PrivacyInfo.xcprivacy"
    target.parent.mkdir()
    text = DOC.read_text(encoding="utf-8")
    assert "`$(SRCROOT)/../nudge/$(NUDGE_CLIENT)/ios/PrivacyInfo.xcprivacy`" in text
    run_script(
        wired,
        copy,
        nudge_build_on_path,
        SCRIPT_INPUT_FILE_0=str(source),
        SCRIPT_OUTPUT_FILE_0=str(target),
    )
    assert target.read_bytes() == source.read_bytes()


def test_doc_names_the_infoplist_keys_the_xcconfig_writes(wired) -> None:
    text = DOC.read_text(encoding="utf-8")
    written = xcode.settings_from_xcconfig(
        (wired / "nudge" / CLIENT / "ios" / "Nudge.xcconfig").read_text(encoding="utf-8")
    )
    keys = sorted(name for name in written if name.startswith("INFOPLIST_KEY_"))
    assert keys and all(f"`{key}`" in text for key in keys)
