"""Copied stock templates, and how far they fell behind the stock ones since.

A copy in ``[templates].dir`` replaces the stock template of the same name for good, so a fix in
a newer nudge-build never reaches it. ``init --copy-templates`` therefore records, beside the
copies, each stock template as it was copied (``.nudge-stock.toml``): its digest says whether the
stock one changed since, and its text is what ``templates --diff`` compares the stock one with (a
digest alone cannot show what changed).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from nudge_build import __version__, targets
from nudge_build.errors import ConfigError

MANIFEST_NAME = ".nudge-stock.toml"
_HEADER = (
    "# Written by `nudge-build init --copy-templates`: the stock templates as they were copied\n"
    "# here, so that `nudge-build templates --diff` can show what changed in them since.\n"
    "# Keep it with the copies; delete a copy's entry once you have caught up with the stock.\n\n"
)


@dataclass(frozen=True)
class Behind:
    """A copied template whose stock original changed after it was copied."""

    name: str  # e.g. ios/NudgeInfo.plist.j2
    copy: Path
    then: str  # the stock text when copied
    now: str | None  # the stock text today; None when the stock set no longer has it


def stock_files() -> dict[str, bytes]:
    # Looked up through the module each time: tests point it at a temporary copy to simulate an
    # upgrade of nudge-build, which is the only way the stock templates change.
    base = targets.stock_template_dir()
    return {
        path.relative_to(base).as_posix(): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def copy_stock_templates(destination: Path) -> Path:
    """Copy every stock template into ``destination`` with the record of what was copied."""
    files = stock_files()
    entries = {}
    for name, data in files.items():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        entries[name] = {"digest": digest(data), "text": data.decode("utf-8", "replace")}
    manifest = destination / MANIFEST_NAME
    document = {"nudge_build_version": __version__, "templates": entries}
    manifest.write_text(_HEADER + tomli_w.dumps(document, multiline_strings=True), "utf-8")
    return manifest


def behind(directory: Path) -> list[Behind] | None:
    """Copies in ``directory`` whose stock template changed since; None without a record."""
    manifest = directory / MANIFEST_NAME
    try:
        recorded = tomllib.loads(manifest.read_text(encoding="utf-8"))["templates"]
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{manifest}: not a record of copied templates ({exc})") from exc
    stock = stock_files()
    found = []
    for name, entry in sorted(recorded.items()):
        copy = directory / name
        if not isinstance(entry, dict) or not copy.is_file():
            continue  # a copy the partner deleted: the stock template is used again
        now = stock.get(name)
        if now is not None and digest(now) == entry.get("digest"):
            continue
        text = now.decode("utf-8", "replace") if now is not None else None
        found.append(Behind(name, copy, str(entry.get("text", "")), text))
    return found


def behind_note(directory: Path | None) -> str | None:
    """The one line ``build`` prints when copied templates fell behind, else None."""
    if directory is None:
        return None
    try:
        found = behind(directory)
    except ConfigError:
        return None  # `templates --diff` reports a damaged record; a build need not stop
    if not found:
        return None
    names = ", ".join(b.name for b in found)
    return (
        f"note: {len(found)} template(s) copied to {directory} changed in the stock set since "
        f"they were copied: {names}; see `nudge-build templates --diff`"
    )


def diff_lines(directory: Path | None) -> list[str]:
    """``templates --diff``: for each copy that fell behind, the stock change since the copy."""
    from nudge_build.report import unified_diff

    if directory is None:
        raise ConfigError(
            "templates --diff: the config sets no [templates].dir, so no stock template is "
            "replaced by a copy"
        )
    found = behind(directory)
    if found is None:
        raise ConfigError(
            f"templates --diff: {directory / MANIFEST_NAME} not found: it is written by "
            "`nudge-build init --copy-templates`, and without it there is no record of what "
            "was copied"
        )
    if not found:
        return [f"the templates copied to {directory} are up to date with the stock ones"]
    lines = []
    for item in found:
        if item.now is None:
            lines.append(f"{item.name}: no longer a stock template; your copy {item.copy} is used")
            continue
        lines.append(
            f"{item.name}: the stock template changed since it was copied to {item.copy} "
            "(a/: stock when copied, b/: stock now)"
        )
        then, now = item.then.encode("utf-8"), item.now.encode("utf-8")
        lines.append(unified_diff(item.name, then, now).rstrip("\n"))
    return lines
