"""Options where users type them, the config found from a subfolder, colour on a terminal only,
and did-you-mean for commands, clients, flags and template sets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nudge_build.cli import main
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project

BASE_ENV = {"GITHUB_ACTIONS": "", "NUDGE_API_URL": "", "NUDGE_BUILD_CONFIG": "", "NO_COLOR": ""}
ANSI = "\x1b["


def run(*args: str, env: dict[str, str] | None = None, color: bool = False):
    """The CLI in-process with no --config of the helper's: these tests place it themselves."""
    return CliRunner().invoke(main, list(args), env={**BASE_ENV, **(env or {})}, color=color)


@pytest.fixture
def built(tmp_path):
    """A built project in tmp_path/sub, three clients; the sandbox stays up."""
    project = tmp_path / "sub"
    project.mkdir()
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(
            project, api.base_url, clients=["prairie-fcu", "harbor-bank", "summit-cu"]
        )
        result = cli(config, "build", env=project_env())
        assert result.exit_code == 0, result.output
        yield config


# -- options after the command ------------------------------------------------------------------


def test_build_takes_verbose_and_config_after_the_command(built, monkeypatch):
    monkeypatch.chdir(built.parent.parent)
    result = run("build", "-v", "--config", "sub/nudge-build.toml", env=project_env())
    assert result.exit_code == 0, result.output
    assert "3 of 3 clients built" in result.stdout
    assert "DEBUG nudge_build" in result.stderr  # -v after the command turned on debug logging


def test_render_takes_quiet_after_the_command(built, monkeypatch):
    monkeypatch.chdir(built.parent.parent)
    loud = run("render", "--config", "sub/nudge-build.toml")
    quiet = run("render", "-q", "--config", "sub/nudge-build.toml")
    assert loud.exit_code == quiet.exit_code == 0, quiet.output
    assert "3 of 3 clients" in loud.stdout
    assert quiet.stdout == ""


def test_config_after_the_command_wins_over_the_one_before(built, tmp_path):
    result = run("--config", str(tmp_path / "nowhere.toml"), "render", "--config", str(built))
    assert result.exit_code == 0, result.output


def test_every_command_lists_the_common_options():
    for name, command in main.commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"-v", "-q", "--config", "--no-color"} <= options, name


# -- the config found from a subfolder ---------------------------------------------------------


def test_check_from_a_subfolder_finds_the_projects_config(built):
    deeper = built.parent / "ios" / "Runner"
    deeper.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUDGE_", "GITHUB_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "nudge_build", "check"],
        cwd=deeper,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "up to date"


def test_paths_in_a_found_config_stay_relative_to_the_file(built, monkeypatch):
    deeper = built.parent / "android"
    deeper.mkdir()
    monkeypatch.chdir(deeper)
    (built.parent / "nudge" / "harbor-bank" / "ios" / "Nudge.xcconfig").unlink()
    result = run("render", "harbor-bank")
    assert result.exit_code == 0, result.output
    assert (built.parent / "nudge" / "harbor-bank" / "ios" / "Nudge.xcconfig").is_file()
    assert not (deeper / "nudge").exists()


def test_the_environment_variable_wins_over_the_search(built, tmp_path, monkeypatch):
    monkeypatch.chdir(built.parent)
    result = run("check", env={"NUDGE_BUILD_CONFIG": str(tmp_path / "elsewhere.toml")})
    assert result.exit_code == 2
    assert f"{tmp_path / 'elsewhere.toml'}: no such config file" in result.stderr


def test_without_any_config_the_error_names_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("check")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: nudge-build.toml: no such config file")


# -- colour ---------------------------------------------------------------------------------


@pytest.fixture
def hand_edited(built):
    edited = built.parent / "nudge" / "summit-cu" / "ios" / "Nudge.xcconfig"
    edited.write_text(edited.read_text().replace("NUDGE_ENABLED = YES", "NUDGE_ENABLED = NO"))
    return built


def test_check_diff_is_coloured_on_a_terminal(hand_edited):
    result = run("check", "--config", str(hand_edited), color=True)
    assert result.exit_code == 1
    # a/ is the file on disk, b/ what build writes
    assert "\x1b[31m-NUDGE_ENABLED = NO" in result.stdout
    assert "\x1b[32m+NUDGE_ENABLED = YES" in result.stdout


def test_no_colour_when_piped(hand_edited):
    result = run("check", "--config", str(hand_edited))
    assert result.exit_code == 1
    assert "+NUDGE_ENABLED = YES" in result.stdout
    assert ANSI not in result.output


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--no-color",), {}),
        ((), {"NO_COLOR": "1"}),
        ((), {"GITHUB_ACTIONS": "true"}),
    ],
    ids=["--no-color", "NO_COLOR", "github"],
)
def test_no_colour_even_on_a_terminal_when_turned_off(hand_edited, tmp_path, args, env):
    if env.get("GITHUB_ACTIONS"):
        env = {**env, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    result = run("check", *args, "--config", str(hand_edited), env=env, color=True)
    assert result.exit_code == 1
    assert "+NUDGE_ENABLED = YES" in result.stdout
    assert ANSI not in result.output


def test_error_prefix_and_dry_run_diff_are_coloured_on_a_terminal(hand_edited):
    error = run("render", "nobody", "--config", str(hand_edited), color=True)
    assert error.exit_code == 2
    assert error.stderr.startswith("\x1b[31m\x1b[1merror:\x1b[0m unknown client nobody")
    dry = run("render", "--dry-run", "-v", "--force", "--config", str(hand_edited), color=True)
    assert dry.exit_code == 0, dry.output
    assert "\x1b[32m+NUDGE_ENABLED = YES" in dry.stdout


def test_flags_table_colours_values_and_keeps_its_columns(built):
    plain = run("flags", "--config", str(built))
    coloured = run("flags", "--config", str(built), color=True)
    assert plain.exit_code == coloured.exit_code == 0
    assert "\x1b[32myes" in coloured.stdout
    assert "\x1b[2mno" in coloured.stdout
    stripped = coloured.stdout
    for code in ("\x1b[32m", "\x1b[2m", "\x1b[0m"):
        stripped = stripped.replace(code, "")
    assert stripped == plain.stdout


# -- did you mean ---------------------------------------------------------------------------


def test_mistyped_command_gets_a_suggestion():
    result = run("buidl")
    assert result.exit_code == 2
    assert "No such command 'buidl'. Did you mean 'build'?" in result.output


def test_mistyped_client_gets_a_suggestion(built):
    result = run("render", "prarie-fcu", "--config", str(built))
    assert result.exit_code == 2
    assert "unknown client prarie-fcu (did you mean 'prairie-fcu'?)" in result.stderr


def test_mistyped_flag_override_gets_a_suggestion(tmp_path):
    config = write_project(
        tmp_path,
        "https://api.example.invalid",
        clients=["prairie-fcu"],
        extra="[clients.prairie-fcu.flags]\nbackgroud_location = false\n",
    )
    result = run("flags", "--config", str(config))
    assert result.exit_code == 2
    assert (
        "[clients.prairie-fcu.flags].backgroud_location: expected one of the flags location, "
        "background_location, push (did you mean 'background_location'?)"
    ) in result.stderr


def test_mistyped_template_set_gets_a_suggestion(tmp_path):
    config = write_project(
        tmp_path, "https://api.example.invalid", clients=["prairie-fcu"], stock=["ios", "andriod"]
    )
    result = run("render", "--config", str(config))
    assert result.exit_code == 2
    assert "unknown template set 'andriod' (did you mean 'android'?)" in result.stderr


def test_mistyped_flag_name_for_explain_gets_a_suggestion(built):
    result = run("explain", "prairie-fcu", "backgroud", "--config", str(built))
    assert result.exit_code == 2
    assert "unknown flag 'backgroud' (did you mean 'background_location'?)" in result.stderr


def test_find_config_path_walks_up_and_prefers_the_nearest(tmp_path):
    from nudge_build.config import find_config_path

    (tmp_path / "nudge-build.toml").write_text("")
    inner = tmp_path / "app" / "ios"
    inner.mkdir(parents=True)
    assert find_config_path(None, {}, cwd=inner) == Path("../../nudge-build.toml")
    (tmp_path / "app" / "nudge-build.toml").write_text("")
    assert find_config_path(None, {}, cwd=inner) == Path("../nudge-build.toml")
    assert find_config_path(None, {}, cwd=tmp_path) == Path("nudge-build.toml")
