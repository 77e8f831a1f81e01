"""`check` names the kind of each difference and the command that fixes it, and that command
does fix it: hand edit, organization changed, template changed, missing, stale."""

from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path

import pytest

from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env
from tests.test_github import github_env
from tests.test_write import make_project, out_dir, render

XCCONFIG = "prairie-fcu/ios/Nudge.xcconfig"


@pytest.fixture(scope="module")
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def drifts(config: Path, *args: str, env=None) -> list[dict]:
    result = cli(config, "check", "--json", *args, env=env)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["drifts"]


def files_of(found: list[dict]) -> set[tuple[str, str, str]]:
    """(path, cause, fix) of each file difference (lockfile entries left out)."""
    return {(d["path"], d["cause"], d["fix"]) for d in found if d["kind"] != "lock"}


def run_fix(config: Path, fix: str, env=None):
    """The fix exactly as check printed it."""
    argv = shlex.split(fix)
    assert argv[0] == "nudge-build"
    return cli(config, *argv[1:], env=env)


def test_a_hand_edit_is_named_so_and_fixed_by_build_force_not_by_build(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"))
    assert render(config).exit_code == 0
    edited = out_dir(config) / XCCONFIG
    edited.write_text(edited.read_text() + "// mine\n")

    found = drifts(config)
    assert files_of(found) == {(XCCONFIG, "hand-edit", "nudge-build build --force prairie-fcu")}
    assert all(d["kind"] == "changed" for d in found)  # the kind is kept as it was
    text = cli(config, "check")
    assert text.exit_code == 1
    lines = text.stdout.splitlines()
    assert lines[0] == (
        f"hand edit: {XCCONFIG} (client prairie-fcu); fix: `nudge-build build --force prairie-fcu`"
    )
    assert lines[-1] == "1 difference(s) (1 hand edit); to update: `nudge-build build --force`"
    assert "run `nudge-build build`" not in text.stdout

    refused = cli(config, "build", "prairie-fcu", env=project_env())
    assert refused.exit_code == 1  # build alone leaves a hand edit as it is
    assert edited.read_text().endswith("// mine\n")
    assert run_fix(config, found[0]["fix"], env=project_env()).exit_code == 0
    assert drifts(config) == []


def test_a_template_change_is_named_so_and_fixed_by_render(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu",), custom={"Note.txt.j2": "v1\n"})
    assert render(config).exit_code == 0
    (tmp_path / "tpl" / "custom" / "Note.txt.j2").write_text("v2\n")
    found = drifts(config)
    fix = "nudge-build render prairie-fcu"
    assert files_of(found) == {("prairie-fcu/custom/Note.txt", "template-changed", fix)}
    lock = next(d for d in found if d["kind"] == "lock")
    assert (lock["cause"], lock["fix"]) == ("template-changed", fix)
    assert f"template changed: prairie-fcu/custom/Note.txt (client prairie-fcu); fix: `{fix}`" in (
        cli(config, "check").stdout.splitlines()
    )
    assert run_fix(config, fix).exit_code == 0
    assert drifts(config) == []


def test_a_changed_organization_is_named_so_with_live_and_fixed_by_build(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"))
    assert render(config).exit_code == 0
    orgs = copy.deepcopy(SAMPLE_ORGS)
    orgs[0]["features"]["backgroundLocation"] = False  # prairie-fcu, changed in the portal
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as moved:
        env = project_env(NUDGE_API_URL=moved.base_url)
        found = drifts(config, "--live", env=env)
        assert found, "the organization change was not seen"
        assert {d["client"] for d in found} == {"prairie-fcu"}
        assert {(d["cause"], d["fix"]) for d in found} == {
            ("organization-changed", "nudge-build build prairie-fcu")
        }
        lock = next(d for d in found if d["kind"] == "lock")
        assert lock["detail"].startswith("organization changed")
        assert drifts(config) == []  # without --live the lockfile's organization is used
        assert run_fix(config, found[0]["fix"], env=env).exit_code == 0
        assert drifts(config, "--live", env=env) == []


def test_missing_and_stale_files_are_named_so_and_fixed_by_render(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu",), stock=("ios", "android"))
    assert render(config).exit_code == 0
    out = out_dir(config)
    (out / XCCONFIG).unlink()
    make_project(tmp_path, api, clients=("prairie-fcu",), stock=("ios",))  # android dropped
    found = drifts(config)
    stale = {p for p, cause, _ in files_of(found) if cause == "stale"}
    assert stale and all(p.startswith("prairie-fcu/android/") for p in stale)
    assert files_of(found) == {
        (XCCONFIG, "missing", "nudge-build render prairie-fcu"),
        *{(p, "stale", "nudge-build render prairie-fcu") for p in stale},
    }
    lines = cli(config, "check").stdout.splitlines()
    assert f"missing: {XCCONFIG} (client prairie-fcu); fix: `nudge-build render prairie-fcu`" in (
        lines
    )
    assert lines[-1].endswith("; to update: `nudge-build render`")
    assert run_fix(config, "nudge-build render prairie-fcu").exit_code == 0
    assert drifts(config) == []
    assert not (out / "prairie-fcu" / "android").exists()


def test_the_github_summary_has_the_kind_and_the_fix_of_each_difference(tmp_path, api, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the step's working directory: paths are shown from there
    config = make_project(tmp_path, api, clients=("prairie-fcu",))
    assert render(config).exit_code == 0
    (out_dir(config) / XCCONFIG).write_text("by hand\n")
    env = github_env(tmp_path)
    assert cli(config, "check", env=env).exit_code == 1
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert "| client | what | path | fix |" in summary
    assert (
        f"| `prairie-fcu` | hand edit | `nudge/{XCCONFIG}` "
        "| `nudge-build build --force prairie-fcu` |"
    ) in summary
    assert "1 difference(s) (1 hand edit); to update: `nudge-build build --force`" in summary
