"""`nudge-build explain`: each flag's rule, what it read, its override, and what it produces."""

from __future__ import annotations

import json

import pytest

from nudge_build.platforms.table import rules_for
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project

CLIENTS = ["prairie-fcu", "harbor-bank", "summit-cu", "lakeside-savings", "ridgeline-trust"]
EXTRA = """
[flags]
geofence_heavy = "flags.location and org.features.geofenceCount >= 10"

[clients.harbor-bank.flags]
push = false
"""


@pytest.fixture
def project(tmp_path):
    """Built against the sandbox, which is then stopped: explain reads only the lockfile."""
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=CLIENTS, extra=EXTRA)
        result = cli(config, "build", env=project_env())
        assert result.exit_code == 0, result.output
    return config


def explain_json(config, *args):
    result = cli(config, "explain", *args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data, {f["name"]: f for f in data["flags"]}


def test_prairie_text_names_rules_reads_declarations_and_files(project):
    result = cli(project, "explain", "prairie-fcu")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(
        "client prairie-fcu: organization org_8f3a2c (Prairie Federal Credit Union), from "
    )
    location = text.split("\n\n")[1]
    assert location.splitlines()[:4] == [
        "location = true",
        "  rule (built-in): org.features.locationBasedNudges and org.status != 'suspended'",
        "  read: org.features.locationBasedNudges = true",
        '        org.status = "active"',
    ]
    background = text.split("\n\n")[2]
    assert "background_location = true" in background
    assert (
        "    iOS: NSLocationAlwaysAndWhenInUseUsageDescription, NSLocationAlwaysUsageDescription, "
        "UIBackgroundModes location, NUDGE_VERSION = nudgeGeo"
    ) in background
    assert "    Android: ACCESS_BACKGROUND_LOCATION, FOREGROUND_SERVICE," in background
    assert "    prairie-fcu/ios/NudgeInfo.plist" in background
    assert "    prairie-fcu/android/AndroidManifest.xml" in background


def test_values_are_the_ones_the_build_recorded(project):
    lock = (project.parent / "nudge-build.lock").read_text()
    assert "org_8f3a2c" in lock
    flags = cli(project, "flags", "--json")
    assert flags.exit_code == 0, flags.output
    expected = json.loads(flags.stdout)
    for client in CLIENTS:
        data, by_name = explain_json(project, client)
        assert {n: f["value"] for n, f in by_name.items()} == {
            n: v["value"] for n, v in expected[client].items()
        }, client
        assert data["locked_flags"] == {n: v["value"] for n, v in expected[client].items()}


def test_a_short_circuit_reads_only_what_it_needs(project):
    _, summit = explain_json(project, "summit-cu")
    assert summit["location"]["reads"] == [
        {"path": "org.features.locationBasedNudges", "value": False}
    ]
    # location is false, so the rule never looked at org.features.backgroundLocation
    assert summit["background_location"]["reads"] == [{"path": "flags.location", "value": False}]
    _, lakeside = explain_json(project, "lakeside-savings")
    assert lakeside["location"]["reads"] == [
        {"path": "org.features.locationBasedNudges", "value": True},
        {"path": "org.status", "value": "suspended"},
    ]


def test_an_override_says_what_the_rule_alone_gives(project):
    result = cli(project, "explain", "harbor-bank", "push")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "push = false (override)" in lines
    assert (
        "  override: [clients.harbor-bank.flags].push = false wins (the rule gives true)" in lines
    )
    _, by_name = explain_json(project, "harbor-bank", "push")
    assert list(by_name) == ["push"]
    assert by_name["push"]["source"] == "override"
    assert by_name["push"]["rule_value"] is True
    assert by_name["push"]["declares"]["android"] == ['POST_NOTIFICATIONS tools:node="remove"']


def test_a_config_flag_names_its_rule_and_reaches_no_platform_key(project):
    result = cli(project, "explain", "prairie-fcu", "geofence_heavy")
    assert result.exit_code == 0, result.output
    assert "geofence_heavy = true" in result.stdout
    assert f"  rule ([flags].geofence_heavy in {project}): " in result.stdout
    assert "org.features.geofenceCount = 12" in result.stdout
    assert "platform table: not read" in result.stdout
    assert "  files: none" in result.stdout  # no stock template reads it


def test_declarations_are_the_platform_tables(project):
    """Every key the table makes prairie-fcu declare is credited to one of its flags."""
    _, by_name = explain_json(project, "prairie-fcu")
    credited = {item for f in by_name.values() for item in f["declares"].get("ios", [])}
    rules = rules_for({"location": True, "background_location": True, "push": True})
    for purpose in rules.ios.purpose_strings:
        assert purpose.key in credited
    for mode in rules.ios.background_modes:
        assert f"UIBackgroundModes {mode}" in credited
    android = {item for f in by_name.values() for item in f["declares"].get("android", [])}
    for permission in rules.android.permissions:
        assert permission.removeprefix("android.permission.") in android
    # each declaration is credited once: location the foreground part, background the rest
    assert "ACCESS_FINE_LOCATION" in by_name["location"]["declares"]["android"]
    assert "ACCESS_FINE_LOCATION" not in by_name["background_location"]["declares"]["android"]


def test_missing_lock_entry_and_unknown_client_are_clear_errors(project):
    config = project.read_text() + '\n[clients.new-cu]\napi_key_env = "NUDGE_KEY_NEW_CU"\n'
    project.write_text(config)
    missing = cli(project, "explain", "new-cu")
    assert missing.exit_code == 2
    assert "no organization recorded for client new-cu" in missing.stderr
    unknown = cli(project, "explain", "prairie")
    assert unknown.exit_code == 2
    assert "unknown client prairie (did you mean 'prairie-fcu'?)" in unknown.stderr
