"""`check`: renders in memory and compares with the disk and the lockfile; never writes."""

from __future__ import annotations

import copy
import json

import pytest

from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, mtimes, project_env, tree
from tests.test_write import make_project, out_dir, render

LOCK = "nudge-build.lock"


@pytest.fixture(scope="module")
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def check_json(config, *args, env=None):
    result = cli(config, "check", "--json", *args, env=env)
    return result, json.loads(result.stdout)


def test_check_json_when_everything_is_current(tmp_path, api):
    config = make_project(tmp_path, api)
    assert render(config).exit_code == 0
    result, data = check_json(config)
    assert result.exit_code == 0, result.output
    assert data == {
        "current": True,
        "drifts": [],
        "failures": [],
        "flag_changes": [],
        "warnings": [],
    }
    text = cli(config, "check")
    assert (text.exit_code, text.stdout) == (0, "up to date\n")


def test_check_reports_every_kind_of_drift_and_writes_nothing(tmp_path, api):
    clients = ("prairie-fcu", "harbor-bank", "summit-cu", "ridgeline-trust")
    templates = {"Top.txt.j2": "top\n", "Extra.txt.j2": "extra\n"}
    config = make_project(tmp_path, api, clients=clients, custom=templates)
    assert render(config).exit_code == 0
    out = out_dir(config)
    xcconfig = out / "prairie-fcu" / "ios" / "Nudge.xcconfig"
    xcconfig.write_text(xcconfig.read_text().replace("nudgeGeo", "nudgeStandard"))  # by hand
    (out / "harbor-bank" / "android" / "nudge.properties").unlink()
    # The config moves on: a template goes, a flag is overridden, a client leaves.
    make_project(
        tmp_path,
        api,
        clients=("prairie-fcu", "harbor-bank", "summit-cu"),
        custom={"Top.txt.j2": "top\n"},
        extra="[clients.summit-cu.flags]\nlocation = true\n",
    )
    before, times = tree(tmp_path), mtimes(tmp_path)

    result, data = check_json(config)

    assert result.exit_code == 1, result.output
    assert data["current"] is False and data["failures"] == []
    keys = {"client", "kind", "path", "detail", "cause", "fix"}
    assert all(set(d) == keys for d in data["drifts"])
    causes = {(d["path"], d["cause"], d["fix"]) for d in data["drifts"] if d["kind"] != "lock"}
    assert (
        "prairie-fcu/ios/Nudge.xcconfig",
        "hand-edit",
        "nudge-build build --force prairie-fcu",
    ) in causes
    assert (
        "summit-cu/ios/Nudge.xcconfig",
        "template-changed",
        "nudge-build render summit-cu",
    ) in causes
    found = {(d["client"], d["kind"], d["path"]) for d in data["drifts"]}
    summit_changed = {
        ("summit-cu", "changed", f"summit-cu/{path}")
        for path in (
            "android/AndroidManifest.xml",
            "android/nudge.properties",
            "ios/Nudge.xcconfig",
            "ios/NudgeInfo.plist",
            "ios/PrivacyInfo.xcprivacy",
        )
    }
    assert found == {
        ("prairie-fcu", "changed", "prairie-fcu/ios/Nudge.xcconfig"),
        ("harbor-bank", "missing", "harbor-bank/android/nudge.properties"),
        *summit_changed,
        *{(c, "stale", f"{c}/custom/Extra.txt") for c in clients[:3]},
        *{(c, "lock", LOCK) for c in clients},
        *{("ridgeline-trust", "stale", p) for p in tree(out) if p.startswith("ridgeline-trust/")},
    }
    lock_details = {d["client"]: d["detail"] for d in data["drifts"] if d["kind"] == "lock"}
    assert lock_details == {
        "prairie-fcu": "file list or digests changed",
        "harbor-bank": "file list or digests changed",
        "summit-cu": "flags changed, file list or digests changed",
        "ridgeline-trust": "client no longer configured",
    }
    diff = next(d["detail"] for d in data["drifts"] if d["kind"] == "changed")
    assert diff.startswith("--- a/prairie-fcu/ios/Nudge.xcconfig\n+++ b/prairie-fcu/ios/")
    assert "\n-NUDGE_VERSION = nudgeStandard\n+NUDGE_VERSION = nudgeGeo\n" in diff

    text = cli(config, "check")
    assert text.exit_code == 1
    lines = text.stdout.splitlines()
    assert "--- a/summit-cu/ios/NudgeInfo.plist" in lines
    assert (
        "missing: harbor-bank/android/nudge.properties (client harbor-bank); "
        "fix: `nudge-build render harbor-bank`"
    ) in lines
    assert (
        "stale: summit-cu/custom/Extra.txt (client summit-cu); fix: `nudge-build render summit-cu`"
        in lines
    )
    assert (
        "stale: ridgeline-trust/ios/NudgeInfo.plist (client ridgeline-trust); "
        "fix: `nudge-build render`"
    ) in lines
    assert (
        "lockfile out of date for client summit-cu: flags changed, file list or digests changed; "
        "fix: `nudge-build render summit-cu`"
    ) in lines
    summary = next(line for line in lines if line.startswith(f"{len(data['drifts'])} diff"))
    assert summary.startswith(f"{len(data['drifts'])} difference(s) (1 hand edit, ")
    assert summary.endswith("; to update: `nudge-build build --force`, `nudge-build render`")
    assert "run `nudge-build build`" not in text.stdout  # it would refuse the hand edit
    assert tree(tmp_path) == before and mtimes(tmp_path) == times

    assert render(config, "--force").exit_code == 0
    assert check_json(config)[1]["current"] is True


def test_a_changed_flag_source_alone_is_lockfile_drift(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu",))
    assert render(config).exit_code == 0
    # prairie-fcu derives location = true; the override says the same: same files, new source.
    make_project(
        tmp_path,
        api,
        clients=("prairie-fcu",),
        extra="[clients.prairie-fcu.flags]\nlocation = true\n",
    )
    result, data = check_json(config)
    assert result.exit_code == 1
    assert data["drifts"] == [
        {
            "client": "prairie-fcu",
            "kind": "lock",
            "path": LOCK,
            "detail": "flags changed",
            "cause": "template-changed",
            "fix": "nudge-build render prairie-fcu",
        }
    ]
    rendered = render(config)
    assert "wrote 0 new and 0 changed files, 6 unchanged" in rendered.stdout
    assert check_json(config)[0].exit_code == 0


def test_check_names_only_the_clients_asked_for(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"))
    assert render(config).exit_code == 0
    (out_dir(config) / "prairie-fcu" / "ios" / "Nudge.xcconfig").write_text("by hand\n")
    assert check_json(config, "harbor-bank")[0].exit_code == 0
    result, data = check_json(config, "prairie-fcu")
    assert result.exit_code == 1
    assert {d["client"] for d in data["drifts"]} == {"prairie-fcu"}


def test_check_live_compares_with_the_organization_fetched_now(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"))
    assert render(config).exit_code == 0
    orgs = copy.deepcopy(SAMPLE_ORGS)
    orgs[0]["features"]["backgroundLocation"] = False  # prairie-fcu, changed in the portal
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        env = project_env(NUDGE_API_URL=moved.base_url)
        result, data = check_json(config, "--live", env=env)
    assert result.exit_code == 1, result.output
    assert {(d["client"], d["kind"]) for d in data["drifts"]} >= {
        ("prairie-fcu", "changed"),
        ("prairie-fcu", "lock"),
    }
    assert "harbor-bank" not in {d["client"] for d in data["drifts"]}
    lock = next(d for d in data["drifts"] if d["kind"] == "lock")
    assert lock["detail"].startswith("organization changed, flags changed")
    assert check_json(config)[0].exit_code == 0  # the lockfile still matches the disk
