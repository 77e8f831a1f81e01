"""The README tells the truth: its CLI reference is the commands' --help, every command has help."""

from __future__ import annotations

import pytest

from nudge_build.cli import main
from tests.readme_cli import README, reference, section


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
    text = README.read_text(encoding="utf-8")
    assert "pip install . && nudge-build demo --out /tmp/nudge-demo" in text
    assert "pip install '.[test]' && python -m pytest" in text
