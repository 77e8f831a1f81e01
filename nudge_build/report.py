"""How results look to a person or a CI log: summaries, tables, progress, logging.

Everything printed goes through ``redact`` so that no registered secret can reach a stream,
whatever text an exception or a server put in front of us.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

import click

from nudge_build.secret import redact


def out(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    click.echo(redact(text), err=err, nl=nl)


def configure_logging(verbosity: int, quiet: bool) -> None:
    level = logging.DEBUG if verbosity > 0 else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _RedactingFormatter("%(levelname)s %(name)s: %(message)s", verbose=verbosity > 0)
    )
    root = logging.getLogger("nudge_build")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, *, verbose: bool) -> None:
        super().__init__(fmt)
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        from nudge_build import github

        if record.levelno >= logging.WARNING and not self.verbose:
            # Speak like every other warning and error line; the logger's name is for -v.
            text = redact(f"{record.levelname.lower()}: {record.getMessage()}")
        else:
            text = redact(super().format(record))
        # Log records quote servers: in GitHub, none of their lines may act as a command.
        return github.inert(text) if github.active(os.environ) else text


class Progress:
    """A live counter on a terminal; in CI logs a line every 10% or every 10 seconds."""

    def __init__(self, total: int, label: str, *, stream: IO[str] | None = None) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._last_line = time.monotonic()
        self._step = max(1, total // 10)

    def __call__(self, result: Any) -> None:
        self.done += 1
        if getattr(result, "error", None):
            self.failed += 1
        if self.total < 2:
            return
        text = f"{self.label}: {self.done}/{self.total}" + (
            f" ({self.failed} failed)" if self.failed else ""
        )
        if self.live:
            end = "\n" if self.done == self.total else ""
            self.stream.write(f"\r{text}{end}")
            self.stream.flush()
        elif (
            self.done % self._step == 0
            or self.done == self.total
            or time.monotonic() - self._last_line > 10
        ):
            self._last_line = time.monotonic()
            self.stream.write(text + "\n")
            self.stream.flush()


def flags_table(
    flags: Mapping[str, Any],
    names: Sequence[str],
    paint: Callable[[str, bool], str] | None = None,
) -> str:
    """Clients × flags; ``*`` marks a value set by an override rather than derived.

    ``paint`` styles each value for a terminal; it sees the cell's text, the padding stays
    outside, so the columns line up with or without colour."""
    header = ["client", *names]
    rows = []
    values: list[list[bool | None]] = [[None] * len(header)]
    for client_id, client_flags in flags.items():
        by_name = {f.name: f for f in client_flags}
        cells = [client_id]
        row_values: list[bool | None] = [None]
        for name in names:
            flag = by_name.get(name)
            if flag is None:
                cells.append("-")
                row_values.append(None)
            else:
                mark = "*" if flag.source == "override" else ""
                cells.append(("yes" if flag.value else "no") + mark)
                row_values.append(flag.value)
        rows.append(cells)
        values.append(row_values)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def cell(text: str, width: int, value: bool | None) -> str:
        shown = text if paint is None or value is None else paint(text, value)
        return shown + " " * (width - len(text))

    lines = [
        "  ".join(cell(c, w, v) for c, w, v in zip(r, widths, vs, strict=True)).rstrip()
        for r, vs in zip([header, *rows], values, strict=True)
    ]
    if any(f.source == "override" for fl in flags.values() for f in fl):
        lines.append("* set by an override in the config")
    return "\n".join(lines)


def flags_json(flags: Mapping[str, Any]) -> str:
    data = {
        client_id: {f.name: {"value": f.value, "source": f.source} for f in client_flags}
        for client_id, client_flags in flags.items()
    }
    return json.dumps(data, indent=2, sort_keys=False)


def build_summary(report: Any, command: str = "build") -> list[str]:
    """One line for the counts, then one per kind of client not built; the caller prints them.

    ``render`` says "rendered": it fetched nothing, so "built" would claim more than it did.

    The counts are of what was done (in a dry run: would be done): clients whose files were
    changed by hand, or could not be fetched or written, count as neither built nor written.
    """
    dry = report.dry_run
    done = "rendered" if command == "render" else "built"
    lines = [
        f"{report.built} of {len(report.clients)} clients {'would be ' if dry else ''}{done}: "
        f"{'would write' if dry else 'wrote'} {report.count('create')} new and "
        f"{report.count('update')} changed files, {report.count('unchanged')} unchanged, "
        f"{'would remove' if dry else 'removed'} {report.count('remove')}"
    ]
    merges = report.merges_done
    if merges:
        changed = sum(1 for m in merges if m.changed)
        lines.append(
            f"merge targets: {'would update' if dry else 'updated'} nudge's keys in {changed} "
            f"of {len(merges)} files, {len(merges) - changed} unchanged"
        )
    if report.conflicts:
        names = ", ".join(report.conflicts)
        lines.append(
            f"{len(report.conflicts)} client(s) left as they are, with files changed by hand: "
            f"{names}"
        )
    if report.failures:
        names = ", ".join(f.client for f in report.failures)
        lines.append(f"{len(report.failures)} client(s) failed: {names}")
    if report.removed_clients:
        lines.append(f"clients no longer configured: {', '.join(report.removed_clients)}")
    return lines


def dry_run_lines(report: Any, with_diff: bool) -> list[str]:

    lines = []
    for plan in report.done:  # a client with hand edits is left alone: its warning says so
        for change in plan.changes:
            if change.action == "unchanged":
                continue
            lines.append(f"would {change.action} {change.path}")
            if with_diff and change.action == "update":
                assert change.old is not None and change.new is not None
                lines.append(unified_diff(change.path, change.old, change.new).rstrip("\n"))
    # The partner's own files: the diff is always shown, it is what review needs to see.
    for merge in report.merges_done:
        if merge.changed:
            lines.append(f"would update nudge's keys in {merge.path}")
            lines.append(unified_diff(merge.relative, merge.old, merge.new).rstrip("\n"))
    return lines


def unified_diff(relative: str, old: bytes, new: bytes) -> str:
    """A git-style diff of one file; a last line without a newline is marked, not fused."""
    old_lines = old.decode("utf-8", errors="replace").splitlines(keepends=True)
    new_lines = new.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old_lines, new_lines, f"a/{relative}", f"b/{relative}")
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
