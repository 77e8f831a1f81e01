"""`init` next steps, copying templates into a project that has a config, `templates --diff`,
the default output root and the warning when git ignores it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib

import pytest
from click.testing import CliRunner

from nudge_build import targets
from nudge_build.cli import main
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project
from tests.platform_tools import debian_tool

BASE_ENV = {"GITHUB_ACTIONS": "", "NUDGE_API_URL": "", "NUDGE_BUILD_CONFIG": ""}


def run(*args: str):
    return CliRunner().invoke(main, list(args), env=BASE_ENV)


@pytest.fixture
def stock(tmp_path, monkeypatch):
    """A private copy of the stock templates, standing in for the installed ones.

    The stock templates change only when nudge-build is upgraded; a test simulates that by
    editing this copy. Patching ``targets.stock_template_dir`` (which every reader looks up
    through the module) keeps that test-only knob out of the product: no variable a user could
    set by mistake points a build at other templates.
    """
    copy = tmp_path / "stock"
    shutil.copytree(targets.stock_template_dir(), copy)
    monkeypatch.setattr(targets, "stock_template_dir", lambda: copy)
    return copy


def test_init_prints_next_steps(tmp_path):
    result = run("init", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    config = tmp_path / "nudge-build.toml"
    lines = result.stdout.splitlines()
    assert lines[0] == f"wrote {config}"
    assert lines[1] == "next steps:"
    assert f"  1. in {config}, set [api].base_url" in lines[2]
    assert "[clients.example-cu]" in lines[3]  # the starter's own example client
    assert "NUDGE_CLIENT_ID, NUDGE_CLIENT_SECRET" in lines[4]
    assert "`nudge-build build`" in lines[5]
    assert lines[-1].startswith("docs: docs/configuration.md")
    starter = tomllib.loads(config.read_text())
    assert "example-cu" in starter["clients"]
    assert starter["api"]["client_id_env"] == "NUDGE_CLIENT_ID"


def test_init_quiet_prints_only_what_it_wrote(tmp_path):
    result = run("init", "-q", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {tmp_path / 'nudge-build.toml'}\n"


def test_copy_templates_in_a_project_keeps_its_config_byte_identical(tmp_path):
    config = write_project(tmp_path, "https://api.example.invalid", clients=["prairie-fcu"])
    config.write_bytes(config.read_bytes() + b"# my own comment\r\n")
    before = config.read_bytes()
    result = run("init", "--dir", str(tmp_path), "--copy-templates")
    assert result.exit_code == 0, result.output
    assert config.read_bytes() == before
    copies = tmp_path / "nudge-templates"
    assert (copies / "ios" / "NudgeInfo.plist.j2").is_file()
    assert result.stdout.splitlines()[:3] == [
        f"wrote {copies}",
        f"left {config} as it was",
        f'next: set dir = "nudge-templates" in [templates] of {config}, so that builds use '
        "the copies",
    ]
    again = run("init", "--dir", str(tmp_path), "--copy-templates")
    assert again.exit_code == 2
    assert f"{copies}: already exists (pass --force to overwrite)" in again.stderr
    assert config.read_bytes() == before


def test_copy_records_each_stock_templates_digest(tmp_path):
    assert run("init", "--dir", str(tmp_path), "--copy-templates").exit_code == 0
    copies = tmp_path / "nudge-templates"
    record = tomllib.loads((copies / ".nudge-stock.toml").read_text())["templates"]
    stock = targets.stock_template_dir()
    names = {
        p.relative_to(stock).as_posix()
        for p in stock.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert set(record) == names
    for name, entry in record.items():
        data = (stock / name).read_bytes()
        assert entry["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert entry["text"].encode() == data
        assert (copies / name).read_bytes() == data
    assert 'dir = "nudge-templates"' in (tmp_path / "nudge-build.toml").read_text()


def test_templates_diff_shows_a_stock_change_since_the_copy(tmp_path, stock):
    project = tmp_path / "app"
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        project.mkdir()
        config = write_project(project, api.base_url, clients=["prairie-fcu"])
        config.write_text(
            config.read_text().replace("[templates]\n", '[templates]\ndir = "nudge-templates"\n')
        )
        assert run("init", "--dir", str(project), "--copy-templates").exit_code == 0
        current = cli(config, "templates", "--diff")
        assert current.exit_code == 0, current.output
        copies = project / "nudge-templates"
        assert (
            current.stdout
            == f"the templates copied to {copies} are up to date with the stock ones\n"
        )

        # An upgrade of nudge-build changes a stock template the partner has a copy of.
        upgraded = stock / "ios" / "Nudge.xcconfig.j2"
        old = upgraded.read_text()
        upgraded.write_text(old.replace("NUDGE_CLIENT = ", "NUDGE_CLIENT_ID = "))
        behind = cli(config, "templates", "--diff")
        assert behind.exit_code == 0, behind.output
        lines = behind.stdout.splitlines()
        assert lines[0] == (
            f"ios/Nudge.xcconfig.j2: the stock template changed since it was copied to "
            f"{copies / 'ios' / 'Nudge.xcconfig.j2'} (a/: stock when copied, b/: stock now)"
        )
        assert lines[1:3] == ["--- a/ios/Nudge.xcconfig.j2", "+++ b/ios/Nudge.xcconfig.j2"]
        assert "-NUDGE_CLIENT = {{ client.id }}" in lines
        assert "+NUDGE_CLIENT_ID = {{ client.id }}" in lines

        build = cli(config, "build", env=project_env())
        assert build.exit_code == 0, build.output
    notes = [line for line in build.stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: 1 template(s) copied to {copies} changed in the stock set since they were "
        "copied: ios/Nudge.xcconfig.j2; see `nudge-build templates --diff`"
    ]
    # The copy still wins: the note only tells, it changes nothing.
    xcconfig = (project / "nudge" / "prairie-fcu" / "ios" / "Nudge.xcconfig").read_text()
    assert "NUDGE_CLIENT = prairie-fcu" in xcconfig


def test_templates_diff_without_a_record_is_a_clear_error(tmp_path):
    config = write_project(tmp_path, "https://api.example.invalid", clients=["prairie-fcu"])
    no_dir = cli(config, "templates", "--diff")
    assert no_dir.exit_code == 2
    assert "the config sets no [templates].dir" in no_dir.stderr
    (tmp_path / "mine").mkdir()
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "mine"\n'))
    no_record = cli(config, "templates", "--diff")
    assert no_record.exit_code == 2
    assert f"{tmp_path / 'mine' / '.nudge-stock.toml'} not found" in no_record.stderr


# -- the output root ----------------------------------------------------------------------------


def test_the_default_output_root_is_nudge(tmp_path):
    from nudge_build.config import load_config

    config = write_project(tmp_path, "https://api.example.invalid", clients=["prairie-fcu"])
    assert load_config(config, {}).output.root == tmp_path / "nudge"
    assert run("init", "--dir", str(tmp_path / "new")).exit_code == 0
    starter = tomllib.loads((tmp_path / "new" / "nudge-build.toml").read_text())
    assert starter["output"]["root"] == "nudge"


def git_repo(path, ignore: str) -> None:
    git = debian_tool("git", "git")
    subprocess.run([git, "init", "-q", str(path)], check=True)
    (path / ".gitignore").write_text(ignore)


def test_init_and_build_warn_when_git_ignores_the_output_root(tmp_path):
    git_repo(tmp_path, "# React Native's template\nbuild/\n")
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(
            tmp_path,
            api.base_url,
            clients=["prairie-fcu"],
            extra='[output]\nroot = "build/nudge"\n',
        )
        init = run("init", "--dir", str(tmp_path), "--copy-templates")
        build = cli(config, "build", env=project_env())
    assert init.exit_code == 0 and build.exit_code == 0, build.output
    for result in (init, build):
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith(
            f"warning: the output root {tmp_path / 'build' / 'nudge'} is ignored by git "
            "(.gitignore:2: build/)"
        )


@pytest.mark.parametrize("in_git", [True, False], ids=["kept-by-git", "no-work-tree"])
def test_no_warning_when_git_keeps_the_root_or_there_is_no_git(tmp_path, in_git):
    if in_git:
        git_repo(tmp_path, "build/\n")
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"])
        build = cli(config, "build", env=project_env())
    assert build.exit_code == 0, build.output
    assert "warning:" not in build.stderr


def test_the_docs_name_what_the_code_writes():
    from pathlib import Path

    from nudge_build.config import DEFAULT_OUTPUT_ROOT
    from nudge_build.template_copies import MANIFEST_NAME

    docs = Path(__file__).resolve().parent.parent / "docs"
    templates_page = (docs / "templates.md").read_text(encoding="utf-8")
    assert f"nudge-templates/{MANIFEST_NAME}" in templates_page
    assert "`nudge-build templates --diff`" in templates_page
    configuration = (docs / "configuration.md").read_text(encoding="utf-8")
    assert f'root = "{DEFAULT_OUTPUT_ROOT}"' in configuration
    assert f"| `output.root` | `{DEFAULT_OUTPUT_ROOT}` |" in configuration
