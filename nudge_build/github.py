"""GitHub Actions glue: masks, step outputs, job summary, annotations and log groups.

On when ``GITHUB_ACTIONS=true``. Everything here speaks the runner's own protocol: workflow
commands on stdout (``::add-mask::``, ``::error …::``, ``::group::``, ``::stop-commands::``) and
the files named by ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY``.

Text that we did not write (organization data in a diff, a server's error description) can reach
the log; a line of it that starts with ``::`` would be a workflow command. Every line the CLI
prints in GitHub mode passes :func:`inert` (on stdout and stderr alike); blocks of it are also
printed with commands stopped (:func:`commands_stopped`); command data and properties are
escaped; step outputs go through the output file with a random delimiter, never through stdout;
and in the job summary outside text is literal Markdown (:func:`markdown_text`, :func:`_code`).
"""

from __future__ import annotations

import json
import os
import re
import secrets as _random
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from nudge_build import secret

if TYPE_CHECKING:
    from nudge_build.check import CheckReport
    from nudge_build.impact import ClientImpact
    from nudge_build.matrix import Shard
    from nudge_build.pipeline import RunReport, RunWarning

Level = Literal["error", "warning", "notice"]

# A long list of paths is cut in the summary (GitHub caps a step's summary at 1 MiB).
SUMMARY_MAX_PATHS = 200
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_MIN_MASK_LINE = 4  # a line of a multi-line secret shorter than this would mask ordinary text


def active(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


# -- masks ------------------------------------------------------------------------------------

_mask_lock = threading.Lock()
_masked: set[str] | None = None  # what this run has masked; None outside ``masking()``
_stop_token: str | None = None  # set while workflow commands are stopped


def mask(value: str) -> None:
    """``::add-mask::`` for ``value`` (and for each line of a multi-line value), flushed at once.

    Within :func:`masking` each value is masked once however often it is reported.
    """
    with _mask_lock:
        if _masked is not None:
            if value in _masked:
                return
            _masked.add(value)
    parts = [value]
    if "\n" in value or "\r" in value:
        parts += [line for line in value.splitlines() if len(line.strip()) >= _MIN_MASK_LINE]
    stopped = _stop_token
    if stopped is not None:  # commands are off: resume them for the mask, then stop again
        _write(f"::{stopped}::")
    for part in parts:
        # Never redacted: the runner must see the value itself to hide it.
        _write(f"::add-mask::{escape_data(part)}")
    if stopped is not None:
        _write(f"::stop-commands::{stopped}")


@contextmanager
def masking() -> Iterator[None]:
    """Mask every secret the run knows or learns, the moment it is registered.

    :func:`nudge_build.secret.register` calls its listeners before it returns, and the API client
    registers a token before it sends a request with it, so the mask is on stdout before
    anything could print the value.
    """
    global _masked
    with _mask_lock:
        _masked = set()
    secret.add_listener(mask)
    try:
        yield
    finally:
        secret.clear_listeners()
        with _mask_lock:
            _masked = None


# -- workflow commands ------------------------------------------------------------------------


def annotate(
    level: Level,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """``::error file=…,line=…,title=…::message``: shown on the run page and beside the file."""
    environ = os.environ if environ is None else environ
    if file is None:
        file = _file_named_in(message)
    properties = []
    if file:
        properties.append(f"file={escape_property(workspace_path(file, environ))}")
        if line:
            properties.append(f"line={int(line)}")
    if title:
        properties.append(f"title={escape_property(secret.redact(title))}")
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    _write(f"{head}::{escape_data(secret.redact(message))}")


def annotate_error(message: str, *, file: str | None, line: int | None) -> None:
    annotate("error", message, file=file, line=line)


def error_summary(command: str | None, message: str, exit_code: int) -> str:
    """The job summary of a run that stopped at an error (config, credentials, templates):
    a summary is always written, so the run page says what failed, not nothing."""
    head, *rest = message.splitlines() or [""]
    lines = [f"## nudge-build {command or ''}".rstrip(), "", f"**Failed** (exit {exit_code}):"]
    lines += ["", markdown_text(head)]
    if rest:
        lines += ["", *(f"- {markdown_text(line.removeprefix('- '))}" for line in rest)]
    return "\n".join(lines) + "\n"


@contextmanager
def group(title: str) -> Iterator[None]:
    """A foldable ``::group::`` in the log; groups do not nest."""
    _write(f"::group::{escape_data(secret.redact(title))}")
    try:
        yield
    finally:
        _write("::endgroup::")


@contextmanager
def commands_stopped() -> Iterator[None]:
    """Print text we did not write with workflow commands off, so none of its lines acts."""
    global _stop_token
    token = _random.token_hex(16)
    _write(f"::stop-commands::{token}")
    _stop_token = token
    try:
        yield
    finally:
        _stop_token = None
        _write(f"::{token}::")


@contextmanager
def untrusted_group(title: str) -> Iterator[None]:
    """A folded group whose lines (diffs, organization data) cannot act as commands."""
    with group(title), commands_stopped():
        yield


# The runner reads stdout and stderr line by line (a line ends at CR, LF or CRLF). A line is a
# command when it starts with "::" once leading white space is trimmed, or when it holds "##["
# anywhere (the older syntax, still parsed). ``str.isspace`` is wider than .NET's TrimStart, so
# the check below errs on the side of escaping.
_RUNNER_LINE = re.compile(r"(\r\n|\r|\n)")
_OLD_COMMAND = "##["
OUR_COMMANDS = frozenset(
    {"add-mask", "error", "warning", "notice", "group", "endgroup", "stop-commands"}
)


def inert(text: str) -> str:
    """Text we did not write, made safe to print on any stream in GitHub mode.

    A line whose first non-blank characters are ``::`` gets a backslash before them, and every
    ``##[`` becomes ``#\\u0023[`` (inside a JSON string that is the same text). Unlike
    :func:`commands_stopped` this holds for stderr too, whose lines the runner may interleave
    with stdout's in any order, and it needs no token.
    """
    parts = _RUNNER_LINE.split(text_only(text).replace(_OLD_COMMAND, "#\\u0023["))
    for index in range(0, len(parts), 2):  # even entries are lines, odd ones their endings
        line = parts[index]
        body = line.lstrip()
        if body.startswith("::"):
            parts[index] = line[: len(line) - len(body)] + "\\" + body
    return "".join(parts)


def escape_data(value: str) -> str:
    """Workflow-command data: the runner decodes these, so a value cannot end its command."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _write(line: str) -> None:
    sys.stdout.write(text_only(line) + "\n")
    sys.stdout.flush()


def text_only(text: str) -> str:
    """``text`` with any lone surrogate (JSON can carry one, UTF-8 cannot) shown as ``\\udXXX``.

    Outside text reaches every stream and file here; one unencodable character must not turn
    a report into an internal error.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _file_named_in(message: str) -> str | None:
    """Most messages start with ``PATH: …``; annotate that file when it exists."""
    head = message.split(": ", 1)[0] if ": " in message else ""
    if head and "\n" not in head and Path(head).is_file():
        return head
    return None


def workspace_path(file: str | os.PathLike[str], environ: Mapping[str, str]) -> str:
    """A path relative to the repository root, which is what annotations are matched against."""
    base = Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())
    try:
        return Path(file).resolve().relative_to(base.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(file).as_posix()


# -- step outputs and summary -----------------------------------------------------------------


def _new_delimiter() -> str:
    return f"ghadelimiter_{_random.token_hex(16)}"


def set_outputs(
    values: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    *,
    new_delimiter: Callable[[], str] = _new_delimiter,
) -> None:
    """Append ``name<<DELIMITER`` blocks to ``$GITHUB_OUTPUT``, a fresh random delimiter each.

    A value cannot guess its delimiter, so newlines, fake delimiters and ``::set-output`` in it
    stay inside it; a value that does contain its delimiter is refused, and then nothing is
    written at all.
    """
    environ = os.environ if environ is None else environ
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    chunks = []
    for name, raw in values.items():
        if not _OUTPUT_NAME.match(name):
            raise ValueError(f"refusing step output name {name!r}")
        value = text_only(secret.redact(raw))
        delimiter = new_delimiter()
        if delimiter in value or delimiter in name:
            raise ValueError(f"refusing step output {name!r}: its value contains its delimiter")
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with Path(path).open("a", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(chunks))


def append_summary(markdown: str, environ: Mapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with Path(path).open("a", encoding="utf-8", newline="\n") as handle:
        handle.write(text_only(secret.redact(markdown)))


def shown_path(root: Path, relative: str) -> str:
    """An output-root-relative path as the user's shell sees it (relative to the cwd)."""
    path = root / relative
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


# -- build, render, check, matrix -------------------------------------------------------------


def build_outputs(report: RunReport, *, root: Path, lockfile: Path) -> dict[str, str]:
    """``flags`` (JSON per client), ``changed``, ``files`` (one path a line), ``clients``."""
    files = [shown_path(root, path) for path in report.changed_files]
    if report.lock_written:
        files.append(shown_path(lockfile.parent, lockfile.name))
    flags = {client: report.flags[client].as_dict() for client in report.flags}
    return {
        "flags": json.dumps(flags, separators=(",", ":")),
        "changed": "true" if files else "false",
        "files": "\n".join(files),
        "clients": " ".join(report.clients),
    }


def report_build(
    report: RunReport,
    command: str,
    *,
    root: Path,
    lockfile: Path,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Annotations for failed clients and hand-edited files, step outputs, a job summary."""
    environ = os.environ if environ is None else environ
    for failure in report.failures:
        annotate("error", failure.reason, title=f"client {failure.client}", environ=environ)
    for client, paths in report.conflicts.items():
        for path in paths:
            annotate(
                "warning",
                f"changed by hand since nudge-build wrote it; client {client}'s files were "
                "left as they are",
                file=str(root / path),
                title="nudge-build: file changed by hand",
                environ=environ,
            )
    annotate_warnings(report.warnings, environ)
    outputs = build_outputs(report, root=root, lockfile=lockfile)
    set_outputs(outputs, environ)
    files = outputs["files"].splitlines()
    append_summary(build_summary_markdown(report, command, files, root=root), environ)


def print_client_details(report: RunReport, echo: Callable[[str], None]) -> None:
    """One folded group per client: its flags and what happened to each of its files."""
    for plan in report.plans:
        changed = [c for c in plan.changes if c.action != "unchanged"]
        state = "changed by hand, left as is" if plan.conflicts else f"{len(changed)} changed"
        with group(f"{plan.client}: {len(plan.changes)} files, {state}"):
            flags = report.flags.get(plan.client)
            if flags is not None:
                echo("flags: " + ", ".join(f"{f.name}={'yes' if f.value else 'no'}" for f in flags))
            verb = "would " if report.dry_run else ""
            for change in plan.changes:
                echo(f"  {verb}{change.action} {change.path}")
            for path in plan.conflicts:
                echo(f"  changed by hand: {path}")


def build_summary_markdown(
    report: RunReport, command: str, files: Sequence[str], *, root: Path
) -> str:
    title = f"## nudge-build {command}" + (" (dry run)" if report.dry_run else "")
    lines = [title, "", *impact_table(report.impacts)]
    lines += [f"{report.built} of {len(report.clients)} clients {_done(report, command)}.", ""]
    if report.flags:
        lines += _flags_table(report)
    verb = "Files that would change" if report.dry_run else "Files changed"
    lines += _path_list(verb, files)
    if report.failures:
        lines += ["", f"**Failed clients: {len(report.failures)}**", ""]
        lines += [f"- {_code(f.client)}: {markdown_text(f.reason)}" for f in report.failures]
    if report.conflicts:
        lines += ["", "**Changed by hand, left as they are:**", ""]
        lines += [
            f"- {_code(shown_path(root, p))}" for paths in report.conflicts.values() for p in paths
        ]
    if report.removed_clients:
        removed = ", ".join(_code(c) for c in report.removed_clients)  # ids from the lockfile
        lines += ["", f"Clients no longer configured: {removed}"]
    return "\n".join(lines) + "\n"


def _done(report: RunReport, command: str) -> str:
    done = "rendered" if command == "render" else "built"
    return f"would be {done}" if report.dry_run else done


def _flags_table(report: RunReport) -> list[str]:
    names: list[str] = []
    for client_flags in report.flags.values():
        names += [f.name for f in client_flags if f.name not in names]
    lines = ["| client | " + " | ".join(_code(n, in_table=True) for n in names) + " |"]
    lines.append("|---" * (len(names) + 1) + "|")
    overridden = False
    for client_id, client_flags in report.flags.items():
        by_name = {f.name: f for f in client_flags}
        cells = []
        for name in names:
            flag = by_name.get(name)
            if flag is None:
                cells.append(" ")
                continue
            mark = "✅" if flag.value else "—"
            if flag.source == "override":
                mark += "\\*"
                overridden = True
            cells.append(mark)
        lines.append(f"| {_code(client_id, in_table=True)} | " + " | ".join(cells) + " |")
    if overridden:
        lines += ["", "\\* set by an override in the config"]
    return [*lines, ""]


def _path_list(heading: str, paths: Sequence[str]) -> list[str]:
    lines = [f"**{heading}: {len(paths)}**"]
    if not paths:
        return lines
    lines += ["", "<details><summary>paths</summary>", ""]
    lines += [f"- {_code(p)}" for p in paths[:SUMMARY_MAX_PATHS]]
    if len(paths) > SUMMARY_MAX_PATHS:
        lines.append(f"- … and {len(paths) - SUMMARY_MAX_PATHS} more")
    return [*lines, "", "</details>"]


def check_outputs(report: CheckReport, *, root: Path, lockfile: Path) -> dict[str, str]:
    """``changed`` (anything out of date) and ``files`` (the paths that drifted)."""
    files: list[str] = []
    for drift in report.drifts:
        if drift.kind == "lock":
            path = shown_path(lockfile.parent, lockfile.name)
        else:
            path = shown_path(root, drift.path)
        if path not in files:
            files.append(path)
    return {"changed": "true" if report.drifts else "false", "files": "\n".join(files)}


def report_check(
    report: CheckReport, *, root: Path, lockfile: Path, environ: Mapping[str, str] | None = None
) -> None:
    from nudge_build.check import CAUSES

    environ = os.environ if environ is None else environ
    for failure in report.failures:
        annotate("error", failure.reason, title=f"client {failure.client}", environ=environ)
    annotate_warnings(report.warnings, environ)
    outputs = check_outputs(report, root=root, lockfile=lockfile)
    set_outputs(outputs, environ)
    lock_shown = shown_path(lockfile.parent, lockfile.name)
    lines = ["## nudge-build check", "", *impact_table(report.impacts)]
    if not report.drifts:
        lines.append("Generated files and the lockfile are up to date.")
    else:
        lines += [report.summary_line(), ""]  # our words and commands only: no escaping
        lines += ["| client | what | path | fix |", "|---|---|---|---|"]
        for drift in report.drifts[:SUMMARY_MAX_PATHS]:
            what = markdown_text(
                f"lockfile: {drift.detail}" if drift.kind == "lock" else CAUSES[drift.cause]
            )
            path = lock_shown if drift.kind == "lock" else shown_path(root, drift.path)
            fix = _code(drift.fix, in_table=True)
            client = _code(drift.client, in_table=True)
            lines.append(f"| {client} | {what} | {_code(path, in_table=True)} | {fix} |")
        if len(report.drifts) > SUMMARY_MAX_PATHS:
            lines.append(f"| … | {len(report.drifts) - SUMMARY_MAX_PATHS} more | | |")
    if report.failures:
        lines += ["", f"**Failed clients: {len(report.failures)}**", ""]
        lines += [f"- {_code(f.client)}: {markdown_text(f.reason)}" for f in report.failures]
    append_summary("\n".join(lines) + "\n", environ)


def report_fetch(report: RunReport, environ: Mapping[str, str] | None = None) -> None:
    """Annotations for failed clients; a summary led by the clients whose flags changed."""
    environ = os.environ if environ is None else environ
    for failure in report.failures:
        annotate("error", failure.reason, title=f"client {failure.client}", environ=environ)
    fetched = len(report.clients) - len(report.failures)
    lines = ["## nudge-build fetch", "", *impact_table(report.impacts)]
    lines.append(f"{fetched} of {len(report.clients)} clients fetched.")
    append_summary("\n".join(lines) + "\n", environ)


def annotate_warnings(warnings: Sequence[RunWarning], environ: Mapping[str, str]) -> None:
    for warning in warnings:
        annotate("warning", warning.message, title=f"client {warning.client}", environ=environ)


def impact_table(impacts: Sequence[ClientImpact]) -> list[str]:
    """The table a summary leads with: each client whose flags changed against the lockfile,
    and what that changes for store review; new clients after them. Empty when none did."""
    if not impacts:
        return []
    ordered = sorted(impacts, key=lambda i: i.new_client)  # stable: config order within each
    lines = [
        f"### Flag changes to review: {len(impacts)} client(s)",
        "",
        "| client | organization | flags | what it changes |",
        "|---|---|---|---|",
    ]
    for impact in ordered[:SUMMARY_MAX_PATHS]:
        effects = "<br>".join(markdown_text(e) for e in impact.effects) or "—"
        lines.append(
            f"| {_code(impact.client, in_table=True)} | {markdown_text(impact.organization)} "
            f"| {markdown_text(impact.change_text)} | {effects} |"
        )
    if len(ordered) > SUMMARY_MAX_PATHS:
        lines.append(f"| … | {len(ordered) - SUMMARY_MAX_PATHS} more | | |")
    return [*lines, ""]


def report_review(
    clients: Sequence[str], written: Sequence[Path], environ: Mapping[str, str] | None = None
) -> None:
    """``clients`` and ``files`` (the kits written, one a line) and a summary listing them."""
    environ = os.environ if environ is None else environ
    files = [shown_path(Path(), str(path)) for path in written]
    set_outputs({"clients": " ".join(clients), "files": "\n".join(files)}, environ)
    lines = ["## nudge-build review", "", f"Store-submission kits for {len(clients)} client(s)."]
    lines += ["", *_path_list("Kits written", files)] if written else []
    append_summary("\n".join(lines) + "\n", environ)


def report_matrix(
    shards: Sequence[Shard], matrix: str, environ: Mapping[str, str] | None = None
) -> None:
    environ = os.environ if environ is None else environ
    set_outputs({"matrix": matrix, "shards": str(len(shards))}, environ)
    total = sum(len(s.clients) for s in shards)
    lines = [
        "## nudge-build matrix",
        "",
        f"{total} clients in {len(shards)} jobs.",
        "",
        "| shard | clients | ids |",
        "|---|---|---|",
    ]
    for shard in shards:
        ids = " ".join(shard.clients)
        shown = ids if len(ids) <= 200 else ids[:200].rsplit(" ", 1)[0] + " …"
        label = _code(shard.label, in_table=True)
        lines.append(f"| {label} | {len(shard.clients)} | {markdown_text(shown)} |")
    append_summary("\n".join(lines) + "\n", environ)


# -- Markdown ---------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~&])")


# GitHub also links bare "scheme://…" and "www.…" in text; an escaped ':' or '.' stops that and
# still shows as itself. (A bare e-mail address stays a mailto: link showing that address.)
_AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=www)\.")


def markdown_text(text: str) -> str:
    """Untrusted text as literal Markdown: no links, images, HTML or table breaks, one line."""
    one_line = " ".join(text.split())
    return _AUTOLINK.sub(lambda m: "\\" + m.group(), _MARKDOWN_SPECIAL.sub(r"\\\1", one_line))


def _code(text: str, *, in_table: bool = False) -> str:
    """A code span that holds any text: the fence is longer than any run of backticks in it."""
    one_line = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    if in_table:  # a | ends a table cell even inside a code span, unless escaped
        one_line = one_line.replace("|", "\\|")
    return f"{fence}{pad}{one_line}{pad}{fence}"
