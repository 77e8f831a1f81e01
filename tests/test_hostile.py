"""Hostile organization text through every stock set, end to end over real HTTP.

Each output is parsed with the reader of the tool that consumes it (plistlib for Xcode's plist,
ElementTree + aapt2's string rules for Android resources, Java properties rules for Gradle,
json for Flutter and Expo, Xcode's xcconfig rules, react-native-config's .env rules), and the
hostile values must read back unchanged.
"""

from __future__ import annotations

import json
import plistlib
import xml.etree.ElementTree as ET

import pytest

from nudge_build.formats import read_env, read_properties, read_xcconfig, unescape_android_string
from nudge_build.sandbox import Sandbox
from tests.helpers import ALL_SETS, CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project
from tests.swift_build_macros import info_plist_value

HOSTILE_NAMES = [
    "Harbor & Main's \"Best\" <Bank> ]]> 'quoted'",
    "{{ 7*7 }} {% if true %}x{% endif %} {# no #}",
    "@string/app_name ?attr // $(HOME) ${PATH} \\back\\slash",
    "  leading and  double  spaces and trailing  ",
    "Ünïcödé Crédit Coopératif 🏦 — 100% sûr = #1 ! key:value",
    "line one\nline two\ttabbed",
    "U+2028 here:\u2028and there",
]
PERMISSION_TEXT = "We use your location <always> & \"everywhere\": 50% of 'offers' // $(X)\nok"
NOTIFICATION_TEXT = "@Watching \\ for 'nearby' offers\n  {{ x }} % s"


def hostile_org(index: int, name: str) -> dict:
    return {
        "apiKey": f"key-{index}",
        "organizationId": f"org_h{index}",
        "name": name,
        "status": "active",
        "features": {"locationBasedNudges": True, "backgroundLocation": True},
        "messaging": {
            "locationPermissionText": PERMISSION_TEXT,
            "backgroundNotificationText": NOTIFICATION_TEXT,
        },
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    orgs = [hostile_org(i, name) for i, name in enumerate(HOSTILE_NAMES)]
    clients = [f"c{i}" for i in range(len(orgs))]
    keys = {client: org["apiKey"] for client, org in zip(clients, orgs, strict=True)}
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(workdir, api.base_url, clients=clients, stock=ALL_SETS)
        result = cli(config, "build", env=project_env(keys))
    assert result.exit_code == 0, result.output
    return workdir / "nudge"


@pytest.mark.parametrize("index", range(len(HOSTILE_NAMES)))
def test_hostile_values_read_back_unchanged_in_every_format(built, index):
    name = HOSTILE_NAMES[index]
    out = built / f"c{index}"

    info = plistlib.loads((out / "ios" / "NudgeInfo.plist").read_bytes())
    # What the app carries once Xcode has expanded build settings in the Info.plist.
    shown = {
        key: info_plist_value(value, {"X": "x"}) for key, value in info.items() if key[:2] == "NS"
    }
    assert shown["NSLocationWhenInUseUsageDescription"] == PERMISSION_TEXT
    assert shown["NSLocationAlwaysAndWhenInUseUsageDescription"] == PERMISSION_TEXT

    xcconfig = read_xcconfig((out / "ios" / "Nudge.xcconfig").read_text(encoding="utf-8"))
    assert xcconfig["NUDGE_ORGANIZATION_ID"] == f"org_h{index}"

    strings = ET.fromstring((out / "android/res/values/nudge_strings.xml").read_bytes())
    by_name = {e.get("name"): unescape_android_string(e.text or "") for e in strings}
    assert by_name["nudge_organization_name"] == name
    assert by_name["nudge_persistent_notification_title"] == name
    assert by_name["nudge_persistent_notification_text"] == NOTIFICATION_TEXT

    ET.fromstring((out / "android" / "AndroidManifest.xml").read_bytes())
    properties = read_properties((out / "android" / "nudge.properties").read_text("ascii"))
    assert properties["nudge.organizationName"] == name
    assert properties["nudge.location"] == "background"

    defines = json.loads((out / "flutter" / "nudge_defines.json").read_bytes())
    assert defines["NUDGE_ORGANIZATION_NAME"] == name

    expo = json.loads((out / "expo" / "app.config.nudge.json").read_bytes())
    assert expo["extra"]["nudge"]["organizationName"] == name
    assert expo["ios"]["purposeStrings"]["NSLocationWhenInUseUsageDescription"] == PERMISSION_TEXT
    options = expo["expoLocation"]["options"]
    assert options["locationAlwaysAndWhenInUsePermission"] == PERMISSION_TEXT

    env = read_env((out / "react-native" / "nudge.env").read_text(encoding="utf-8"))
    assert env == {
        "NUDGE_ENABLED": "true",
        "NUDGE_LOCATION": "background",
        "NUDGE_ORGANIZATION_ID": f"org_h{index}",
    }


def test_default_purpose_strings_name_the_institution_and_the_use(tmp_path):
    org = hostile_org(0, "Credit Union of O'Hare & Co")
    del org["messaging"]
    with Sandbox([org], client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=["c0"], stock=["ios"])
        assert cli(config, "build", env=project_env({"c0": "key-0"})).exit_code == 0
    info = plistlib.loads((tmp_path / "nudge/c0/ios/NudgeInfo.plist").read_bytes())
    always = info["NSLocationAlwaysAndWhenInUseUsageDescription"]
    assert always.startswith("Credit Union of O'Hare & Co uses your location")
    assert "when the app is closed" in always
    assert "branches" in info["NSLocationWhenInUseUsageDescription"]
