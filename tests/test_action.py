"""The GitHub Action: linted like a well-kept action, and run step by step as the runner would.

The linters (check-jsonschema with the vendored GitHub schemas, zizmor, actionlint, shellcheck)
come from the ``test`` extra and run with every proxy pointed at a closed port, so a test that
passes here passed offline. ``run_action`` executes ``action.yml``'s composite steps the way the
runner does: each ``run:`` script in ``bash --noprofile --norc -eo pipefail``, its ``env:``
values expanded from the inputs and earlier steps' outputs, a fresh ``$GITHUB_OUTPUT`` per
step, and the action's outputs read back through its ``outputs:`` expressions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, project_env, write_project
from tests.test_github import outputs_of, workflow_commands

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\Z")
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
OFFLINE |= {"ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def tool(name: str) -> str:
    """A linter from the test extra: beside this interpreter, or on PATH."""
    here = str(Path(sys.executable).parent)
    found = shutil.which(name, path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail(f"{name} is not installed: pip install '.[test]'")
    return found


def run_tool(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **OFFLINE, "NO_COLOR": "1"}
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def steps_of(document: dict) -> list[dict]:
    if "runs" in document:
        return document["runs"]["steps"]
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


# -- linters ----------------------------------------------------------------------------------


def test_action_validates_against_the_github_actions_schema():
    result = run_tool(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_validate_against_the_github_workflows_schema():
    assert WORKFLOWS, "no workflows found"
    paths = [str(p.relative_to(ROOT)) for p in WORKFLOWS]
    result = run_tool(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *paths
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_action_or_the_workflows():
    result = run_tool(tool("zizmor"), "--offline", "action.yml", ".github/workflows")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_actionlint_passes_the_workflows_with_shellcheck():
    paths = [str(p.relative_to(ROOT)) for p in WORKFLOWS]
    result = run_tool(tool("actionlint"), f"-shellcheck={tool('shellcheck')}", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_action_scripts_pass_shellcheck(tmp_path):
    # actionlint reads workflows only; the composite action's scripts are checked here.
    for step in steps_of(load(ACTION)):
        if "run" in step:
            script = tmp_path / f"{step['id']}.sh"
            script.write_text(step["run"])
            result = run_tool(tool("shellcheck"), "--shell=bash", str(script))
            assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_no_expression_inside_a_script_and_every_action_pinned(path):
    for step in steps_of(load(path)):
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: an expression in run:"
    # The pin and its version comment live on one line, which yaml drops: read the text.
    for line in path.read_text(encoding="utf-8").splitlines():
        uses = line.strip().removeprefix("- ").removeprefix("uses: ")
        if line.strip().removeprefix("- ").startswith("uses: ") and not uses.startswith("./"):
            assert PINNED.match(uses), f"not pinned to a commit with its version: {uses}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_nothing_by_default_and_never_persist_credentials(path):
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job.get("permissions") == {"contents": "read"}, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_the_action_can_be_listed_on_the_marketplace():
    action = load(ACTION)
    assert len(action["description"]) < 125  # the Marketplace refuses longer ones
    assert action["branding"]["icon"] and action["branding"]["color"]
    for kind in ("inputs", "outputs"):
        for name, spec in action[kind].items():
            assert spec.get("description"), f"{kind[:-1]} {name} has no description"


def test_every_input_reaches_the_script_through_env():
    action = load(ACTION)
    run = next(step for step in action["runs"]["steps"] if step.get("id") == "run")
    passed = {EXPRESSION.fullmatch(value).group(1) for value in run["env"].values()}
    assert {f"inputs.{name}" for name in action["inputs"]} - {"inputs.python-version"} <= passed
    assert "client-secret" in action["inputs"] and "NUDGE_INPUT_CLIENT_SECRET" in run["env"]


# -- the composite action, run as the runner would --------------------------------------------


@dataclass
class ActionRun:
    returncode: int
    log: str
    outputs: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    summary: str = ""


def expand(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    """``${{ inputs.x }}`` and ``${{ steps.id.outputs.x }}``, the only expressions we use."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        assert step, f"expression this emulation does not know: {expression}"
        return steps.get(step.group(1), {}).get(step.group(2), "")

    return EXPRESSION.sub(value, text)


def run_action(
    tmp_path: Path, workspace: Path, inputs: dict[str, str], job_env: dict[str, str]
) -> ActionRun:
    action = load(ACTION)
    unknown = set(inputs) - set(action["inputs"])
    assert not unknown, f"the action has no input {unknown}"
    values = {
        n: str(inputs.get(n, spec.get("default", ""))) for n, spec in action["inputs"].items()
    }
    # The package is installed in this interpreter already (the install step's pip would need
    # the network); a shim in front of it records the command line the action builds.
    argv_file = tmp_path / "argv"
    argv_file.unlink(missing_ok=True)
    shim = tmp_path / "python-shim"
    shim.write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\0" "$@" > "{argv_file}"\nexec "{sys.executable}" "$@"\n'
    )
    shim.chmod(0o755)
    steps: dict[str, dict[str, str]] = {}
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    log = []
    summary = tmp_path / "summary"
    summary.write_text("")
    for number, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@")
            steps[step["id"]] = {"python-path": sys.executable}
            continue
        if step["id"] == "install":
            steps["install"] = {"python": str(shim)}
            continue
        output = tmp_path / f"output-{number}"
        output.write_text("")
        env = {name: expand(str(v), values, steps) for name, v in step.get("env", {}).items()}
        runner = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(tmp_path),
        }
        script = tmp_path / f"step-{number}.sh"
        script.write_text(step["run"])
        result = subprocess.run(
            [step["shell"], "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env={**base, **job_env, **env, **runner},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
        )
        log.append(result.stdout)
        steps[step["id"]] = outputs_of(output)
        if result.returncode != 0:
            # A failed step's outputs still reach the action's (for `if: failure()` steps).
            outputs = {n: expand(o["value"], values, steps) for n, o in action["outputs"].items()}
            return ActionRun(result.returncode, "".join(log), outputs, summary=summary.read_text())
    outputs = {n: expand(spec["value"], values, steps) for n, spec in action["outputs"].items()}
    argv = argv_file.read_text().split("\0")[:-1] if argv_file.exists() else []
    return ActionRun(0, "".join(log), outputs, argv, summary.read_text())


@pytest.fixture
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def workspace(tmp_path):
    """A checked-out repository with the project in project/; its config names a dead URL,
    so only the api-url input can make a build reach the sandbox."""
    root = tmp_path / "workspace"
    (root / "project").mkdir(parents=True)
    write_project(root / "project", "http://127.0.0.1:9")
    return root


def keys_only() -> dict[str, str]:
    env = project_env()
    del env["NUDGE_CLIENT_ID"], env["NUDGE_CLIENT_SECRET"]
    return env


def test_the_action_builds_checks_and_fans_out_against_the_sandbox(tmp_path, workspace, api):
    common = {"working-directory": "project", "api-url": api.base_url}
    build = run_action(
        tmp_path,
        workspace,
        {**common, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET},
        keys_only(),
    )
    assert build.returncode == 0, build.log
    assert build.argv == ["-m", "nudge_build", "build"]  # the secret is never an argument
    assert build.outputs["changed"] == "true"
    flags = json.loads(build.outputs["flags"])
    assert sorted(flags) == sorted(SAMPLE_KEYS)
    assert flags["prairie-fcu"] == {"location": True, "background_location": True, "push": True}
    files = build.outputs["files"].splitlines()
    assert "nudge/prairie-fcu/ios/NudgeInfo.plist" in files
    assert files[-1] == "nudge-build.lock"
    assert all((workspace / "project" / f).is_file() for f in files)
    assert build.outputs["matrix"] == ""
    assert "| `summit-cu` | — | — | ✅ |" in build.summary
    shown = [line for line in build.log.splitlines() if CLIENT_SECRET in line]
    assert shown == [f"::add-mask::{CLIENT_SECRET}"]  # masked, and printed nowhere else
    assert CLIENT_SECRET not in build.summary

    check = run_action(tmp_path, workspace, {**common, "command": "check"}, keys_only())
    assert check.returncode == 0, check.log
    assert (check.outputs["changed"], check.outputs["files"]) == ("false", "")

    plan = run_action(
        tmp_path,
        workspace,
        {"working-directory": "project", "command": "matrix", "shards": "3"},
        {},
    )
    assert plan.returncode == 0, plan.log
    assert plan.argv == ["-m", "nudge_build", "matrix", "--shards", "3"]
    include = json.loads(plan.outputs["matrix"])["include"]
    assert sorted(c for entry in include for c in entry["clients"].split()) == sorted(SAMPLE_KEYS)

    # One job of the fan-out, in a fresh checkout, its secret from the job's env: this time.
    fresh = tmp_path / "fresh"
    (fresh / "project").mkdir(parents=True)
    write_project(fresh / "project", "http://127.0.0.1:9")
    entry = include[0]
    shard = run_action(tmp_path, fresh, {**common, "shard": entry["shard"]}, project_env())
    assert shard.returncode == 0, shard.log
    assert shard.argv == ["-m", "nudge_build", "build", "--shard", entry["shard"]]
    assert shard.outputs["clients"].split() == entry["clients"].split()
    built = sorted(p.name for p in (fresh / "project" / "nudge").iterdir())
    assert built == sorted(entry["clients"].split())


def test_inputs_become_options_and_client_ids(tmp_path, workspace, api):
    inputs = {
        "working-directory": "project",
        "api-url": api.base_url,
        "config": "nudge-build.toml",
        "clients": "prairie-fcu\n  summit-cu\tharbor-bank\n",
        "dry-run": "true",
    }
    run = run_action(tmp_path, workspace, inputs, project_env())
    assert run.returncode == 0, run.log
    assert run.argv == [
        "-m",
        "nudge_build",
        "--config",
        "nudge-build.toml",
        "build",
        "--dry-run",
        "--",
        "prairie-fcu",
        "summit-cu",
        "harbor-bank",
    ]
    assert run.outputs["clients"] == "prairie-fcu harbor-bank summit-cu"
    assert run.outputs["changed"] == "true"  # would change
    assert not (workspace / "project" / "nudge").exists()


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"command": "deploy"},
            "input command: expected build, check, render, matrix, verify or review, got 'deploy'",
        ),
        ({"offline": "yes"}, "input offline: expected true or false, got 'yes'"),
        ({"command": "check", "dry-run": "true"}, "input dry-run does not apply to command check"),
        ({"live": "true"}, "input live does not apply to command build (only to: check)"),
        ({"shards": "3"}, "input shards does not apply to command build (only to: matrix)"),
        ({"command": "matrix"}, "command matrix needs the input shards or per-job"),
        ({"command": "matrix", "shards": "2", "per-job": "3"}, "give only one of the inputs"),
        ({"command": "matrix", "per-job": "0"}, "input per-job: expected a whole number >= 1"),
        ({"command": "matrix", "shard": "1/2", "shards": "2"}, "input shard does not apply"),
        ({"working-directory": "nowhere"}, "input working-directory: cannot change to 'nowhere'"),
        (
            {"command": "x\n::set-output name=evil::1\r\n100%"},
            "input command: expected build, check, render, matrix, verify or review, got "
            "'x%0A::set-output name=evil::1%0D%0A100%25'",
        ),
    ],
)
def test_bad_inputs_fail_with_one_clear_error(tmp_path, workspace, inputs, message):
    run = run_action(tmp_path, workspace, inputs, {})
    assert run.returncode == 2, run.log
    commands = workflow_commands(run.log)
    assert len(commands) == 1, commands  # the hostile input did not add a command
    name, properties, data = commands[0]
    assert (name, properties) == ("error", "title=nudge-build")
    assert data.startswith(message)
    assert not (tmp_path / "argv").exists()  # nudge-build never started


def test_a_cli_error_fails_the_step_with_its_exit_code_and_an_annotation(tmp_path, workspace):
    run = run_action(tmp_path, workspace, {"working-directory": "project", "shard": "4/3"}, {})
    assert run.returncode == 2
    assert ("error", "", "--shard '4/3': expected 1 <= I <= N") in workflow_commands(run.log)


# -- api-keys, verify, review -----------------------------------------------------------------


def test_api_keys_one_secret_for_every_client_each_key_masked_never_an_argument(
    tmp_path, workspace, api
):
    config = workspace / "project" / "nudge-build.toml"
    config.write_text(re.sub(r'api_key_env = "\w+"\n', "", config.read_text()))  # map only
    inputs = {
        "working-directory": "project",
        "api-url": api.base_url,
        "client-id": CLIENT_ID,
        "client-secret": CLIENT_SECRET,
        "api-keys": json.dumps(SAMPLE_KEYS),
    }
    build = run_action(tmp_path, workspace, inputs, {})
    assert build.returncode == 0, build.log
    assert build.argv == ["-m", "nudge_build", "build"]
    assert sorted(json.loads(build.outputs["flags"])) == sorted(SAMPLE_KEYS)
    log = build.log.splitlines()
    first_other = next(i for i, line in enumerate(log) if not line.startswith("::add-mask::"))
    for key in SAMPLE_KEYS.values():
        assert [line for line in log if key in line] == [f"::add-mask::{key}"]
        assert log.index(f"::add-mask::{key}") < first_other
        assert key not in build.summary
        assert all(key not in value for value in build.outputs.values())


def test_verify_sets_the_findings_output_and_a_summary(tmp_path, workspace, api):
    from tests import verify_artifacts as art

    common = {"working-directory": "project", "api-url": api.base_url}
    built = run_action(tmp_path, workspace, common, project_env())
    assert built.returncode == 0, built.log
    ios = workspace / "project" / "nudge" / "prairie-fcu" / "ios"
    info = art.merged_info(ios, art.APP_IDS["prairie-fcu"])
    art.write_binary_plist(workspace / "project" / "good" / "Info.plist", info)
    bad = art.write_binary_plist(
        workspace / "project" / "bad" / "Info.plist", {**info, "CFBundleIdentifier": "org.other"}
    )
    verify = {"working-directory": "project", "command": "verify", "clients": "prairie-fcu"}
    passed = run_action(tmp_path, workspace, {**verify, "ios": "good/Info.plist"}, {})
    assert passed.returncode == 0, passed.log
    assert passed.argv == [
        "-m", "nudge_build", "verify", "--ios", "good/Info.plist", "--", "prairie-fcu"
    ]  # fmt: skip
    assert passed.outputs["findings"] == "0"
    assert "## nudge-build verify" in passed.summary

    failed = run_action(tmp_path, workspace, {**verify, "ios": "bad/Info.plist"}, {})
    assert failed.returncode == 1, failed.log
    assert int(failed.outputs["findings"]) >= 1
    assert "## nudge-build verify" in failed.summary
    assert bad.is_file()


def test_review_writes_each_kit_to_review_dir_and_lists_them(tmp_path, workspace, api):
    common = {"working-directory": "project", "api-url": api.base_url}
    assert run_action(tmp_path, workspace, common, project_env()).returncode == 0
    inputs = {"working-directory": "project", "command": "review", "review-dir": "kits"}
    run = run_action(tmp_path, workspace, inputs, {})
    assert run.returncode == 0, run.log
    assert run.argv == ["-m", "nudge_build", "review", "--out", "kits"]
    assert run.outputs["files"].splitlines() == [f"kits/{client}.md" for client in SAMPLE_KEYS]
    assert run.outputs["clients"].split() == list(SAMPLE_KEYS)
    assert all((workspace / "project" / f).is_file() for f in run.outputs["files"].splitlines())
    assert "## nudge-build review" in run.summary
    assert "- `kits/prairie-fcu.md`" in run.summary


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"ios": "App.ipa"}, "input ios does not apply to command build (only to: verify)"),
        (
            {"command": "check", "review-dir": "k"},
            "input review-dir does not apply to command check",
        ),
        ({"command": "review", "shard": "1/2"}, "input shard does not apply to command review"),
    ],
)
def test_inputs_of_verify_and_review_apply_to_them_only(tmp_path, workspace, inputs, message):
    run = run_action(tmp_path, workspace, {"working-directory": "project", **inputs}, {})
    assert run.returncode == 2
    assert [c[2] for c in workflow_commands(run.log) if c[0] == "error"][0].startswith(message)


def test_a_config_error_still_writes_the_summary_saying_what_failed(tmp_path, workspace):
    (workspace / "project" / "nudge-build.toml").write_text("[api]\ntimeout = = 3\n")
    run = run_action(tmp_path, workspace, {"working-directory": "project"}, {})
    assert run.returncode == 2
    errors = [c for c in workflow_commands(run.log) if c[0] == "error"]
    assert len(errors) == 1  # one failure, one line
    assert "## nudge-build build" in run.summary
    assert "**Failed** (exit 2):" in run.summary and "invalid TOML" in run.summary


def test_the_ci_docs_list_every_input_and_output_of_the_action():
    action = load(ACTION)
    docs = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    for kind in ("inputs", "outputs"):
        for name in action[kind]:
            assert f"| `{name}` |" in docs, f"{kind[:-1]} {name} is not in docs/ci.md"
