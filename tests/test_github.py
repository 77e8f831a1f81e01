"""GitHub mode (GITHUB_ACTIONS=true): masks, step outputs, job summary, annotations, groups.

The runner's side is emulated here from its documented behaviour: ``parse_output_file`` reads
``$GITHUB_OUTPUT`` the way the runner's file-command parser does, and ``workflow_commands``
picks the commands out of a log the way the runner would act on them (leading white space
trimmed, ``::stop-commands::`` honoured).
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nudge_build import github
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SAMPLE_KEYS,
    cli,
    project_env,
    tree,
    write_project,
)

# -- the runner, emulated ---------------------------------------------------------------------


def _read_line(text: str, index: int) -> tuple[str | None, int, str | None]:
    """The runner's ReadLine: the next line, the index after it, and its newline (or None)."""
    if index >= len(text):
        return None, index, None
    end = text.find("\n", index)
    if end < 0:
        return text[index:], len(text), None
    if end > index and text[end - 1] == "\r":
        return text[index : end - 1], end + 1, "\r\n"
    return text[index:end], end + 1, "\n"


def parse_output_file(text: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` and ``NAME<<DELIMITER`` entries, in order, as the runner reads them."""
    entries = []
    line, index, _ = _read_line(text, 0)
    while line is not None:
        if line:
            equals, heredoc = line.find("="), line.find("<<")
            if equals >= 0 and (heredoc < 0 or equals < heredoc):
                entries.append((line[:equals], line[equals + 1 :]))
            elif heredoc >= 0:
                name, delimiter = line.split("<<", 1)
                start = end = index
                value_line, index, newline = _read_line(text, index)
                while value_line != delimiter:
                    if value_line is None:
                        raise AssertionError(f"matching delimiter not found: {delimiter!r}")
                    if newline is None:
                        raise AssertionError("EOF marker missing new line")
                    end = index - len(newline)
                    value_line, index, newline = _read_line(text, index)
                entries.append((name, text[start:end] if end > start else ""))
            else:
                raise AssertionError(f"invalid format {line!r}")
        line, index, _ = _read_line(text, index)
    return entries


def read_exactly(path: Path) -> str:
    """The file's text with its newlines as written (the runner does not translate them)."""
    return path.read_bytes().decode("utf-8")


def outputs_of(path: Path) -> dict[str, str]:
    entries = parse_output_file(read_exactly(path))
    names = [name for name, _ in entries]
    assert len(names) == len(set(names)), f"an output was set twice: {names}"
    return dict(entries)


_COMMAND = re.compile(r"::([A-Za-z][A-Za-z0-9-]*)(?: ([^:]*))?::(.*)\Z")


def workflow_commands(log: str) -> list[tuple[str, str, str]]:
    """(command, properties, data) for every line the runner would act on."""
    commands = []
    stop_token = None
    for raw in log.splitlines():
        line = raw.lstrip()
        if stop_token is not None:
            if raw == f"::{stop_token}::":
                stop_token = None
            continue
        match = _COMMAND.match(line)
        if match is None:
            continue
        name, properties, data = match.group(1), match.group(2) or "", match.group(3)
        if name == "stop-commands":
            stop_token = data
        commands.append((name, properties, data))
    return commands


def unescape_data(data: str) -> str:
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def github_env(tmp_path: Path) -> dict[str, str]:
    """What the runner sets for a step; the files start empty, as the runner makes them."""
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output.write_text("")
    summary.write_text("")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(tmp_path),
    }


def run_cli_process(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The CLI as its own process, stdout and stderr in one pipe so their order is kept."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "NUDGE_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "nudge_build", *args],
        cwd=cwd,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )


EXPECTED_FLAGS = {
    "prairie-fcu": {"location": True, "background_location": True, "push": True},
    "harbor-bank": {"location": True, "background_location": False, "push": True},
    "summit-cu": {"location": False, "background_location": False, "push": True},
    "lakeside-savings": {"location": False, "background_location": False, "push": True},
    "ridgeline-trust": {"location": True, "background_location": True, "push": True},
}


# -- build ------------------------------------------------------------------------------------


def test_build_sets_outputs_writes_summary_and_masks_the_token_first(tmp_path, api):
    write_project(tmp_path, api.base_url)
    env = {**project_env(), **github_env(tmp_path)}
    result = run_cli_process(tmp_path, "build", env=env)
    assert result.returncode == 0, result.stdout
    log = result.stdout.splitlines()

    # The one token of the run, as the sandbox issued it.
    tokens = list(api._state.tokens)  # the sandbox's record of what it issued
    assert len(tokens) == 1 and api.stats.tokens_issued == 1
    token = tokens[0]
    masks = [i for i, line in enumerate(log) if line.startswith("::add-mask::")]
    assert {log[i] for i in masks} >= {f"::add-mask::{token}", f"::add-mask::{CLIENT_SECRET}"}
    token_mask = log.index(f"::add-mask::{token}")
    # Nothing but masks comes before it: no line of the run could show the token unmasked.
    assert all(line.startswith("::add-mask::") for line in log[:token_mask])
    assert log.index(f"::add-mask::{CLIENT_SECRET}") < token_mask
    # ... and it is printed nowhere else, in the log or in the files the runner reads.
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    output = Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")
    for secret_value in (token, CLIENT_SECRET):
        assert [line for line in log if secret_value in line] == [f"::add-mask::{secret_value}"]
        assert secret_value not in summary and secret_value not in output

    outputs = outputs_of(Path(env["GITHUB_OUTPUT"]))
    assert set(outputs) == {"flags", "changed", "files", "clients"}
    assert json.loads(outputs["flags"]) == EXPECTED_FLAGS
    assert outputs["changed"] == "true"
    assert outputs["clients"] == " ".join(SAMPLE_KEYS)
    files = outputs["files"].split("\n")
    written = sorted(f"nudge/{path}" for path in tree(tmp_path / "nudge"))
    assert files == [*written, "nudge-build.lock"]  # relative to where the step ran

    assert "## nudge-build build" in summary
    assert "5 of 5 clients built." in summary
    assert "| client | `location` | `background_location` | `push` |" in summary
    assert "| `prairie-fcu` | ✅ | ✅ | ✅ |" in summary
    assert "| `harbor-bank` | ✅ | — | ✅ |" in summary
    assert "| `lakeside-savings` | — | — | ✅ |" in summary
    assert f"**Files changed: {len(files)}**" in summary
    assert "- `nudge/prairie-fcu/ios/NudgeInfo.plist`" in summary

    # One folded group per client, each closed before the next opens.
    commands = workflow_commands(result.stdout)
    groups = [(name, data) for name, _, data in commands if name in ("group", "endgroup")]
    per_client = {c: len(tree(tmp_path / "nudge" / c)) for c in SAMPLE_KEYS}
    assert [data for name, data in groups if name == "group"] == [
        f"{client}: {count} files, {count} changed" for client, count in per_client.items()
    ]
    assert [name for name, _ in groups] == ["group", "endgroup"] * len(SAMPLE_KEYS)
    assert {name for name, _, _ in commands} == {"add-mask", "group", "endgroup"}


def test_a_second_build_reports_no_change(tmp_path, api):
    config = write_project(tmp_path, api.base_url)
    assert cli(config, "build", env=project_env()).exit_code == 0
    env = github_env(tmp_path)
    result = cli(config, "build", "--offline", env=env)
    assert result.exit_code == 0, result.output
    outputs = outputs_of(Path(env["GITHUB_OUTPUT"]))
    assert outputs["changed"] == "false"
    assert outputs["files"] == ""
    assert "**Files changed: 0**" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_failed_clients_are_annotated_and_listed_in_the_summary(tmp_path, api):
    api.script("sbx-harbor-bank", [{"kind": "status", "status": 404}])
    config = write_project(tmp_path, api.base_url)
    env = {**project_env(), **github_env(tmp_path)}
    result = cli(config, "build", env=env)
    assert result.exit_code == 3
    errors = [c for c in workflow_commands(result.stdout) if c[0] == "error"]
    assert len(errors) == 1
    assert errors[0][1] == "title=client harbor-bank"
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "**Failed clients: 1**" in summary
    assert "- `harbor-bank`: " in summary
    assert "4 of 5 clients built." in summary
    flags = json.loads(outputs_of(Path(env["GITHUB_OUTPUT"]))["flags"])
    assert sorted(flags) == sorted(set(SAMPLE_KEYS) - {"harbor-bank"})


def test_outside_github_nothing_github_is_printed_or_written(tmp_path, api):
    config = write_project(tmp_path, api.base_url)
    env = {**project_env(), **github_env(tmp_path), "GITHUB_ACTIONS": ""}
    result = cli(config, "build", env=env)
    assert result.exit_code == 0
    assert "::" not in result.output
    assert Path(env["GITHUB_OUTPUT"]).read_text() == ""
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text() == ""


# -- hostile values ---------------------------------------------------------------------------

HOSTILE = {
    "flags": "first\nsecond<<EOF\nEOF\n",
    "changed": "false\nevil=1",
    "files": "a\n::set-output name=evil::1\nghadelimiter_00000000000000000000000000000000\nb",
    "clients": "x\r\nevil<<ghadelimiter_1\r\nvalue\r\nghadelimiter_1",
    "matrix": "",
}


def test_hostile_values_stay_inside_their_own_output(tmp_path):
    path = tmp_path / "github_output"
    path.write_text("earlier=1\n")  # other steps' lines stay as they were
    github.set_outputs(HOSTILE, {"GITHUB_OUTPUT": str(path)})
    entries = parse_output_file(read_exactly(path))
    assert entries == [("earlier", "1"), *HOSTILE.items()]


def test_a_value_that_contains_its_delimiter_is_refused_and_nothing_written(tmp_path):
    path = tmp_path / "github_output"
    path.write_text("")
    values = {"flags": "{}", "files": "a\nEOF\nevil=1"}
    with pytest.raises(ValueError, match="'files': its value contains its delimiter"):
        github.set_outputs(values, {"GITHUB_OUTPUT": str(path)}, new_delimiter=lambda: "EOF")
    assert path.read_text() == ""


@pytest.mark.parametrize("name", ["", "a b", "x\ny", "evil<<EOF", "a=b", "9lives"])
def test_a_bad_output_name_is_refused(tmp_path, name):
    path = tmp_path / "github_output"
    path.write_text("")
    with pytest.raises(ValueError, match="refusing step output name"):
        github.set_outputs({name: "v"}, {"GITHUB_OUTPUT": str(path)})
    assert path.read_text() == ""


def test_a_secret_in_an_output_is_redacted(tmp_path):
    from nudge_build.secret import Secret

    Secret("tok-Very-Secret-0001")
    path = tmp_path / "github_output"
    path.write_text("")
    github.set_outputs({"files": "a tok-Very-Secret-0001 b"}, {"GITHUB_OUTPUT": str(path)})
    assert parse_output_file(path.read_text()) == [("files", "a *** b")]


def test_hostile_text_is_one_literal_markdown_line():
    text = "bad [link](https://evil.example) <img src=x> | `code` *em*\n# heading"
    shown = github.markdown_text(text)
    assert "\n" not in shown
    for special in "[]()<>|`*#":
        assert re.search(r"(?<!\\)" + re.escape(special), shown) is None, special


def test_mask_escapes_newlines_and_masks_each_line(capsys):
    github.mask("line-one-secret\nline-two-secret%")
    assert capsys.readouterr().out.splitlines() == [
        "::add-mask::line-one-secret%0Aline-two-secret%25",
        "::add-mask::line-one-secret",
        "::add-mask::line-two-secret%25",
    ]


def test_a_mask_while_commands_are_stopped_still_reaches_the_runner(capsys):
    with github.commands_stopped():
        print("::set-output name=evil::1", flush=True)
        github.mask("late-secret-value")
        print("::error::not an error", flush=True)
    commands = workflow_commands(capsys.readouterr().out)
    assert [c[0] for c in commands] == ["stop-commands", "add-mask", "stop-commands"]
    assert commands[1][2] == "late-secret-value"


# -- check ------------------------------------------------------------------------------------

INJECTING_TEXT = "Nudges near you.\n::set-output name=evil::1\n  ::error::pwned\nMore text."


def test_check_sets_outputs_and_no_diff_line_acts_as_a_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the step's working directory
    orgs = [dict(o) for o in SAMPLE_ORGS if o["apiKey"] == "sbx-prairie-fcu"]
    orgs[0]["messaging"] = {
        **orgs[0].get("messaging", {}),
        "locationPermissionText": INJECTING_TEXT,
    }
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"])
        assert cli(config, "build", env=project_env()).exit_code == 0
    plist = tmp_path / "nudge" / "prairie-fcu" / "ios" / "NudgeInfo.plist"
    assert INJECTING_TEXT in plistlib.loads(plist.read_bytes()).values()
    # A hand edit next to the organization's text, so the diff shows that text as context.
    plist.write_text(plist.read_text().replace("More text.", "More text!"))

    env = github_env(tmp_path)
    result = cli(config, "check", env=env)
    assert result.exit_code == 1
    # The diff does carry the line, escaped so that it cannot start a command ...
    assert " \\::set-output name=evil::1" in result.stdout
    commands = workflow_commands(result.stdout)  # ... but the runner does not act on it
    assert [c[0] for c in commands if c[0] != "add-mask"] == [
        "group",
        "stop-commands",
        "endgroup",
    ]

    outputs = outputs_of(Path(env["GITHUB_OUTPUT"]))
    assert outputs == {
        "changed": "true",
        "files": "nudge/prairie-fcu/ios/NudgeInfo.plist",
    }
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## nudge-build check" in summary
    assert (
        "| `prairie-fcu` | hand edit | `nudge/prairie-fcu/ios/NudgeInfo.plist` "
        "| `nudge-build build --force prairie-fcu` |"
    ) in summary
    assert "1 difference(s) (1 hand edit); to update: `nudge-build build --force`" in summary


def test_check_up_to_date_sets_changed_false(tmp_path, api):
    config = write_project(tmp_path, api.base_url)
    assert cli(config, "build", env=project_env()).exit_code == 0
    env = github_env(tmp_path)
    result = cli(config, "check", env=env)
    assert result.exit_code == 0, result.output
    assert outputs_of(Path(env["GITHUB_OUTPUT"])) == {"changed": "false", "files": ""}
    assert "up to date" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


# -- annotations ------------------------------------------------------------------------------


def test_config_error_is_annotated_at_its_file_and_line(tmp_path):
    config = tmp_path / "nudge-build.toml"
    config.write_text('[api]\nbase_url = "http://127.0.0.1:1"\ntimeout = = 3\n')
    result = cli(config, "build", env=github_env(tmp_path))
    assert result.exit_code == 2
    errors = [c for c in workflow_commands(result.stdout) if c[0] == "error"]
    assert len(errors) == 1
    name, properties, data = errors[0]
    assert properties == "file=nudge-build.toml,line=3"
    assert "invalid TOML" in unescape_data(data)


def test_config_key_error_is_annotated_at_the_line_of_its_table(tmp_path):
    config = tmp_path / "nudge-build.toml"
    config.write_text(
        '[api]\nbase_url = "http://127.0.0.1:1"\n[clients.Not_A_Slug]\napi_key = "k"\n'
    )
    result = cli(config, "build", env=github_env(tmp_path))
    assert result.exit_code == 2
    errors = [c for c in workflow_commands(result.stdout) if c[0] == "error"]
    assert [e[1] for e in errors] == ["file=nudge-build.toml,line=3"]  # the client's header
    assert "Not_A_Slug" in errors[0][2]


def test_template_error_is_annotated_at_the_template_and_line(tmp_path):
    template = tmp_path / "tpl" / "custom" / "x.properties.j2"
    template.parent.mkdir(parents=True)
    template.write_text("a={{ org.name }}\nb={% if %}\n")
    config = write_project(tmp_path, "http://127.0.0.1:1", clients=["c1"], stock=["custom"])
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    result = cli(config, "build", env=github_env(tmp_path))
    assert result.exit_code == 4
    errors = [c for c in workflow_commands(result.stdout) if c[0] == "error"]
    assert [e[1] for e in errors] == ["file=tpl/custom/x.properties.j2,line=2"]
    assert "template syntax error" in errors[0][2]


def test_an_annotation_message_cannot_start_another_command(capsys, tmp_path):
    github.annotate(
        "error",
        "bad\n::set-output name=evil::1\r\n100%",
        title="a: b, c",
        environ={"GITHUB_WORKSPACE": str(tmp_path)},
    )
    out = capsys.readouterr().out
    assert out == "::error title=a%3A b%2C c::bad%0A::set-output name=evil::1%0D%0A100%25\n"
    assert [c[0] for c in workflow_commands(out)] == ["error"]


# -- matrix -----------------------------------------------------------------------------------


def test_matrix_sets_the_matrix_output_and_a_summary(tmp_path):
    config = write_project(tmp_path, "http://127.0.0.1:1")
    env = github_env(tmp_path)
    result = cli(config, "matrix", "--shards", "2", env=env)
    assert result.exit_code == 0, result.output
    outputs = outputs_of(Path(env["GITHUB_OUTPUT"]))
    printed = result.stdout.strip().splitlines()[-1]
    assert outputs["matrix"] == printed
    matrix = json.loads(outputs["matrix"])
    assert outputs["shards"] == str(len(matrix["include"]))
    clients = sorted(c for e in matrix["include"] for c in e["clients"].split())
    assert clients == sorted(SAMPLE_KEYS)
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## nudge-build matrix" in summary
    assert "5 clients in" in summary


# -- one failure, one line --------------------------------------------------------------------


@pytest.mark.parametrize("in_github", [False, True], ids=["terminal", "github"])
def test_a_failed_client_is_one_line_and_its_count_is_in_the_summary(tmp_path, api, in_github):
    api.script("sbx-harbor-bank", [{"kind": "status", "status": 404}])
    config = write_project(tmp_path, api.base_url)
    env = {**project_env(), **(github_env(tmp_path) if in_github else {})}
    result = cli(config, "build", env=env)
    assert result.exit_code == 3
    output = result.stdout + result.stderr
    reason = "client harbor-bank: organization not found (POST /GetOrganization answered 404)"
    assert len([line for line in output.splitlines() if reason in line]) == 1
    assert [line for line in output.splitlines() if "client(s) failed" in line] == [
        "1 client(s) failed: harbor-bank"
    ]
    if in_github:
        assert ("error", "title=client harbor-bank", reason) in workflow_commands(result.stdout)
    else:
        assert result.stderr.splitlines()[-1] == f"error: {reason}"


def test_render_says_rendered_in_the_log_and_the_summary(tmp_path, api):
    config = write_project(tmp_path, api.base_url)
    assert cli(config, "fetch", env=project_env()).exit_code == 0
    env = github_env(tmp_path)
    result = cli(config, "render", env=env)
    assert result.exit_code == 0, result.output
    assert "5 of 5 clients rendered: wrote " in result.stdout
    assert "built" not in result.stdout
    assert "5 of 5 clients rendered." in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_a_credential_error_is_one_annotation_and_a_summary_naming_every_variable(tmp_path):
    config = write_project(tmp_path, "http://127.0.0.1:9", clients=["prairie-fcu", "summit-cu"])
    env = github_env(tmp_path)
    result = cli(config, "build", env=env)
    assert result.exit_code == 2
    errors = [c for c in workflow_commands(result.stdout) if c[0] == "error"]
    assert len(errors) == 1 and result.stderr == ""  # one failure, one line
    message = unescape_data(errors[0][2])
    assert message.startswith("4 credentials are missing or empty; nothing was requested:")
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## nudge-build build\n\n**Failed** (exit 2):")
    for name in ("NUDGE_CLIENT_ID", "NUDGE_CLIENT_SECRET", "NUDGE_KEY_PRAIRIE_FCU"):
        assert name in message and name.replace("_", "\\_") in summary
