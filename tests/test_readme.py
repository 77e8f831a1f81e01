"""The README tells the truth: its CLI reference is the commands' --help, every command has help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nudge_build.cli import main
from tests.readme_cli import README, reference, section

README_PAGE = Path(__file__).resolve().parent.parent / "README.md"


def test_cli_reference_matches_help():
    text = README.read_text(encoding="utf-8")
    assert section(text) == reference(), "run `python -m tests.readme_cli` and review the diff"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help(name):
    command = main.commands[name]
    assert command.help and len(command.help.strip()) > 20, name
    for param in command.params:
        if param.param_type_name == "option":
            assert param.help, f"{name} {param.name} lacks help"


def test_readme_gives_the_two_setup_commands():
    text = README_PAGE.read_text(encoding="utf-8")
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert venv + "pip install . && nudge-build demo --out /tmp/nudge-demo" in text
    assert venv + "pip install '.[test]' && python -m pytest" in text


def test_ci_runs_the_readme_commands_verbatim():
    """.ci/run runs the README's demo command, then its test command, each as written."""
    readme = README_PAGE.read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2
    script = (README_PAGE.parent / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert commands[0] in steps
    assert steps[-1] == commands[1]  # the tests last, so CI's closing line is pytest's


def test_readme_is_short_and_its_links_resolve():
    text = README_PAGE.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links
    for link in links:
        assert (README_PAGE.parent / link).is_file(), link


def test_docs_links_resolve():
    for page in sorted((README_PAGE.parent / "docs").glob("*.md")):
        for link in re.findall(r"\]\(([^)#:]+)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / link).exists(), f"{page.name}: {link}"
