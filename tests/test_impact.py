"""Flag-change impact: fetch, build and check --live say which clients' flags moved against the
lockfile, and what that changes for store review, read off the platform table."""

from __future__ import annotations

import copy
import itertools
import json
import tomllib
from pathlib import Path

import pytest

from nudge_build.flags import Flag, Flags
from nudge_build.github import markdown_text
from nudge_build.impact import NO_EFFECT, client_impacts, flag_impact
from nudge_build.lock import Lock, LockedClient
from nudge_build.org import parse_organization
from nudge_build.platforms import rules_for
from nudge_build.platforms.stores import store_forms
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project
from tests.test_github import github_env, workflow_commands

CLIENTS = ["prairie-fcu", "harbor-bank"]
HEADER = "flags changed against the lockfile (what that changes for store review):"
# An organization name a summary must show as text: bold, a link, a table break, HTML.
HOSTILE_NAME = "Harbor **Main** [click](https://evil.example) | <b>Bank</b>"
HARBOR_LINE = (
    "harbor-bank: background location off → on: Play background-location declaration needed; "
)


def moved_orgs() -> list[dict]:
    """harbor-bank (foreground location in the samples) turns on background location in the
    portal, and its name now carries Markdown."""
    orgs = copy.deepcopy(SAMPLE_ORGS)
    harbor = next(o for o in orgs if o["apiKey"] == "sbx-harbor-bank")
    harbor["features"]["backgroundLocation"] = True
    harbor["name"] = HOSTILE_NAME
    return orgs


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A project built once against the sample organizations."""
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=CLIENTS)
        first = cli(config, "build", env=project_env())
    assert first.exit_code == 0, first.output
    # Nothing to compare with yet: each client is new to the lockfile, not an impact.
    assert f"{HEADER}\n  prairie-fcu: new client\n  harbor-bank: new client\n" in first.stdout
    return config


def test_build_after_a_flag_change_prints_the_impact_and_leads_the_step_summary(built, tmp_path):
    env = github_env(tmp_path)
    with Sandbox(moved_orgs(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        result = cli(built, "build", env={**project_env(NUDGE_API_URL=moved.base_url), **env})
    assert result.exit_code == 0, result.output

    lines = result.stdout.splitlines()
    impact = lines[lines.index(HEADER) + 1 :]
    harbor = next(line for line in impact if line.startswith("  harbor-bank:"))
    assert harbor.startswith("  " + HARBOR_LINE), harbor
    for effect in (
        "Always purpose string added",
        "UIBackgroundModes gains location",
        "Android permissions added: ACCESS_BACKGROUND_LOCATION",
    ):
        assert effect in harbor
    assert not any(line.startswith("  prairie-fcu") for line in impact)  # its flags stayed

    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    title, blank, table_title, *rest = summary.splitlines()
    assert (title, blank) == ("## nudge-build build", "")
    assert table_title == "### Flag changes to review: 1 client(s)"  # it leads, before counts
    assert summary.index("| client | organization | flags | what it changes |") < summary.index(
        "clients built"
    )
    row = next(line for line in rest if line.startswith("| `harbor-bank` |"))
    # The name as literal Markdown text: no bold, no link, no cell break, no HTML.
    escaped = markdown_text(HOSTILE_NAME)
    assert escaped.startswith(r"Harbor \*\*Main\*\* \[click\]\(") and r"\| \<b\>" in escaped
    assert f"| `harbor-bank` | {escaped} | background location off → on | " in row
    assert "Play background-location declaration needed<br>" in row
    assert "**Main**" not in summary and "[click](" not in summary and "<b>" not in summary

    lock = tomllib.loads((built.parent / "nudge-build.lock").read_text(encoding="utf-8"))
    assert lock["clients"]["harbor-bank"]["flags"]["background_location"] is True
    # Recorded now: the next build has nothing to report.
    with Sandbox(moved_orgs(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        again = cli(built, "build", env=project_env(NUDGE_API_URL=moved.base_url))
    assert again.exit_code == 0 and HEADER not in again.stdout


def test_no_line_of_the_impact_acts_as_a_workflow_command(built, tmp_path):
    orgs = moved_orgs()
    next(o for o in orgs if o["apiKey"] == "sbx-harbor-bank")["name"] = "::error::pwned"
    env = github_env(tmp_path)
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        result = cli(built, "build", env={**project_env(NUDGE_API_URL=moved.base_url), **env})
    assert result.exit_code == 0, result.output
    # The log line names the client id, never the organization's text.
    assert "pwned" not in result.stdout
    assert not [c for c in workflow_commands(result.stdout) if c[0] == "error"]


def test_check_live_json_carries_the_impact(built):
    with Sandbox(moved_orgs(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        env = project_env(NUDGE_API_URL=moved.base_url)
        result = cli(built, "check", "--live", "--json", env=env)
        text = cli(built, "check", "--live", env=env)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    expected_effects = flag_impact(
        {"location": True, "background_location": False, "push": True},
        {"location": True, "background_location": True, "push": True},
    )
    assert data["flag_changes"] == [
        {
            "client": "harbor-bank",
            "organization": HOSTILE_NAME,  # JSON carries the text as it is
            "new_client": False,
            "changes": [{"flag": "background_location", "old": False, "new": True}],
            "effects": expected_effects,
        }
    ]
    assert "Play background-location declaration needed" in expected_effects
    assert HEADER in text.stdout and "  " + HARBOR_LINE in text.stdout
    # Without --live the lockfile's organizations are used: their flags match it.
    offline = cli(built, "check", "--json")
    assert json.loads(offline.stdout)["flag_changes"] == []


def test_fetch_reports_the_impact_and_records_the_new_flags(built, tmp_path):
    env = github_env(tmp_path)
    with Sandbox(moved_orgs(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        result = cli(built, "fetch", env={**project_env(NUDGE_API_URL=moved.base_url), **env})
    assert result.exit_code == 0, result.output
    assert f"{HEADER}\n  {HARBOR_LINE}" in result.stdout
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert summary.startswith("## nudge-build fetch\n\n### Flag changes to review: 1 client(s)\n")
    assert "2 of 2 clients fetched." in summary
    # The lockfile now holds the new flags, so render reports nothing more.
    rendered = cli(built, "render")
    assert rendered.exit_code == 0 and HEADER not in rendered.stdout


def test_a_config_override_shows_its_impact_in_render(built):
    config_text = built.read_text(encoding="utf-8")
    built.write_text(
        config_text + "\n[clients.prairie-fcu.flags]\nlocation = false\n"
        "background_location = false\n",
        encoding="utf-8",
    )
    result = cli(built, "render", "--dry-run")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("  prairie-fcu:"))
    assert line.startswith(
        "  prairie-fcu: location on → off, background location on → off: "
        "Play background-location declaration no longer needed: withdraw it; "
    )
    assert 'Android permissions marked tools:node="remove": ACCESS_FINE_LOCATION' in line


def test_quiet_prints_no_impact(built):
    with Sandbox(moved_orgs(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        result = cli(built, "-q", "fetch", env=project_env(NUDGE_API_URL=moved.base_url))
    assert (result.exit_code, result.stdout) == (0, "")


# -- flag_impact, against the table -----------------------------------------------------------

VALID = [
    {"location": loc, "background_location": bg, "push": push}
    for loc, bg, push in itertools.product((False, True), repeat=3)
    if not (bg and not loc) and not (bg and not push)
]


@pytest.mark.parametrize(("old", "new"), list(itertools.permutations(VALID, 2)))
def test_every_difference_of_the_table_is_named(old, new):
    effects = flag_impact(old, new)
    text = "\n".join(effects)
    before, after = rules_for(old), rules_for(new)
    for key in {p.key for p in after.ios.purpose_strings} ^ {
        p.key for p in before.ios.purpose_strings
    }:
        assert key in text
    for mode in set(after.ios.background_modes) ^ set(before.ios.background_modes):
        assert f"UIBackgroundModes gains {mode}" in text or mode in text
    for permission in set(after.android.permissions) ^ set(before.android.permissions):
        assert permission.removeprefix("android.permission.") in text
    old_forms, new_forms = store_forms(before), store_forms(after)
    if old_forms.play_background_location != new_forms.play_background_location:
        assert "Play background-location declaration" in text
    if before.location_mode != after.location_mode:
        assert f"NUDGE_LOCATION {before.location_mode} → {after.location_mode}" in effects
    assert effects  # any two valid flag sets differ in what the apps declare


def test_no_change_no_effect():
    flags = {"location": True, "background_location": True, "push": True}
    assert flag_impact(flags, dict(flags)) == []


def _flags(**values: bool) -> Flags:
    return Flags(tuple(Flag(name, value, "derived") for name, value in values.items()))


def test_client_impacts_new_client_and_a_custom_flag_without_platform_effect():
    org = parse_organization(
        {"organizationId": "o1", "name": "Acme", "features": {"locationBasedNudges": True}},
        client="acme",
    )
    base = {"location": True, "background_location": True, "push": True}
    lock = Lock({"acme": LockedClient({}, "sha256:x", {**base, "geofencing": False})})
    flags = {
        "acme": _flags(**base, geofencing=True),
        "newco": _flags(**base),
    }
    impacts = client_impacts(lock, {"acme": org, "newco": org}, flags)
    assert [i.line() for i in impacts] == [
        f"acme: geofencing off → on: {NO_EFFECT}",
        "newco: new client",
    ]
    assert impacts[1].as_json() == {
        "client": "newco",
        "organization": "Acme",
        "new_client": True,
        "changes": [],
        "effects": [],
    }


# -- the docs ---------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_review_docs_example_is_what_the_cli_prints():
    page = (DOCS / "review.md").read_text(encoding="utf-8")
    section = page.split("## When a client's flags change", 1)[1].split("\n## ", 1)[0]
    example = section.split("```\n", 2)[1]
    background_on = flag_impact(
        {"location": True, "background_location": False, "push": True},
        {"location": True, "background_location": True, "push": True},
    )
    assert example == (
        f"{HEADER}\n"
        f"  harbor-bank: background location off → on: {'; '.join(background_on)}\n"
        "  summit-cu: new client\n"
    )
    assert f"`{NO_EFFECT}`" in section
    for key in ("flag_changes", "client", "organization", "new_client", "changes", "effects"):
        assert f"`{key}`" in section
