"""The texts users read: separate When In Use and Always wording, blank organization text falls
back to the default, and the run says so once per client."""

from __future__ import annotations

import copy
import json
import plistlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nudge_build.org import parse_organization
from nudge_build.platforms.table import ALWAYS_AND_WHEN_IN_USE_KEY, ALWAYS_KEY, WHEN_IN_USE_KEY
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from nudge_build.texts import TEXT_FIELDS, user_facing_texts
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project
from tests.test_github import github_env, unescape_data, workflow_commands
from tests.test_write import out_dir

NAME = "Prairie Federal Credit Union"  # the sample prairie-fcu: background location on
SHARED = "Prairie Federal uses your location for nearby offers."
WHEN_IN_USE = "Prairie Federal shows nearby branches while you use the app."
ALWAYS = "Prairie Federal alerts you to nearby offers, also when the app is closed."
BLANK_WARNING = (
    "warning: client prairie-fcu: organization text messaging.locationPermissionText is empty "
    "or only white space, so the When In Use purpose string and the Always purpose string use "
    "the default text"
)


def texts_of(messaging: dict) -> dict[str, str]:
    org = parse_organization(
        {
            "organizationId": "o1",
            "name": NAME,
            "features": {"locationBasedNudges": True},
            "messaging": messaging,
        },
        client="acme",
    )
    return user_facing_texts(org.template_view())


DEFAULTS = texts_of({})


def test_the_when_in_use_default_says_nothing_about_a_closed_app():
    assert "closed" not in DEFAULTS["location_when_in_use"]
    assert "closed" in DEFAULTS["location_always"]
    assert NAME in DEFAULTS["location_when_in_use"] and NAME in DEFAULTS["location_always"]


@pytest.mark.parametrize(
    ("messaging", "when_in_use", "always"),
    [
        ({"locationPermissionText": SHARED}, SHARED, SHARED),
        (
            {"locationWhenInUsePermissionText": WHEN_IN_USE, "locationPermissionText": SHARED},
            WHEN_IN_USE,
            SHARED,
        ),
        (
            {"locationAlwaysPermissionText": ALWAYS, "locationPermissionText": SHARED},
            SHARED,
            ALWAYS,
        ),
        ({"locationAlwaysPermissionText": ALWAYS}, DEFAULTS["location_when_in_use"], ALWAYS),
        (
            {"locationWhenInUsePermissionText": " \t", "locationPermissionText": SHARED},
            SHARED,
            SHARED,
        ),
        (
            {"locationPermissionText": ""},
            DEFAULTS["location_when_in_use"],
            DEFAULTS["location_always"],
        ),
    ],
)
def test_each_prompt_takes_its_own_text_then_the_shared_one_then_the_default(
    messaging, when_in_use, always
):
    texts = texts_of(messaging)
    assert (texts["location_when_in_use"], texts["location_always"]) == (when_in_use, always)


def test_a_non_string_prompt_text_fails_that_client_naming_the_field():
    with pytest.raises(Exception, match=r"messaging\.locationAlwaysPermissionText: expected a "):
        texts_of({"locationAlwaysPermissionText": 5})


# -- through the CLI --------------------------------------------------------------------------


def serve(tmp_path: Path, messaging: dict) -> tuple[Sandbox, Path]:
    orgs = copy.deepcopy([o for o in SAMPLE_ORGS if o["apiKey"] == "sbx-prairie-fcu"])
    orgs[0]["messaging"] = messaging
    api = Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    config = write_project(tmp_path, "http://127.0.0.1:9", clients=["prairie-fcu"])
    return api, config


def plist_of(config: Path) -> dict:
    path = out_dir(config) / "prairie-fcu" / "ios" / "NudgeInfo.plist"
    return plistlib.loads(path.read_bytes())


def notification_text_of(config: Path) -> str:
    path = out_dir(config) / "prairie-fcu" / "android" / "res" / "values" / "nudge_strings.xml"
    strings = {e.get("name"): e.text for e in ET.parse(path).getroot()}
    return strings["nudge_persistent_notification_text"]


def test_whitespace_only_text_falls_back_with_one_warning_per_client(tmp_path):
    api, config = serve(tmp_path, {"locationPermissionText": "  \n\t "})
    env = github_env(tmp_path)
    with api:
        result = cli(config, "build", env={**project_env(NUDGE_API_URL=api.base_url), **env})
    assert result.exit_code == 0, result.output
    plist = plist_of(config)
    assert plist[WHEN_IN_USE_KEY] == DEFAULTS["location_when_in_use"]
    assert plist[ALWAYS_AND_WHEN_IN_USE_KEY] == plist[ALWAYS_KEY] == DEFAULTS["location_always"]
    # In GitHub the warning is one annotation (the log shows it as the warning line), once for
    # the client, though two texts and several files use the field.
    assert "warning" not in result.stderr
    warnings = [c for c in workflow_commands(result.stdout) if c[0] == "warning"]
    assert len(warnings) == 1
    assert warnings[0][1] == "title=client prairie-fcu"
    assert unescape_data(warnings[0][2]) == BLANK_WARNING.removeprefix("warning: ")

    # render and check read the lockfile's organization: they say so too.
    rendered = cli(config, "render")
    assert rendered.exit_code == 0
    assert [w for w in rendered.stderr.splitlines() if w.startswith("warning:")] == [BLANK_WARNING]
    checked = cli(config, "check", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["warnings"] == [
        {"client": "prairie-fcu", "message": BLANK_WARNING.removeprefix("warning: ")}
    ]
    assert BLANK_WARNING in checked.stderr.splitlines()


def test_separate_texts_reach_their_keys_and_a_blank_one_falls_back_to_the_shared(tmp_path):
    messaging = {
        "locationPermissionText": SHARED,
        "locationWhenInUsePermissionText": "",
        "locationAlwaysPermissionText": ALWAYS,
        "backgroundNotificationText": " ",
    }
    api, config = serve(tmp_path, messaging)
    with api:
        result = cli(config, "build", env=project_env(NUDGE_API_URL=api.base_url))
    assert result.exit_code == 0, result.output
    plist = plist_of(config)
    assert plist[WHEN_IN_USE_KEY] == SHARED
    assert plist[ALWAYS_AND_WHEN_IN_USE_KEY] == plist[ALWAYS_KEY] == ALWAYS
    assert notification_text_of(config) == DEFAULTS["notification_text"]
    assert (
        result.stderr.splitlines().count(
            "warning: client prairie-fcu: organization text "
            "messaging.locationWhenInUsePermissionText, messaging.backgroundNotificationText are "
            "empty or only white space, so the When In Use purpose string uses "
            "messaging.locationPermissionText; the persistent notification's text uses the "
            "default text"
        )
        == 1
    )


def test_a_blank_shared_text_is_reported_only_where_it_stands_in(tmp_path):
    api, config = serve(
        tmp_path, {"locationWhenInUsePermissionText": WHEN_IN_USE, "locationPermissionText": " "}
    )
    with api:
        result = cli(config, "build", env=project_env(NUDGE_API_URL=api.base_url))
    assert result.exit_code == 0, result.output
    # When In Use has its own text; only Always fell through the blank shared one.
    assert [w for w in result.stderr.splitlines() if w.startswith("warning:")] == [
        "warning: client prairie-fcu: organization text messaging.locationPermissionText is "
        "empty or only white space, so the Always purpose string uses the default text"
    ]
    assert plist_of(config)[WHEN_IN_USE_KEY] == WHEN_IN_USE


def test_own_texts_give_no_warning(tmp_path):
    api, config = serve(tmp_path, {"locationPermissionText": SHARED})
    with api:
        result = cli(config, "build", env=project_env(NUDGE_API_URL=api.base_url))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert plist_of(config)[WHEN_IN_USE_KEY] == plist_of(config)[ALWAYS_KEY] == SHARED


# -- the docs ---------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_templates_docs_give_the_fields_defaults_and_warning_the_code_uses():
    page = (DOCS / "templates.md").read_text(encoding="utf-8")
    section = page.split("### Purpose strings and notification text", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "<name>" in line]
    keys = ("location_when_in_use", "location_always", "notification_text")
    for row, key in zip(rows, keys, strict=True):
        default = DEFAULTS[key].replace(NAME, "<name>")
        assert f'"{default}"' in row
        fields = [f"`messaging.{f}`" for f in TEXT_FIELDS[key]]
        assert row.split(" | ")[1] == ", ".join(fields)
    assert f"```\n{BLANK_WARNING}\n```" in section
