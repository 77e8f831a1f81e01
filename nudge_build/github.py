"""GitHub Actions glue: masks, step outputs, job summary, annotations.

On when ``GITHUB_ACTIONS=true``.
"""

from __future__ import annotations

import os
import secrets as _random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nudge_build import secret


def active(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def mask(value: str) -> None:
    """``::add-mask::`` before the value can appear anywhere; the runner hides it from logs."""
    sys.stdout.write(f"::add-mask::{_escape_data(value)}\n")
    sys.stdout.flush()


def mask_secrets() -> None:
    """Mask every secret already known, and every one learned later, as soon as it is known."""
    secret.add_listener(mask)


def annotate_error(message: str, *, file: str | None, line: int | None) -> None:
    properties = []
    if file:
        properties.append(f"file={_escape_property(_relative(file))}")
    if line:
        properties.append(f"line={line}")
    head = "::error " + ",".join(properties) if properties else "::error"
    sys.stdout.write(f"{head}::{_escape_data(secret.redact(message))}\n")
    sys.stdout.flush()


def set_outputs(values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> None:
    """Append ``name<<DELIM`` blocks to $GITHUB_OUTPUT with a random delimiter per value."""
    environ = os.environ if environ is None else environ
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    chunks = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{_random.token_hex(16)}"
        if delimiter in value or "\n" in name or "\r" in name:
            raise ValueError(f"refusing step output {name!r}: it contains its delimiter")
        chunks.append(f"{name}<<{delimiter}\n{secret.redact(value)}\n{delimiter}\n")
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write("".join(chunks))


def append_summary(markdown: str, environ: Mapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(secret.redact(markdown))


def report_build(report: Any, command: str) -> None:
    """Step outputs and a job summary for build/render runs."""
    import json

    flags = {c: f.as_dict() for c, f in report.flags.items()}
    changed = report.changed_files
    set_outputs(
        {
            "flags": json.dumps(flags, separators=(",", ":")),
            "changed": "true" if changed else "false",
            "files": "\n".join(changed),
        }
    )
    append_summary(summary_markdown(report, command))


def summary_markdown(report: Any, command: str) -> str:
    names: list[str] = []
    for client_flags in report.flags.values():
        for flag in client_flags:
            if flag.name not in names:
                names.append(flag.name)
    lines = [f"## nudge-build {command}", ""]
    if report.flags:
        lines.append("| client | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        for client_id, client_flags in report.flags.items():
            values = client_flags.as_dict()
            cells = ["✅" if values.get(n) else "—" for n in names]
            lines.append(f"| `{client_id}` | " + " | ".join(cells) + " |")
        lines.append("")
    changed = report.changed_files
    lines.append(f"**Files changed:** {len(changed)}")
    lines.extend(f"- `{_md(path)}`" for path in changed[:200])
    if len(changed) > 200:
        lines.append(f"- … and {len(changed) - 200} more")
    if report.failures:
        lines += ["", f"**Failed clients:** {len(report.failures)}"]
        lines.extend(f"- `{f.client}`: {_md(f.reason)}" for f in report.failures)
    if report.conflicts:
        lines += ["", "**Changed by hand (left as they are):**"]
        lines.extend(f"- `{p}`" for paths in report.conflicts.values() for p in paths)
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _relative(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def _escape_data(value: str) -> str:
    # Workflow-command escaping: the runner decodes these, so a value cannot end the command.
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
