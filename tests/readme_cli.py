"""The CLI reference (docs/cli.md), generated from the commands' own --help.

`python -m tests.readme_cli` rewrites the section between the markers; tests/test_readme.py
fails when it is out of date, so the manual cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from nudge_build.cli import main

README = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"


def help_text(*args: str) -> str:
    # A fixed width, so the text does not depend on the terminal that regenerates it.
    result = CliRunner().invoke(
        main, [*args, "--help"], prog_name="nudge-build", terminal_width=100
    )
    assert result.exit_code == 0, result.output
    return result.output.rstrip() + "\n"


def reference() -> str:
    parts = ["```", help_text().rstrip(), "```", ""]
    for name in sorted(main.commands):
        parts += [f"### `nudge-build {name}`", "", "```", help_text(name).rstrip(), "```", ""]
    return "\n".join(parts)


def section(text: str) -> str:
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    assert match, "docs/cli.md lacks the CLI reference markers"
    return match.group(1)


def main_() -> None:
    text = README.read_text(encoding="utf-8")
    new = text.replace(START + "\n" + section(text) + END, START + "\n" + reference() + END)
    README.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main_()
