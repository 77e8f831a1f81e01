"""Colour for a person at a terminal: diffs, message prefixes, flag values.

These functions always add ANSI codes; whether they reach the screen is decided in one place,
``cli_options.color_setting``, and click strips them from any stream that is not a terminal.
Nothing styled here is ever written to a file.
"""

from __future__ import annotations

import click

# prefix -> (colour, bold)
_PREFIXES = {"error:": ("red", True), "warning:": ("yellow", True), "note:": ("cyan", False)}


def diff(text: str) -> str:
    """A unified diff with its headers, hunks, removals and additions told apart."""
    return "\n".join(_diff_line(line) for line in text.split("\n"))


def _diff_line(line: str) -> str:
    if line.startswith(("--- ", "+++ ")):
        return click.style(line, bold=True)
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("+"):
        return click.style(line, fg="green")
    return line


def prefixes(text: str) -> str:
    """``error:``, ``warning:`` and ``note:`` at the start of a line, in their colour."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        for prefix, (colour, bold) in _PREFIXES.items():
            if line.startswith(prefix):
                lines[index] = click.style(prefix, fg=colour, bold=bold) + line[len(prefix) :]
                break
    return "\n".join(lines)


def flag_value(cell: str, value: bool) -> str:
    """A padded flags-table cell: yes in green, no dimmed, so a column reads at a glance."""
    return click.style(cell, fg="green") if value else click.style(cell, dim=True)
