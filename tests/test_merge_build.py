"""[merge] info_plist through the real CLI against the sandbox: the app's own Info.plist edited
in place, only nudge's keys, with the write, check and dry-run rules of generated files."""

from __future__ import annotations

import copy
import hashlib
import json
import plistlib
import re
import tomllib
from pathlib import Path

import pytest

from nudge_build.merge import nudge_part
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, mtimes, project_env, tree, write_project
from tests.swift_build_macros import info_plist_value
from tests.test_write import temporaries, unwritable  # noqa: F401 (a fixture)
from tests.xcode_plist import (
    WAS_BACKGROUND_PLIST,
    XCODE_INFO_PLIST,
    outside_nudge_lines,
    plistutil_reads,
)

CLIENTS = ("prairie-fcu", "summit-cu")  # background location; push only
MERGE = '\n[merge]\ninfo_plist = "ios/Clients/{client}/Info.plist"\n'
PRAIRIE_MESSAGING = next(o for o in SAMPLE_ORGS if o["apiKey"] == "sbx-prairie-fcu")["messaging"]
PRAIRIE_TEXT = PRAIRIE_MESSAGING["locationPermissionText"]  # its Always text
PRAIRIE_WHEN_IN_USE = PRAIRIE_MESSAGING["locationWhenInUsePermissionText"]


@pytest.fixture(scope="module")
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def app_plist(config: Path, client: str) -> Path:
    return config.parent / "ios" / "Clients" / client / "Info.plist"


def make_app(tmp_path: Path, api: Sandbox, *, merge: str = MERGE, extra: str = "") -> Path:
    """The partner's project: a config with [merge] and each client's own Info.plist."""
    config = write_project(tmp_path, api.base_url, clients=CLIENTS, extra=merge + extra)
    for client, data in (("prairie-fcu", XCODE_INFO_PLIST), ("summit-cu", WAS_BACKGROUND_PLIST)):
        path = app_plist(config, client)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return config


def fetched(config: Path) -> Path:
    result = cli(config, "fetch", env=project_env())
    assert result.exit_code == 0, result.output
    return config


def lock(config: Path) -> dict:
    return tomllib.loads((config.parent / "nudge-build.lock").read_text())


def test_build_merges_each_clients_keys_and_keeps_every_other_byte(tmp_path, api):
    config = make_app(tmp_path, api)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    assert "merge targets: updated nudge's keys in 2 of 2 files, 0 unchanged" in result.stdout

    prairie = app_plist(config, "prairie-fcu").read_bytes()
    values = plistutil_reads(app_plist(config, "prairie-fcu"), tmp_path)
    assert values["UIBackgroundModes"] == ["remote-notification", "fetch", "location"]
    assert values["NSLocationWhenInUseUsageDescription"] == PRAIRIE_WHEN_IN_USE
    for key in ("NSLocationAlwaysAndWhenInUseUsageDescription", "NSLocationAlwaysUsageDescription"):
        assert values[key] == PRAIRIE_TEXT
    assert outside_nudge_lines(prairie) == outside_nudge_lines(XCODE_INFO_PLIST)
    assert prairie.count(b"\n") == XCODE_INFO_PLIST.count(b"\n") + 5  # 1 mode, 2 keys

    summit = app_plist(config, "summit-cu").read_bytes()
    values = plistutil_reads(app_plist(config, "summit-cu"), tmp_path)
    assert not [k for k in values if k.startswith("NSLocation")]
    assert values["UIBackgroundModes"] == ["remote-notification", "fetch"]
    assert summit == b"".join(outside_nudge_lines(WAS_BACKGROUND_PLIST))

    # The lockfile holds the digest of nudge's part only, per client and target.
    merged = lock(config)["clients"]["prairie-fcu"]["merged"]
    part = nudge_part(prairie)
    assert merged == {
        "ios/Clients/prairie-fcu/Info.plist": "sha256:" + hashlib.sha256(part).hexdigest()
    }

    before = mtimes(tmp_path)
    again = cli(config, "build", env=project_env())
    assert again.exit_code == 0, again.output
    assert "updated nudge's keys in 0 of 2 files, 2 unchanged" in again.stdout
    assert mtimes(tmp_path) == before  # nothing rewritten: Xcode sees no change
    assert cli(config, "check").exit_code == 0
    assert cli(config, "fetch", env=project_env()).exit_code == 0
    assert lock(config)["clients"]["prairie-fcu"]["merged"] == merged  # fetch keeps it


def test_check_catches_a_hand_change_to_a_nudge_key_and_ignores_the_partners_own(tmp_path, api):
    config = fetched(make_app(tmp_path, api))
    assert cli(config, "render").exit_code == 0
    path = app_plist(config, "prairie-fcu")

    path.write_bytes(path.read_bytes().replace(b"Prairie FCU", b"Prairie"))  # CFBundleDisplayName
    partner_edit = path.read_bytes()
    check = cli(config, "check")
    assert (check.exit_code, check.stdout) == (0, "up to date\n")
    before = mtimes(tmp_path)
    assert cli(config, "render").exit_code == 0
    assert mtimes(tmp_path) == before and path.read_bytes() == partner_edit

    path.write_bytes(partner_edit.replace(b"\t\t<string>location</string>\n", b""))
    check = cli(config, "check")
    assert check.exit_code == 1, check.output
    assert "--- a/ios/Clients/prairie-fcu/Info.plist" in check.stdout
    assert "\n+\t\t<string>location</string>\n" in check.stdout
    assert "1 difference(s)" in check.stdout
    result = cli(config, "check", "--json")
    drifts = json.loads(result.stdout)["drifts"]
    assert [(d["client"], d["kind"], d["path"]) for d in drifts] == [
        ("prairie-fcu", "changed", str(path.absolute()))
    ]

    # build puts nudge's entry back and keeps the partner's own edit.
    assert cli(config, "render").exit_code == 0
    assert path.read_bytes() == partner_edit
    assert cli(config, "check").exit_code == 0


def test_a_hand_changed_purpose_string_is_drift_and_build_restores_it(tmp_path, api):
    config = fetched(make_app(tmp_path, api))
    assert cli(config, "render").exit_code == 0
    path = app_plist(config, "prairie-fcu")
    built = path.read_bytes()
    path.write_bytes(built.replace(PRAIRIE_TEXT.encode(), b"We track you.", 1))
    check = cli(config, "check")
    assert check.exit_code == 1
    assert "-\t<string>We track you.</string>" in check.stdout
    assert cli(config, "render").exit_code == 0
    assert path.read_bytes() == built


def test_purpose_strings_with_dollars_reach_the_user_exactly(tmp_path):
    text = "Tap $(PRODUCT_NAME) ${HOME} $HOME $5 $$ & <more>"
    orgs = copy.deepcopy(SAMPLE_ORGS)
    next(o for o in orgs if o["apiKey"] == "sbx-prairie-fcu")["messaging"][
        "locationPermissionText"
    ] = text
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = make_app(tmp_path, api)
        result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    data = app_plist(config, "prairie-fcu").read_bytes()
    assert b"Tap $$(PRODUCT_NAME) $${HOME} $$HOME $$5 $$$$ &amp; &lt;more&gt;" in data
    values = plistutil_reads(app_plist(config, "prairie-fcu"), tmp_path)
    settings = {"PRODUCT_NAME": "Prairie", "HOME": "/Users/runner"}
    assert info_plist_value(values["NSLocationAlwaysUsageDescription"], settings) == text


def test_dry_run_writes_nothing_and_shows_the_diff(tmp_path, api):
    config = fetched(make_app(tmp_path, api))
    before, times = tree(tmp_path), mtimes(tmp_path)
    result = cli(config, "render", "--dry-run")
    assert result.exit_code == 0, result.output
    assert tree(tmp_path) == before and mtimes(tmp_path) == times
    prairie = app_plist(config, "prairie-fcu")
    assert f"would update nudge's keys in {prairie}\n--- a/ios/Clients/prairie-fcu/Info.plist" in (
        result.stdout
    )
    assert "+\t\t<string>location</string>\n" in result.stdout
    assert "-\t<key>NSLocationAlwaysUsageDescription</key>\n" in result.stdout
    assert "merge targets: would update nudge's keys in 2 of 2 files" in result.stdout


def test_a_client_that_fails_to_write_leaves_its_merge_target_untouched(tmp_path, api, unwritable):  # noqa: F811
    config = fetched(make_app(tmp_path, api))
    assert cli(config, "render").exit_code == 0
    # summit-cu now gets location: its generated files and its Info.plist would both change.
    make_app(tmp_path, api, extra="[clients.summit-cu.flags]\nlocation = true\n")
    summit = app_plist(config, "summit-cu")
    before, times = summit.read_bytes(), summit.stat().st_mtime_ns
    blocked = tmp_path / "nudge" / "summit-cu" / "ios"
    with unwritable(blocked):
        result = cli(config, "render")
    assert result.exit_code == 2, result.output
    assert f"cannot write {blocked}/" in result.stderr
    assert "none of client summit-cu's files were changed" in result.stderr
    assert (summit.read_bytes(), summit.stat().st_mtime_ns) == (before, times)
    assert temporaries(tmp_path) == []

    # And the other way round: the Info.plist cannot be replaced, so no generated file changes.
    outputs = tree(tmp_path / "nudge" / "summit-cu")
    with unwritable(summit.parent):
        result = cli(config, "render")
    assert result.exit_code == 2, result.output
    assert f"cannot write {summit}: " in result.stderr
    assert tree(tmp_path / "nudge" / "summit-cu") == outputs
    assert summit.read_bytes() == before
    assert temporaries(tmp_path) == []

    assert cli(config, "render").exit_code == 0
    assert "NSLocationWhenInUseUsageDescription" in summit.read_text()


def test_a_binary_plist_is_refused_before_anything_is_written(tmp_path, api):
    config = make_app(tmp_path, api)
    binary = plistlib.dumps(plistlib.loads(XCODE_INFO_PLIST), fmt=plistlib.FMT_BINARY)
    app_plist(config, "summit-cu").write_bytes(binary)
    before = tree(tmp_path)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2, result.output
    path = app_plist(config, "summit-cu")
    assert f"\nerror: client summit-cu: {path}: is a binary plist; " in result.stderr
    assert "plutil -convert xml1" in result.stderr
    assert tree(tmp_path) == before


def test_a_missing_merge_target_is_an_error_naming_client_and_path(tmp_path, api):
    config = make_app(tmp_path, api)
    app_plist(config, "summit-cu").unlink()
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2, result.output
    path = app_plist(config, "summit-cu")
    assert f"error: client summit-cu: {path}: no such file; [merge].info_plist" in result.stderr
    assert not (tmp_path / "nudge").exists()


@pytest.mark.parametrize(
    ("merge", "message"),
    [
        (
            'info_plist = "../{client}/Info.plist"',
            "[merge].info_plist: expected a path relative to the config file's folder that "
            "stays inside it, got '../{client}/Info.plist'",
        ),
        (
            'info_plist = "/etc/{client}.plist"',
            "[merge].info_plist: expected a path relative to the config file's folder that "
            "stays inside it, got '/etc/{client}.plist'",
        ),
        (
            'info_plist = "ios/{client}/{app}.plist"',
            "[merge].info_plist: expected a path whose only placeholder is {client}",
        ),
        (
            'info_plist = "ios/Info.plist"',
            "[merge].info_plist: expected a path with {client}, or every client would edit one "
            "file, got 'ios/Info.plist'",
        ),
        ("info_plist = 3", "[merge].info_plist: expected a string, got 3"),
        (
            'info_plst = "x/{client}"',
            "[merge]: unknown key 'info_plst' (did you mean 'info_plist'?)",
        ),
    ],
)
def test_a_bad_merge_config_is_exit_2_naming_file_and_key(tmp_path, api, merge, message):
    config = make_app(tmp_path, api, merge=f"\n[merge]\n{merge}\n")
    result = cli(config, "render")
    assert result.exit_code == 2, result.output
    assert f"error: {config}: {message}" in result.stderr


def test_a_merge_path_through_a_symlink_out_of_the_project_is_refused(tmp_path, api):
    project = tmp_path / "app"
    project.mkdir()
    outside = tmp_path / "elsewhere"
    (outside / "summit-cu").mkdir(parents=True)
    (outside / "summit-cu" / "Info.plist").write_bytes(XCODE_INFO_PLIST)
    config = make_app(project, api)
    (project / "linked").symlink_to(outside)
    config.write_text(config.read_text().replace("ios/Clients/{client}", "linked/{client}"))
    (outside / "prairie-fcu").mkdir()
    (outside / "prairie-fcu" / "Info.plist").write_bytes(XCODE_INFO_PLIST)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2, result.output
    assert "leads outside the project folder" in result.stderr
    assert (outside / "prairie-fcu" / "Info.plist").read_bytes() == XCODE_INFO_PLIST


def test_a_damaged_merged_table_in_the_lockfile_is_exit_2_naming_the_key(tmp_path, api):
    config = fetched(make_app(tmp_path, api))
    assert cli(config, "render").exit_code == 0
    lock_path = tmp_path / "nudge-build.lock"
    text = lock_path.read_text()
    damaged = re.sub(r"\[clients\.prairie-fcu\.merged\]\n[^\n]*\n", "", text).replace(
        "[clients.prairie-fcu]\n", "[clients.prairie-fcu]\nmerged = 5\n", 1
    )
    assert damaged != text
    lock_path.write_text(damaged)
    result = cli(config, "check")
    assert result.exit_code == 2, result.output
    assert "[clients.prairie-fcu.merged]: expected a table of strings" in result.stderr


def test_the_docs_merge_recipe_is_the_config_these_tests_use(tmp_path, api):
    docs = (Path(__file__).resolve().parent.parent / "docs" / "merge.md").read_text()
    block = re.search(r"```toml\n(\[merge\]\n.*?)```", docs, re.S)
    assert block is not None
    table = tomllib.loads(block.group(1))["merge"]
    assert table["info_plist"] == "ios/Clients/{client}/Info.plist"
    assert "`plutil -convert xml1`" in docs  # the fix the binary-plist error names
    config = make_app(tmp_path, api, merge="\n" + block.group(1).replace("dotenv", "# dotenv"))
    assert cli(config, "build", env=project_env()).exit_code == 0
    assert b"<string>location</string>" in app_plist(config, "prairie-fcu").read_bytes()


def test_dotenv_block_is_the_rendered_stock_template_inside_the_partners_file(tmp_path, api):
    merge = MERGE + 'dotenv = "env/{client}.env"\n'
    config = fetched(make_app(tmp_path, api, merge=merge))  # stock sets: ios and android only
    env_file = tmp_path / "env" / "prairie-fcu.env"
    env_file.parent.mkdir()
    partner = b"API_URL=https://api.example.com\n# the partner's own comment\n"
    env_file.write_bytes(partner)
    (tmp_path / "env" / "summit-cu.env").write_bytes(b"")
    result = cli(config, "render")
    assert result.exit_code == 0, result.output
    assert env_file.read_bytes() == partner + (
        b"# >>> nudge-build >>>\nNUDGE_ENABLED=true\nNUDGE_LOCATION=background\n"
        b"NUDGE_ORGANIZATION_ID=org_8f3a2c\n# <<< nudge-build <<<\n"
    )
    assert b"NUDGE_LOCATION=false\n" in (tmp_path / "env" / "summit-cu.env").read_bytes()
    merged = lock(config)["clients"]["prairie-fcu"]["merged"]
    assert sorted(merged) == ["env/prairie-fcu.env", "ios/Clients/prairie-fcu/Info.plist"]

    env_file.write_bytes(b"FIRST=1\n" + env_file.read_bytes())  # the partner's edit: fine
    assert cli(config, "check").exit_code == 0
    env_file.write_bytes(env_file.read_bytes().replace(b"=background", b"=false"))  # nudge's
    check = cli(config, "check")
    assert check.exit_code == 1
    assert "-NUDGE_LOCATION=false\n+NUDGE_LOCATION=background" in check.stdout

    # A partner override of the stock template decides the block, as for any stock file.
    override = tmp_path / "tpl" / "react-native" / "nudge.env.j2"
    override.parent.mkdir(parents=True)
    override.write_text("# ours\nNUDGE_LOCATION={{ nudge.location_mode }}\n")
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    assert cli(config, "render").exit_code == 0
    assert env_file.read_bytes() == b"FIRST=1\n" + partner + (
        b"# >>> nudge-build >>>\nNUDGE_LOCATION=background\n# <<< nudge-build <<<\n"
    )


def test_a_client_kept_for_a_hand_edited_output_keeps_its_merge_target_too(tmp_path, api):
    config = fetched(make_app(tmp_path, api))
    assert cli(config, "render").exit_code == 0
    make_app(tmp_path, api, extra="[clients.summit-cu.flags]\nlocation = true\n")
    xcconfig = tmp_path / "nudge" / "summit-cu" / "ios" / "Nudge.xcconfig"
    xcconfig.write_text(xcconfig.read_text() + "// by hand\n")
    summit = app_plist(config, "summit-cu")
    before = summit.read_bytes()
    result = cli(config, "render")
    assert result.exit_code == 1, result.output
    assert "left as they are, with files changed by hand: summit-cu" in result.stdout
    assert summit.read_bytes() == before
    assert cli(config, "render", "--force").exit_code == 0
    assert b"NSLocationWhenInUseUsageDescription" in summit.read_bytes()


def test_a_merge_target_that_is_a_symlink_is_refused(tmp_path, api):
    config = make_app(tmp_path, api)
    summit = app_plist(config, "summit-cu")
    real = summit.with_name("Real.plist")
    summit.rename(real)
    summit.symlink_to(real)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2, result.output
    assert f"error: client summit-cu: {summit}: is a symlink; " in result.stderr
    assert real.read_bytes() == WAS_BACKGROUND_PLIST
