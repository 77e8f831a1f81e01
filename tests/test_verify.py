"""`nudge-build verify` on iOS artifacts, the command's contract, and the demo's stock outputs.

A project is built once with the real CLI against the sandbox (background prairie-fcu,
foreground harbor-bank, push-only summit-cu); each test assembles built-app artifacts from what
the templates rendered (tests/verify_artifacts.py) and plants one defect where it tests one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from nudge_build.cli import main
from nudge_build.platforms import rules_for
from nudge_build.verify.axml import ANDROID_ATTRIBUTE_IDS
from nudge_build.verify.findings import ArtifactError, Finding
from nudge_build.verify.purpose_text import purpose_text_problem
from tests import verify_artifacts as art
from tests.helpers import cli
from tests.platform_tools import debian_file, debian_tool

CLIENTS = art.CLIENTS
WHEN_IN_USE = "NSLocationWhenInUseUsageDescription"
ALWAYS_AND_WHEN_IN_USE = "NSLocationAlwaysAndWhenInUseUsageDescription"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return art.build_project(tmp_path_factory.mktemp("verify"))


def test_the_fixture_clients_cover_the_three_flag_sets(project):
    modes = {c: rules_for(project.flags(c)).location_mode for c in CLIENTS}
    assert modes == {"prairie-fcu": "background", "harbor-bank": "foreground", "summit-cu": "false"}


# -- correct artifacts pass -------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_correct_binary_plist_app_and_ipa_pass(project, tmp_path, client):
    info, privacy = project.info(client), project.privacy(client)
    plist = art.write_binary_plist(tmp_path / "plist" / client / "Info.plist", info)
    assert plist.read_bytes().startswith(b"bplist00")
    art.write_app(tmp_path / "app" / client / "Bank.app", info, privacy)
    art.write_ipa(tmp_path / "ipa" / client / "Bank.ipa", info, privacy)
    for artifact in (
        str(plist),
        f"{tmp_path}/app/{{client}}/Bank.app",
        str(tmp_path / "ipa" / client / "Bank.ipa"),
    ):
        result = project.verify(client, "--ios", artifact)
        assert result.exit_code == 0, result.output
        assert result.output == "verified 1 artifact(s): all match their clients' flags\n"


def test_every_client_at_once_with_a_client_placeholder(project, tmp_path):
    for client in CLIENTS:
        art.write_ipa(tmp_path / client / "Bank.ipa", project.info(client), project.privacy(client))
    result = project.verify("--ios", f"{tmp_path}/{{client}}/Bank.ipa")
    assert result.exit_code == 0, result.output
    assert "verified 3 artifact(s)" in result.output


# -- planted defects ----------------------------------------------------------------------------


def one_finding(result, client: str, rule: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if not line.startswith("verify: ")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{client}: "), lines[0]
    assert f": {rule}: found " in lines[0]
    assert "; expected " in lines[0] and "; fix: " in lines[0]
    return lines[0]


def test_stale_purpose_string_on_a_push_only_client(project, tmp_path):
    info = project.info("summit-cu")
    assert WHEN_IN_USE not in info
    info[WHEN_IN_USE] = "Summit uses your location to show nearby branches."  # left in the base
    plist = art.write_binary_plist(tmp_path / "Info.plist", info)
    line = one_finding(
        project.verify("summit-cu", "--ios", str(plist)), "summit-cu", "ios.forbidden-key"
    )
    assert f'found {WHEN_IN_USE} = "Summit uses your location to show nearby branches."' in line
    assert f"expected no {WHEN_IN_USE} for this client's flags" in line
    assert line.startswith(f"summit-cu: {plist}: ")


def test_expo_locations_generic_text_on_a_background_client(project, tmp_path):
    info = project.info("prairie-fcu")
    info[ALWAYS_AND_WHEN_IN_USE] = art.EXPO_GENERIC
    ipa = art.write_ipa(tmp_path / "Bank.ipa", info, project.privacy("prairie-fcu"))
    line = one_finding(
        project.verify("prairie-fcu", "--ios", str(ipa)), "prairie-fcu", "ios.purpose-text"
    )
    assert f'{ALWAYS_AND_WHEN_IN_USE} = "Allow $(PRODUCT_NAME) to access your location"' in line
    assert "expo-location's generic text" in line


def test_missing_location_mode_for_a_background_client(project, tmp_path):
    info = project.info("prairie-fcu")
    info["UIBackgroundModes"].remove("location")
    app = art.write_app(tmp_path / "Bank.app", info, project.privacy("prairie-fcu"))
    line = one_finding(
        project.verify("prairie-fcu", "--ios", str(app)), "prairie-fcu", "ios.background-mode"
    )
    assert 'found UIBackgroundModes = "fetch, remote-notification"' in line
    assert "expected 'location' in UIBackgroundModes" in line


def test_location_mode_on_a_foreground_client(project, tmp_path):
    info = project.info("harbor-bank")
    info["UIBackgroundModes"].append("location")
    plist = art.write_binary_plist(tmp_path / "Info.plist", info)
    line = one_finding(
        project.verify("harbor-bank", "--ios", str(plist)), "harbor-bank", "ios.background-mode"
    )
    assert "found 'location' in UIBackgroundModes" in line


def test_wrong_bundle_id(project, tmp_path):
    info = project.info("harbor-bank")
    info["CFBundleIdentifier"] = "org.prairiefcu.mobile"  # another client's build
    ipa = art.write_ipa(tmp_path / "Bank.ipa", info, project.privacy("harbor-bank"))
    line = one_finding(
        project.verify("harbor-bank", "--ios", str(ipa)), "harbor-bank", "ios.bundle-id"
    )
    assert 'found CFBundleIdentifier = "org.prairiefcu.mobile"' in line
    assert "expected CFBundleIdentifier = com.harborandmain.banking" in line


def test_empty_purpose_string(project, tmp_path):
    info = project.info("harbor-bank")
    info[WHEN_IN_USE] = " \t"
    plist = art.write_binary_plist(tmp_path / "Info.plist", info)
    line = one_finding(
        project.verify("harbor-bank", "--ios", str(plist)), "harbor-bank", "ios.purpose-string"
    )
    assert f'found {WHEN_IN_USE} = " \\t"' in line


def test_privacy_manifest_missing_or_listing_location_against_the_flags(project, tmp_path):
    app = art.write_app(tmp_path / "a" / "Bank.app", project.info("harbor-bank"), None)
    line = one_finding(
        project.verify("harbor-bank", "--ios", str(app)), "harbor-bank", "ios.privacy-manifest"
    )
    assert "found no PrivacyInfo.xcprivacy in the app" in line

    location_privacy = project.privacy("harbor-bank")
    assert location_privacy is not None, "the ios set renders PrivacyInfo.xcprivacy"
    summit = art.write_app(tmp_path / "b" / "Bank.app", project.info("summit-cu"), location_privacy)
    line = one_finding(
        project.verify("summit-cu", "--ios", str(summit)), "summit-cu", "ios.privacy-manifest"
    )
    assert "found NSPrivacyCollectedDataTypePreciseLocation in PrivacyInfo.xcprivacy" in line


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Allow Summit to access your location.",
        "This app needs access to your location",
        "TODO: write the purpose string",
        "Lorem ipsum dolor sit amet",
        "${LOCATION_TEXT}",
        "Location",
    ],
)
def test_placeholder_and_generic_texts_are_refused(text):
    assert purpose_text_problem(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Prairie Federal uses your location to tell you about nearby branches and ATMs.",
        "Harbor & Main Bank uses your location while you use the app to show nearby offers.",
    ],
)
def test_specific_texts_pass(text):
    assert purpose_text_problem(text) is None


# -- the command's contract --------------------------------------------------------------------


def test_missing_artifact_is_exit_2_naming_the_path(project, tmp_path):
    missing = tmp_path / "nowhere" / "Bank.ipa"
    result = project.verify("harbor-bank", "--ios", str(missing))
    assert result.exit_code == 2
    assert (
        f"error: {missing}: missing: no such file or directory (client harbor-bank)\n"
        in result.output
    )


def test_unreadable_artifacts_are_exit_2(project, tmp_path):
    (tmp_path / "bad.ipa").write_bytes(b"not a zip")
    (tmp_path / "Info.plist").write_bytes(b"<plist><dict><key>x</key>")
    (tmp_path / "Empty.app").mkdir()
    for path, reason in (
        ("bad.ipa", "unreadable: not a readable .ipa (zip)"),
        ("Info.plist", "unreadable: Info.plist is not a readable property list"),
        ("Empty.app", "unreadable: no Info.plist in this app bundle"),
    ):
        result = project.verify("harbor-bank", "--ios", str(tmp_path / path))
        assert result.exit_code == 2, result.output
        assert f"error: {tmp_path / path}: {reason}" in result.output


def test_findings_and_missing_artifacts_are_all_reported(project, tmp_path):
    info = project.info("summit-cu")
    info[WHEN_IN_USE] = "Summit uses your location to show nearby branches."
    art.write_ipa(tmp_path / "summit-cu.ipa", info, project.privacy("summit-cu"))
    result = project.verify("--ios", f"{tmp_path}/{{client}}.ipa")
    assert result.exit_code == 2  # missing beats findings: the run could not check everything
    assert "summit-cu: " in result.output and "ios.forbidden-key" in result.output
    assert f"error: {tmp_path}/prairie-fcu.ipa: missing" in result.output
    assert f"error: {tmp_path}/harbor-bank.ipa: missing" in result.output
    assert (
        "verify: 1 finding(s) in 1 artifact(s) checked; 2 artifact(s) missing or unreadable"
        in result.output
    )


def test_usage_errors_are_exit_2(project, tmp_path):
    result = project.verify("harbor-bank")
    assert result.exit_code == 2
    assert "error: verify: give --ios PATH, --android PATH or both" in result.output
    result = project.verify("--ios", str(tmp_path / "Bank.ipa"))
    assert result.exit_code == 2
    assert f"--ios {tmp_path / 'Bank.ipa'} names one artifact for 3 clients" in result.output
    result = project.verify("nobody", "--ios", "x.ipa")
    assert result.exit_code == 2 and "unknown client nobody" in result.output


def test_a_client_missing_from_the_lockfile_is_exit_2(project, tmp_path):
    config = tmp_path / "nudge-build.toml"
    config.write_text(project.config.read_text() + '\n[clients.new-cu]\napi_key = "k"\n')
    result = cli(config, "verify", "new-cu", "--ios", "x.ipa")
    assert result.exit_code == 2
    assert "no organization recorded for client new-cu" in result.output


def test_one_artifact_path_for_two_clients_is_refused_for_either_platform(project):
    result = project.verify("prairie-fcu", "summit-cu", "--android", "x.apk")
    assert result.exit_code == 2
    assert result.output == (
        "error: verify: --android x.apk names one artifact for 2 clients: put {client} in the "
        "path, or name one client\n"
    )


def test_a_lockfile_without_a_clients_flags_is_exit_2_naming_them(project, tmp_path):
    # A lockfile written before a flag existed, or edited by hand: verify cannot guess the flags.
    config = tmp_path / "nudge-build.toml"
    config.write_text(project.config.read_text())
    lock = project.config.with_name("nudge-build.lock").read_text()
    flags = (
        "[clients.harbor-bank.flags]\nlocation = true\nbackground_location = false\npush = true\n"
    )
    assert flags in lock
    damaged = lock.replace(flags, "[clients.harbor-bank.flags]\nbackground_location = false\n")
    lockfile = tmp_path / "nudge-build.lock"
    lockfile.write_text(damaged)
    result = cli(config, "verify", "harbor-bank", "--ios", "x.ipa")
    assert result.exit_code == 2
    assert result.output == (
        f"error: {lockfile}: client harbor-bank has no recorded flag location, push; run "
        "`nudge-build fetch` to record its flags\n"
    )


def test_an_artifact_the_system_cannot_read_is_named_with_its_reason(project, tmp_path):
    # A folder where a file is expected: the OS's own words, in the JSON report as in the text.
    for name in ("Bank.apk", "AndroidManifest.xml"):
        path = tmp_path / name
        path.mkdir()
        result = project.verify("harbor-bank", "--android", str(path), "--json")
        assert result.exit_code == 2
        assert json.loads(result.stdout)["errors"] == [
            {
                "client": "harbor-bank",
                "platform": "android",
                "artifact": str(path),
                "message": "cannot read it: Is a directory",
            }
        ]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError("the device went away"), "the device went away"),  # no errno, no text
        (OSError(5, ""), "EIO"),  # an errno without the system's text: its symbolic name
    ],
)
def test_a_read_error_without_the_systems_text_is_still_named(
    project, tmp_path, monkeypatch, error, reason
):
    def failing_reader(path: Path) -> None:
        raise error

    monkeypatch.setattr("nudge_build.verify.run.read_android_artifact", failing_reader)
    path = tmp_path / "Bank.apk"
    result = project.verify("harbor-bank", "--android", str(path))
    assert result.exit_code == 2
    assert f"error: {path}: cannot read it: {reason} (client harbor-bank)\n" in result.output


def test_json_output(project, tmp_path):
    info = project.info("prairie-fcu")
    info["CFBundleIdentifier"] = "com.example.wrong"
    art.write_ipa(tmp_path / "prairie-fcu.ipa", info, project.privacy("prairie-fcu"))
    art.write_ipa(
        tmp_path / "harbor-bank.ipa", project.info("harbor-bank"), project.privacy("harbor-bank")
    )
    result = project.verify(
        "prairie-fcu", "harbor-bank", "--ios", f"{tmp_path}/{{client}}.ipa", "--json"
    )
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["ok"] is False and document["checked"] == 2 and document["errors"] == []
    assert document["findings"] == [
        {
            "client": "prairie-fcu",
            "platform": "ios",
            "artifact": f"{tmp_path}/prairie-fcu.ipa",
            "rule": "ios.bundle-id",
            "found": 'CFBundleIdentifier = "com.example.wrong"',
            "expected": (
                "CFBundleIdentifier = org.prairiefcu.mobile (the organization's apps.ios.bundleId)"
            ),
            "fix": (
                "build this client's target (PRODUCT_BUNDLE_IDENTIFIER), or correct the "
                "organization's bundle id"
            ),
        }
    ]


def test_github_mode_annotates_each_finding_and_escapes_artifact_text(project, tmp_path):
    hostile = "Uses location | [click](https://evil.example)\n::warning::owned %0A"
    info = project.info("summit-cu")
    info[WHEN_IN_USE] = hostile
    info["CFBundleIdentifier"] = "org.other"
    plist = art.write_binary_plist(tmp_path / "Info.plist", info)
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": ""}
    result = project.verify("summit-cu", "--ios", str(plist), env=env)
    assert result.exit_code == 1
    annotations = [line for line in result.output.splitlines() if line.startswith("::error")]
    assert len(annotations) == 2
    assert annotations[0].startswith(
        "::error title=nudge-build verify%3A summit-cu%3A ios.forbidden-key::"
    )
    assert "\n::warning::owned" not in result.output  # the newline stays escaped in every line
    assert "%250A" in annotations[0]  # the artifact's own "%0A" cannot decode into a newline
    # The finding lines are printed with workflow commands stopped.
    stop = next(line for line in result.output.splitlines() if line.startswith("::stop-commands::"))
    assert f"::{stop.split('::')[2]}::" in result.output
    markdown = summary.read_text()
    assert markdown.startswith("## nudge-build verify\n")
    assert "| client | artifact | rule | found | expected | fix |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| summit-cu")]
    assert len(rows) == 2
    assert "\\[click\\]\\(https\\://evil.example\\)" in rows[0] and " \\| " in rows[0]
    assert all(row.count(" | ") == 5 for row in rows)  # escaped pipes do not add cells


# -- the demo's stock outputs ------------------------------------------------------------------


def test_every_demo_clients_stock_outputs_assembled_into_artifacts_pass(tmp_path):
    demo = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(demo)], env={"GITHUB_ACTIONS": ""})
    assert result.exit_code == 0, result.output
    lock = tomllib.loads((demo / "nudge-build.lock").read_text())
    out = demo / "nudge"
    built = tmp_path / "built"
    for client, entry in lock["clients"].items():
        apps = entry["organization"].get("apps", {})
        bundle_id = apps.get("ios", {}).get("bundleId", "com.example.any")
        application_id = apps.get("android", {}).get("applicationId", "com.example.any")
        info = art.merged_info(out / client / "ios", bundle_id)
        privacy = art.privacy_manifest(out / client / "ios")
        art.write_binary_plist(built / client / "Info.plist", info)
        art.write_app(built / client / "Bank.app", info, privacy)
        art.write_ipa(built / client / "Bank.ipa", info, privacy)
        manifest = art.merged_manifest(out / client / "android", application_id, entry["flags"])
        (built / client / "AndroidManifest.xml").write_text(manifest)
        art.write_apk(built / client / "app.apk", manifest)
        art.write_aab(built / client / "app.aab", manifest)
    assert len(lock["clients"]) == 5
    config = demo / "nudge-build.toml"
    for ios, android in (
        ("Info.plist", "AndroidManifest.xml"),
        ("Bank.app", "app.apk"),
        ("Bank.ipa", "app.aab"),
    ):
        result = cli(
            config,
            "verify",
            "--ios",
            f"{built}/{{client}}/{ios}",
            "--android",
            f"{built}/{{client}}/{android}",
        )
        assert result.exit_code == 0, result.output
        assert result.output == "verified 10 artifact(s): all match their clients' flags\n"


# -- docs/verify.md and the benchmark ------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "verify.md").read_text()


def doc_table(heading_text: str) -> list[list[str]]:
    """The rows (cells, without their backticks) of the first table after ``heading_text``."""
    lines = DOC[DOC.index(heading_text) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_doc_lists_exactly_the_rules_verify_reports():
    documented = {row[0].strip("`") for row in doc_table("## Rules")}
    source = "".join(p.read_text() for p in (ROOT / "nudge_build" / "verify").glob("*.py"))
    emitted = set(re.findall(r'"((?:ios|android)\.[a-z-]+)"', source))
    assert documented == emitted


def test_doc_examples_of_refused_purpose_text_are_refused():
    rows = doc_table("### Placeholder and generic purpose text")
    assert len(rows) >= 10
    for kind, example in rows:
        text = example[1:-1]  # inside its backticks; the first is a space
        assert purpose_text_problem(text) is not None, (kind, text)


def test_doc_json_keys_and_attribute_ids_match_the_code():
    assert all(f'"{name}"' in DOC for name in Finding.__dataclass_fields__)
    assert all(f'"{name}"' in DOC for name in ArtifactError.__dataclass_fields__)
    for resource_id, name in ANDROID_ATTRIBUTE_IDS.items():
        assert f"`android:{name}` 0x{resource_id:08x}" in DOC.replace("\n  ", " ")
    assert "python bench/verify.py" in DOC and (ROOT / "bench" / "verify.py").is_file()


def test_bench_verifies_every_artifact_and_prints_its_figures():
    bench = ROOT / "bench" / "verify.py"
    debian_tool("aapt2", "aapt")  # the bench compiles .apk manifests with aapt2 when it can
    debian_file("/usr/share/android-framework-res/framework-res.apk", "android-framework-res")
    result = subprocess.run(
        [sys.executable, str(bench), "--artifacts", "30"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "verify: 30 artifacts (15 clients: .ipa + .apk (aapt2 binary XML))"
    assert lines[1].startswith("  CLI, start-up included: ") and lines[1].endswith("per artifact)")
    assert lines[2].startswith("  in-process check:       ")
    assert lines[3] == "target: 30 artifacts in under 10 s: PASS"
