"""End to end: `build` against the sandbox over real HTTP, through the real CLI."""

from __future__ import annotations

import plistlib
import tomllib
import xml.etree.ElementTree as ET

import pytest

from nudge_build.sandbox import Sandbox
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SAMPLE_KEYS,
    assert_no_secret,
    cli,
    mtimes,
    project_env,
    tree,
    write_project,
)

ANDROID = "{http://schemas.android.com/apk/res/android}name"
TOOLS_NODE = "{http://schemas.android.com/tools}node"


@pytest.fixture
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def project(tmp_path, api):
    return write_project(tmp_path, api.base_url)


def permissions(manifest: bytes) -> dict[str, str]:
    """permission name -> "keep" or the tools:node value."""
    root = ET.fromstring(manifest)
    return {
        e.get(ANDROID).rsplit(".", 1)[1]: e.get(TOOLS_NODE, "keep")
        for e in root.iter("uses-permission")
    }


def test_build_writes_every_clients_files_matching_its_flags(project, api):
    result = cli(project, "build", env=project_env())
    assert result.exit_code == 0, result.output
    out = project.parent / "nudge"

    expected = {  # client: (location, background)
        "prairie-fcu": (True, True),
        "harbor-bank": (True, False),
        "summit-cu": (False, False),
        "lakeside-savings": (False, False),  # suspended
        "ridgeline-trust": (True, True),  # backgroundLocation defaults to true
    }
    for client, (location, background) in expected.items():
        info = plistlib.loads((out / client / "ios" / "NudgeInfo.plist").read_bytes())
        assert ("NSLocationWhenInUseUsageDescription" in info) == location, client
        assert ("NSLocationAlwaysAndWhenInUseUsageDescription" in info) == background, client
        assert ("location" in info["UIBackgroundModes"]) == background, client
        assert "remote-notification" in info["UIBackgroundModes"]
        xcconfig = (out / client / "ios" / "Nudge.xcconfig").read_text()
        version = "nudgeGeo" if background else "nudgeStandard"
        assert f"NUDGE_VERSION = {version}\n" in xcconfig

        perms = permissions((out / client / "android" / "AndroidManifest.xml").read_bytes())
        assert perms["ACCESS_FINE_LOCATION"] == ("keep" if location else "remove"), client
        assert perms["ACCESS_BACKGROUND_LOCATION"] == ("keep" if background else "remove")
        assert perms["FOREGROUND_SERVICE_LOCATION"] == ("keep" if background else "remove")
        strings = ET.fromstring(
            (out / client / "android" / "res" / "values" / "nudge_strings.xml").read_bytes()
        )
        names = {s.get("name") for s in strings.iter("string")}
        assert perms["POST_NOTIFICATIONS"] == "keep", client  # every sample client has push
        # Every flavor defines the notification strings, so shared code naming them compiles.
        assert {
            "nudge_persistent_notification_title",
            "nudge_persistent_notification_text",
        } <= names

    lock = tomllib.loads((project.parent / "nudge-build.lock").read_text())
    assert sorted(lock["clients"]) == sorted(expected)
    entry = lock["clients"]["prairie-fcu"]
    assert entry["organization"]["organizationId"] == "org_8f3a2c"
    assert entry["flags"] == {"location": True, "background_location": True, "push": True}
    assert entry["flag_sources"]["location"] == "derived"
    assert set(entry["files"]) == {
        "prairie-fcu/ios/NudgeInfo.plist",
        "prairie-fcu/ios/Nudge.xcconfig",
        "prairie-fcu/ios/PrivacyInfo.xcprivacy",
        "prairie-fcu/android/AndroidManifest.xml",
        "prairie-fcu/android/nudge.properties",
        "prairie-fcu/android/res/values/nudge_strings.xml",
    }
    assert api.stats.tokens_issued == 1


def test_no_secret_in_any_output_stream_or_file(project, api):
    result = cli(project, "-v", "build", env=project_env())
    assert result.exit_code == 0, result.output
    files = tree(project.parent)
    secrets = [CLIENT_SECRET, *SAMPLE_KEYS.values()]
    assert_no_secret(result.stdout, result.stderr, *files.values(), secrets=secrets)


def test_second_build_writes_nothing_and_check_is_clean(project):
    env = project_env()
    assert cli(project, "build", env=env).exit_code == 0
    out = project.parent / "nudge"
    before = mtimes(project.parent)
    again = cli(project, "build", env=env)
    assert again.exit_code == 0, again.output
    assert "wrote 0 new and 0 changed files, 30 unchanged" in again.stdout
    assert mtimes(project.parent) == before
    check = cli(project, "check")
    assert check.exit_code == 0, check.output
    assert "up to date" in check.stdout
    assert out.is_dir()


def test_hand_edit_is_reported_by_check_and_kept_by_build_unless_forced(project):
    env = project_env()
    assert cli(project, "build", env=env).exit_code == 0
    edited = project.parent / "nudge" / "summit-cu" / "ios" / "Nudge.xcconfig"
    original = edited.read_text()
    edited.write_text(original.replace("nudgeStandard", "nudgeGeo"))

    check = cli(project, "check")
    assert check.exit_code == 1
    assert "--- a/summit-cu/ios/Nudge.xcconfig" in check.stdout
    assert "-NUDGE_VERSION = nudgeGeo" in check.stdout
    assert "+NUDGE_VERSION = nudgeStandard" in check.stdout

    build = cli(project, "build", env=env)
    assert build.exit_code == 1
    assert "summit-cu/ios/Nudge.xcconfig was changed by hand" in build.stderr
    assert "nudgeGeo" in edited.read_text()

    forced = cli(project, "build", "--force", env=env)
    assert forced.exit_code == 0, forced.output
    assert edited.read_text() == original


def test_removed_client_loses_its_files_and_lock_entry(project, api):
    env = project_env()
    assert cli(project, "build", env=env).exit_code == 0
    write_project(project.parent, api.base_url, clients=["prairie-fcu", "harbor-bank"])
    result = cli(project, "build", env=env)
    assert result.exit_code == 0, result.output
    out = project.parent / "nudge"
    assert sorted(p.name for p in out.iterdir()) == ["harbor-bank", "prairie-fcu"]
    lock = tomllib.loads((project.parent / "nudge-build.lock").read_text())
    assert sorted(lock["clients"]) == ["harbor-bank", "prairie-fcu"]


def test_render_and_offline_build_need_no_network(project, api):
    env = project_env()
    assert cli(project, "build", env=env).exit_code == 0
    before = tree(project.parent)
    api.stop()  # nothing listens any more: any request would fail with exit 3
    (project.parent / "nudge" / "harbor-bank" / "ios" / "Nudge.xcconfig").unlink()
    rendered = cli(project, "render")
    assert rendered.exit_code == 0, rendered.output
    assert "wrote 1 new and 0 changed files" in rendered.stdout
    offline = cli(project, "build", "--offline")
    assert offline.exit_code == 0, offline.output
    assert tree(project.parent) == before


def test_render_without_lock_entry_is_a_clear_error(project):
    result = cli(project, "render")
    assert result.exit_code == 2
    assert "no organization recorded for client prairie-fcu" in result.stderr
    assert "run `nudge-build fetch`" in result.stderr


def test_dry_run_says_what_would_change_and_touches_nothing(project):
    result = cli(project, "build", "--dry-run", env=project_env())
    assert result.exit_code == 0, result.output
    assert "would create prairie-fcu/ios/NudgeInfo.plist" in result.stdout
    assert sorted(tree(project.parent)) == ["nudge-build.toml"]


def test_fetch_updates_only_the_lockfile(project):
    result = cli(project, "fetch", env=project_env())
    assert result.exit_code == 0, result.output
    assert "fetched 5 of 5 clients; lockfile updated" in result.stdout
    assert sorted(tree(project.parent)) == ["nudge-build.lock", "nudge-build.toml"]
    lock = tomllib.loads((project.parent / "nudge-build.lock").read_text())
    assert lock["clients"]["harbor-bank"]["files"] == {}
    # And render then produces the files from it.
    assert cli(project, "render").exit_code == 0


def test_selected_clients_only(project):
    result = cli(project, "build", "harbor-bank", env=project_env())
    assert result.exit_code == 0, result.output
    out = project.parent / "nudge"
    assert [p.name for p in out.iterdir()] == ["harbor-bank"]


def test_unknown_client_argument(project):
    result = cli(project, "build", "nobody", env=project_env())
    assert result.exit_code == 2
    assert "unknown client nobody" in result.stderr


def test_flags_table_and_json(project, api):
    write_project(
        project.parent,
        api.base_url,
        extra="[clients.prairie-fcu.flags]\nbackground_location = false\n",
    )
    assert cli(project, "fetch", env=project_env()).exit_code == 0
    table = cli(project, "flags")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["client", "location", "background_location", "push"]
    assert lines[1].split() == ["prairie-fcu", "yes", "no*", "yes"]
    assert lines[3].split() == ["summit-cu", "no", "no", "yes"]
    assert lines[-1] == "* set by an override in the config"

    as_json = cli(project, "flags", "--json")
    import json

    data = json.loads(as_json.stdout)
    assert data["prairie-fcu"]["background_location"] == {"value": False, "source": "override"}
    assert data["lakeside-savings"]["location"] == {"value": False, "source": "derived"}


def test_custom_flag_expression_and_template_vars(tmp_path, api):
    templates = tmp_path / "nudge-templates" / "custom"
    templates.mkdir(parents=True)
    (templates / "Branding.properties.j2").write_text(
        "geo={{ flags.geo_ads }}\nname={{ client.vars.app_name }}\n"
    )
    config = write_project(
        tmp_path,
        api.base_url,
        clients=["prairie-fcu"],
        stock=["custom"],
        extra=(
            "[templates]\n".replace("[templates]\n", "")
            + '[flags]\ngeo_ads = "flags.location and org.features.geofenceCount > 10"\n'
            + '[clients.prairie-fcu.vars]\napp_name = "Prairie FCU"\n'
        ),
    )
    text = config.read_text().replace("[templates]\n", '[templates]\ndir = "nudge-templates"\n')
    config.write_text(text)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    written = (tmp_path / "nudge/prairie-fcu/custom/Branding.properties").read_text()
    assert written == "geo=true\nname=Prairie FCU\n"


def test_non_bool_flag_expression_is_an_error_naming_client_flag_and_value(tmp_path, api):
    config = write_project(
        tmp_path,
        api.base_url,
        clients=["summit-cu"],
        extra='[flags]\nlocation = "org.features.geofenceCount"\n',
    )
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2
    assert (
        "client summit-cu: flag location: expression 'org.features.geofenceCount' gave 0 (int)"
        in result.stderr
    )


def test_lone_surrogate_in_one_answer_fails_only_that_client(project, api):
    from nudge_build.sandbox import Answer

    env = project_env()
    assert cli(project, "build", env=env).exit_code == 0
    lock_before = (project.parent / "nudge-build.lock").read_bytes()
    harbor = project.parent / "nudge/harbor-bank/ios/NudgeInfo.plist"
    harbor_before = harbor.read_bytes()
    body = (
        '{"organizationId": "o", "name": "Bad \\ud800", "features": {"locationBasedNudges": true}}'
    )
    api.script("sbx-harbor-bank", [Answer.malformed(body)])
    result = cli(project, "build", env=env)
    assert result.exit_code == 3, result.output
    assert "client harbor-bank: organization field name: contains U+D800" in result.stderr
    assert "4 of 5 clients built" in result.stdout
    assert harbor.read_bytes() == harbor_before
    lock_after = (project.parent / "nudge-build.lock").read_bytes()
    assert lock_after == lock_before  # the others were unchanged, harbor-bank's entry kept


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda t: "version = 1\nclients = 1\n", "[clients]: expected a table of clients"),
        (
            lambda t: t.replace(
                "[clients.harbor-bank.files]\n", "[clients.harbor-bank.x]\n", 1
            ).replace("[clients.harbor-bank]\n", "[clients.harbor-bank]\nfiles = 3\n", 1),
            "[clients.harbor-bank.files]: expected a table of strings",
        ),
        (
            lambda t: t.replace(
                "[clients.harbor-bank.flags]\nlocation = true",
                "[clients.harbor-bank.flags]\nlocation = 1",
                1,
            ),
            "[clients.harbor-bank.flags]: expected a table of true/false",
        ),
    ],
)
def test_damaged_lockfile_is_a_clear_config_error(project, damage, message):
    assert cli(project, "build", env=project_env()).exit_code == 0
    lockfile = project.parent / "nudge-build.lock"
    lockfile.write_text(damage(lockfile.read_text()))
    for command in ("render", "check"):
        result = cli(project, command)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "internal error" not in result.stderr
