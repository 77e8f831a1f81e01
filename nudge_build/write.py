"""Atomic, change-aware writes under ``output.root``.

Each client's files are staged as temporary files beside their targets, then moved into place
with ``os.replace``: a killed process leaves every file either old or new, never torn. Unchanged
files are not touched (their mtime stays, so Xcode and Gradle do not rebuild). Files that an
earlier run wrote and this one no longer produces are removed; files changed by hand are
reported and left alone unless ``force``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nudge_build.errors import ConfigError, NudgeBuildError
from nudge_build.lock import file_digest

TEMP_MARKER = ".nudge-tmp"
Action = Literal["create", "update", "unchanged", "remove"]


class OutputError(NudgeBuildError):
    """The output tree cannot be written (permissions, disk full, a symlink out of the root)."""

    exit_code = 2


@dataclass(frozen=True)
class FileChange:
    path: str  # root-relative, POSIX separators
    action: Action
    old: bytes | None
    new: bytes | None


@dataclass(frozen=True)
class ClientPlan:
    client: str
    changes: tuple[FileChange, ...]
    # Files changed by hand since nudge-build wrote them (or not written by it at all).
    conflicts: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)  # what the lock should record

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def touches_disk(self) -> bool:
        return any(change.action != "unchanged" for change in self.changes)


def resolve_in_root(root: Path, relative: str) -> Path:
    """The absolute path for ``relative``; refuses a path that leaves the root via a symlink."""
    real_root = Path(os.path.realpath(root))
    candidate = real_root / relative
    # Check the parent chain: a symlinked directory inside the root could point anywhere.
    real_parent = Path(os.path.realpath(candidate.parent))
    if real_parent != real_root and real_root not in real_parent.parents:
        raise ConfigError(f"{root / relative}: leaves the output root {root} through a symlink")
    target = real_parent / candidate.name
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise ConfigError(f"{root / relative}: exists and is not a plain file; refusing to write")
    return target


def plan_client(
    root: Path,
    client: str,
    rendered: Mapping[str, bytes],
    previous: Mapping[str, str],
    *,
    force: bool = False,
) -> ClientPlan:
    """Compare what this run renders with the disk and with what the last run recorded."""
    changes: list[FileChange] = []
    conflicts: list[str] = []
    for relative in sorted(rendered):
        new = rendered[relative]
        old = _read(resolve_in_root(root, relative))
        if old == new:
            changes.append(FileChange(relative, "unchanged", old, new))
            continue
        if old is not None and not force and previous.get(relative) != file_digest(old):
            conflicts.append(relative)
        changes.append(FileChange(relative, "create" if old is None else "update", old, new))
    for relative in sorted(set(previous) - set(rendered)):
        old = _read(resolve_in_root(root, relative))
        if old is None:
            continue
        if not force and previous[relative] != file_digest(old):
            conflicts.append(relative)
        changes.append(FileChange(relative, "remove", old, None))
    files = {path: file_digest(data) for path, data in rendered.items()}
    return ClientPlan(client, tuple(changes), tuple(conflicts), files)


def apply_plan(root: Path, plan: ClientPlan) -> None:
    """Stage every new file, then move them all into place; on a failure nothing changes."""
    if plan.conflicts:
        raise AssertionError("apply_plan called with conflicts")
    writes = [c for c in plan.changes if c.action in ("create", "update")]
    staged: list[tuple[Path, Path]] = []
    try:
        for change in writes:
            assert change.new is not None
            target = resolve_in_root(root, change.path)
            staged.append((_stage(target, change.new), target))
    except OSError as exc:
        for temp, _ in staged:
            _unlink_quietly(temp)
        raise OutputError(f"cannot write {exc.filename or root}: {exc.strerror}") from exc
    replaced: list[tuple[Path, bytes | None]] = []
    try:
        for (temp, target), change in zip(staged, writes, strict=True):
            temp.replace(target)
            replaced.append((target, change.old))
    except OSError as exc:
        _roll_back(replaced)
        for temp, _ in staged[len(replaced) :]:
            _unlink_quietly(temp)
        raise OutputError(f"cannot replace {exc.filename}: {exc.strerror}") from exc
    for change in plan.changes:
        if change.action == "remove":
            target = resolve_in_root(root, change.path)
            try:
                target.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OutputError(f"cannot remove {target}: {exc.strerror}") from exc
            _prune_empty_dirs(target.parent, Path(os.path.realpath(root)))


def remove_orphans(root: Path, files: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Remove the files of a client no longer configured; keep (and report) hand-edited ones."""
    removed, kept = [], []
    for relative, digest in sorted(files.items()):
        target = resolve_in_root(root, relative)
        data = _read(target)
        if data is None:
            continue
        if file_digest(data) != digest:
            kept.append(relative)
            continue
        target.unlink()
        removed.append(relative)
        _prune_empty_dirs(target.parent, Path(os.path.realpath(root)))
    return removed, kept


def clean_temporaries(root: Path) -> int:
    """Delete temporary files a killed run left behind; they are ours by name."""
    if not root.is_dir():
        return 0
    count = 0
    for path in root.rglob(f"*{TEMP_MARKER}"):
        if path.is_file() and path.name.startswith("."):
            _unlink_quietly(path)
            count += 1
    return count


def write_file_atomically(path: Path, data: bytes) -> bool:
    """For single files outside a plan (the lockfile); False when the bytes were unchanged."""
    if _read(path) == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _stage(path, data).replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    return True


def _stage(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_MARKER}")
    try:
        with temp.open("xb") as handle:
            handle.write(data)
        # Keep the permissions a user gave the file (e.g. read-only review copies stay so).
        if target.exists():
            temp.chmod(target.stat().st_mode & 0o7777)
    except OSError:
        _unlink_quietly(temp)
        raise
    return temp


def _roll_back(replaced: Iterable[tuple[Path, bytes | None]]) -> None:
    for target, old in replaced:
        try:
            if old is None:
                target.unlink()
            else:
                _stage(target, old).replace(target)
        except OSError:
            pass  # best effort: the error that brought us here is the one to report


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory where a file should be written") from None
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror}") from exc


def _prune_empty_dirs(directory: Path, real_root: Path) -> None:
    while directory != real_root and real_root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
