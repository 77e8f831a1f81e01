"""`nudge-build review`: the store-submission kit, from a lockfile a real build wrote.

The Markdown is judged by GitHub's own renderer (cmark-gfm, with the extensions github.com
turns on), so "escaped" means what a release manager sees: no link, image or HTML from an
organization, and its text shown exactly.
"""

from __future__ import annotations

import html
import json
import plistlib
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, project_env, write_project
from tests.platform_tools import debian_tool

EVERY_DECLARATION = {
    "play_background_location": "## Google Play: background location declaration",
    "play_foreground_service": (
        "## Google Play: foreground service declaration (Android 14, type location)"
    ),
    "app_privacy": "## App Store Connect: App Privacy (location)",
    "data_safety": "## Google Play: Data safety (location)",
}
NOTES = "## App Store Connect: App Review notes"
NO_LOCATION = "No location declaration is needed"

HOSTILE_NAME = (
    "Evil <img src=x onerror=alert(1)> <script>x()</script> [click](https://evil.example) "
    "![i](http://evil.example/i.png) **bold** www.evil.example @everyone #1 & &amp; `tick`"
)
HOSTILE_NOTIFICATION = "Watching\n```\n<b>out of the block</b>\n````\n::warning::hi"
HOSTILE_KEY = "sbx-hostile"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("review")
    hostile = {
        "apiKey": HOSTILE_KEY,
        "organizationId": "org_hostile",
        "name": HOSTILE_NAME,
        "features": {"locationBasedNudges": True, "backgroundLocation": True},
        "apps": {"ios": {"bundleId": "com.evil.app"}},
        "messaging": {"backgroundNotificationText": HOSTILE_NOTIFICATION},
    }
    keys = {**SAMPLE_KEYS, "hostile-cu": HOSTILE_KEY}
    with Sandbox([*SAMPLE_ORGS, hostile], client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(workdir, api.base_url, clients=keys)
        result = cli(config, "build", env=project_env(keys))
    assert result.exit_code == 0, result.output
    return config


def review(config, *args):
    result = cli(config, "review", *args)
    assert result.exit_code == 0, result.output
    return result.output


def kit(config, client):
    (data,) = json.loads(review(config, client, "--json"))["clients"]
    return data


def section_ids(data):
    return [s["id"] for s in data["sections"]]


def field(data, section_id, label):
    (section,) = [s for s in data["sections"] if s["id"] == section_id]
    (text,) = [f["text"] for f in section["fields"] if f["label"] == label]
    return text


def test_background_client_kit_names_every_declaration(project):
    markdown = review(project, "prairie-fcu")
    for heading in [*EVERY_DECLARATION.values(), NOTES]:
        assert heading in markdown
    assert NO_LOCATION not in markdown

    data = kit(project, "prairie-fcu")
    assert section_ids(data) == [*EVERY_DECLARATION, "app_review_notes"]
    assert data["location_declarations_needed"] is True
    # Play's parts of a prominent disclosure: the data, when, what for, naming the institution.
    disclosure = field(
        data,
        "play_background_location",
        "In-app prominent disclosure (show it in the app, not in the form)",
    )
    assert disclosure.startswith("Prairie Federal Credit Union collects location data to ")
    assert "even when the app is closed or not in use" in disclosure
    assert "to alert you to nearby branches, ATMs and offers" in disclosure
    # The FI's own Always wording (user_facing_texts) is shown beside it.
    assert field(
        data, "play_background_location", "The iOS Always prompt, for the same wording in both apps"
    ).startswith("Prairie Federal uses your location to tell you")
    (bg,) = [s for s in data["sections"] if s["id"] == "play_background_location"]
    assert any("before the runtime location permission request" in c for c in bg["checklist"])
    assert "Video" in [f["label"] for f in bg["fields"]]

    service = field(data, "play_foreground_service", "What the service does")
    assert "foreground service of type location" in service
    assert '"Watching for nearby Prairie Federal offers"' in service  # the notification text
    assert field(data, "play_foreground_service", "Permission and service type") == (
        "FOREGROUND_SERVICE_LOCATION; foregroundServiceType location"
    )

    assert field(data, "app_privacy", "Data type") == "Location > Precise Location: collected"
    assert field(data, "app_privacy", "Purposes").startswith("App Functionality")
    assert field(data, "app_privacy", "Linked to the user's identity").startswith("Yes")
    assert field(data, "app_privacy", "Used for tracking") == "No"
    assert field(data, "data_safety", "Data types") == (
        "Location > Approximate location, Precise location: collected"
    )
    assert field(data, "data_safety", "Purposes") == "App functionality"

    notes = field(data, "app_review_notes", "Notes")
    for part in (
        "How to see a location alert",
        "Why Always location",
        "UIBackgroundModes location",
    ):
        assert part in notes


def test_push_only_client_kit_says_no_location_declaration_is_needed(project):
    markdown = review(project, "summit-cu")
    for heading in EVERY_DECLARATION.values():
        assert heading not in markdown
    assert NO_LOCATION in markdown
    assert "the app must not request location" in markdown

    data = kit(project, "summit-cu")
    assert section_ids(data) == ["app_review_notes"]
    assert data["location_declarations_needed"] is False
    assert data["statement"].startswith(NO_LOCATION)
    notes = field(data, "app_review_notes", "Notes")
    assert "It does not use location" in notes
    assert "Always" not in notes


def test_foreground_client_kit_declares_location_but_nothing_for_the_background(project):
    data = kit(project, "harbor-bank")
    assert section_ids(data) == ["app_privacy", "data_safety", "app_review_notes"]
    assert field(data, "app_privacy", "Data type") == "Location > Precise Location: collected"
    notes = field(data, "app_review_notes", "Notes")
    assert "never asks for Always" in notes
    assert "UIBackgroundModes" not in notes
    markdown = review(project, "harbor-bank")
    assert EVERY_DECLARATION["play_background_location"] not in markdown
    assert EVERY_DECLARATION["play_foreground_service"] not in markdown


class _Html(HTMLParser):
    """The tags and the text of each element a renderer made."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._open.append(tag)
        self.texts.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        for tag in self._open:
            self.texts[tag][-1] += data


def rendered_by_github(markdown: str) -> _Html:
    cmark = debian_tool("cmark-gfm", "cmark-gfm")
    extensions = ["-e", "autolink", "-e", "tagfilter", "-e", "tasklist", "-e", "table"]
    result = subprocess.run(
        [cmark, *extensions], input=markdown, capture_output=True, text=True, check=True
    )
    parsed = _Html()
    parsed.feed(result.stdout)
    return parsed


def test_organization_text_is_escaped_and_shown_exactly(project):
    markdown = review(project, "hostile-cu")
    page = rendered_by_github(markdown)
    # Nothing the organization wrote became markup: no link, image, script, emphasis.
    for tag in ("a", "img", "script", "b", "em"):
        assert tag not in page.tags, tag
    # Our own labels are the only bold text; none of them holds the organization's.
    assert all("bold" not in text for text in page.texts.get("strong", []))
    assert page.texts["h1"] == [f"Review kit: {HOSTILE_NAME} (hostile-cu)"]
    # Pasted texts come out of their code blocks exactly, fences inside and all.
    blocks = [html.unescape(t) for t in page.texts["code"]]
    assert any(f'"{HOSTILE_NOTIFICATION}".' in block for block in blocks)
    assert not re.search(r"^::warning::", markdown.split("```text")[0], re.M)

    data = kit(project, "hostile-cu")
    assert data["organization"] == HOSTILE_NAME  # JSON carries the text as it is
    assert data["apps"] == {"ios": "com.evil.app"}


def test_out_writes_one_file_per_client(project, tmp_path):
    out = tmp_path / "kits"
    result = cli(project, "review", "prairie-fcu", "summit-cu", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"wrote {out / 'prairie-fcu.md'}",
        f"wrote {out / 'summit-cu.md'}",
    ]
    assert (out / "summit-cu.md").read_text(encoding="utf-8") == review(project, "summit-cu")
    before = (out / "summit-cu.md").stat().st_mtime_ns
    assert cli(project, "review", "summit-cu", "--out", str(out)).exit_code == 0
    assert (out / "summit-cu.md").stat().st_mtime_ns == before  # current: not rewritten

    result = cli(project, "review", "harbor-bank", "--json", "--out", str(out))
    assert result.exit_code == 0, result.output
    written = json.loads((out / "harbor-bank.json").read_text(encoding="utf-8"))
    assert written == kit(project, "harbor-bank")


def test_markdown_in_github_mode_cannot_run_workflow_commands(project):
    result = cli(project, "review", "hostile-cu", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith("::stop-commands::")]
    token = lines[start].removeprefix("::stop-commands::")
    assert lines[-1] == f"::{token}::"
    # The organization's "::warning::" line is printed escaped, and while commands are off.
    (warning,) = [i for i, line in enumerate(lines) if line.startswith("\\::warning::hi")]
    assert start < warning < len(lines) - 1
    assert start < min(i for i, line in enumerate(lines) if "Evil" in line)


def test_review_needs_the_client_in_the_lockfile(tmp_path):
    config = write_project(tmp_path, "https://api.example.com", clients=["summit-cu"])
    result = cli(config, "review")
    assert result.exit_code == 2
    assert "no organization recorded for client summit-cu" in result.output
    assert "run `nudge-build fetch`" in result.output


def test_docs_table_lists_the_sections_the_kit_writes(project):
    docs = (Path(__file__).resolve().parent.parent / "docs" / "review.md").read_text("utf-8")
    rows = re.findall(r"^\| (.+?) \(`(\w+)`\) \|", docs, re.M)
    data = kit(project, "prairie-fcu")
    assert rows == [(s["title"], s["id"]) for s in data["sections"]]
    assert "nudge-build review [CLIENT]... [--json] [--out DIR]" in docs
    # Several clients: one kit each, separated by a rule, in config order.
    both = review(project, "summit-cu", "prairie-fcu")
    assert both.index("(prairie-fcu)") < both.index("\n---\n") < both.index("(summit-cu)")
    assert "[address, radius]" in field(data, "app_review_notes", "Notes")


@pytest.mark.parametrize("client", ["prairie-fcu", "harbor-bank", "summit-cu"])
def test_app_privacy_answers_match_the_privacy_manifest_the_build_wrote(project, client):
    manifest = plistlib.loads(
        (project.parent / "nudge" / client / "ios/PrivacyInfo.xcprivacy").read_bytes()
    )
    entries = manifest["NSPrivacyCollectedDataTypes"]
    data = kit(project, client)
    if not entries:
        assert "app_privacy" not in section_ids(data)
        return
    (entry,) = entries
    assert entry["NSPrivacyCollectedDataType"] == "NSPrivacyCollectedDataTypePreciseLocation"
    assert field(data, "app_privacy", "Data type") == "Location > Precise Location: collected"
    linked = field(data, "app_privacy", "Linked to the user's identity")
    assert linked.startswith("Yes" if entry["NSPrivacyCollectedDataTypeLinked"] else "No")
    tracking = field(data, "app_privacy", "Used for tracking")
    assert tracking == ("Yes" if entry["NSPrivacyCollectedDataTypeTracking"] else "No")
    purposes = entry["NSPrivacyCollectedDataTypePurposes"]
    assert purposes == ["NSPrivacyCollectedDataTypePurposeAppFunctionality"]
    assert field(data, "app_privacy", "Purposes").startswith("App Functionality")
