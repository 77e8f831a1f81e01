"""Atomic, change-aware writes under ``output.root``.

Each client's files are staged as temporary files beside their targets, then moved into place
with ``os.replace``: a killed process leaves every file either old or new, never torn (the
promise is against a killed process, not a power cut: nothing is fsynced). Unchanged files are
not touched (their mtime stays, so Xcode and Gradle do not rebuild). Files that an earlier run
wrote and this one no longer produces are removed; files changed by hand are reported and left
alone unless ``force``.

``output.root`` itself may be a symlink (the user chose it); nothing *under* it may lead
outside it, and a target must be a plain file or not exist yet.

Before its first replace a run records the digests it is about to write in a journal beside the
lockfile. A run killed after some replaces but before the lockfile was written leaves files the
lockfile does not know; the journal lets the next run recognise them as its own rather than as
edits by hand.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from nudge_build.errors import ConfigError, NudgeBuildError
from nudge_build.lock import file_digest

TEMP_SUFFIX = ".nudge-tmp"
# ``.<name>.<12 hex>.nudge-tmp``: only names of exactly this shape are ever cleaned up.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}" + re.escape(TEMP_SUFFIX) + r"\Z", re.DOTALL)
Action = Literal["create", "update", "unchanged", "remove"]

# Every rename that moves a file into place or a stale file aside goes through this name, and
# tests swap it for one that fails on a chosen path. That is the only way to exercise the undo
# paths everywhere: as root (CI containers) no permission bit stops a rename and `chattr +i`
# needs a capability containers lack, and for a normal user a folder that refuses renames
# refuses the staged file before them. Rollbacks use the real call, never this one.
_rename = os.replace


class OutputError(NudgeBuildError):
    """The output tree cannot be written (permissions, disk full, a path changed under us)."""

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


# -- paths ----------------------------------------------------------------------------------


def resolve_in_root(root: Path, relative: str, real_dirs: dict[str, Path] | None = None) -> Path:
    """The real path for ``relative``; a config error if it could write outside the root.

    Refused: a path that is not plainly relative, one whose directories lead out of the root
    through a symlink, one that needs a directory where a file is, and a target that exists
    but is not a plain file (a directory, a symlink, a FIFO …).
    """
    shown = root / relative
    parts = relative.split("/")
    if (
        not relative
        or relative.startswith("/")
        or "\0" in relative
        or "\\" in relative
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ConfigError(f"{relative!r}: not a plain relative path under the output root {root}")
    directory = "/".join(parts[:-1])
    real_parent = None if real_dirs is None else real_dirs.get(directory)
    if real_parent is None:
        real_root = Path(os.path.realpath(root))
        real_parent = Path(os.path.realpath(real_root.joinpath(*parts[:-1])))
        if not _within(real_parent, real_root):
            raise ConfigError(
                f"{shown}: leads outside the output root {root} through a symlink "
                f"(to {real_parent}); refusing to write there"
            )
        probe = real_parent
        while not os.path.lexists(probe):  # the nearest existing directory must be a directory
            probe = probe.parent
        if not probe.is_dir():
            raise ConfigError(f"{shown}: {probe} is not a directory")
        if real_dirs is not None:
            real_dirs[directory] = real_parent
    target = real_parent / parts[-1]
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there, as exists() would say
        return target
    if stat.S_ISLNK(mode):
        raise ConfigError(f"{shown}: is a symlink; nudge-build only writes plain files")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{shown}: exists and is not a plain file; refusing to write")
    return target


def read_target(
    root: Path, relative: str, real_dirs: dict[str, Path] | None = None
) -> bytes | None:
    """What is at a target now (None when nothing is); refuses what ``resolve_in_root`` does."""
    path = resolve_in_root(root, relative, real_dirs)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot read {root / relative}: {exc.strerror}") from exc


def _within(path: Path, real_root: Path) -> bool:
    return path == real_root or real_root in path.parents


# -- planning -------------------------------------------------------------------------------


def plan_client(
    root: Path,
    client: str,
    rendered: Mapping[str, bytes],
    previous: Mapping[str, str],
    *,
    force: bool = False,
    interrupted: Mapping[str, Collection[str]] | None = None,
) -> ClientPlan:
    """Compare what this run renders with the disk and with what earlier runs wrote.

    ``previous`` is the lockfile's record (path -> digest); ``interrupted`` the digests an
    interrupted run was about to write (path -> digests). A file on disk with one of those
    digests is nudge-build's own; any other content is a change by hand, kept unless ``force``.
    """
    interrupted = interrupted or {}

    def ours(relative: str, data: bytes) -> bool:
        digest = file_digest(data)
        return previous.get(relative) == digest or digest in interrupted.get(relative, ())

    changes: list[FileChange] = []
    conflicts: list[str] = []
    real_dirs: dict[str, Path] = {}  # this plan's directories, each resolved once
    for relative in sorted(rendered):
        new = rendered[relative]
        old = read_target(root, relative, real_dirs)
        if old == new:
            changes.append(FileChange(relative, "unchanged", old, new))
            continue
        if old is not None and not force and not ours(relative, old):
            conflicts.append(relative)
        changes.append(FileChange(relative, "create" if old is None else "update", old, new))
    for relative in sorted((set(previous) | set(interrupted)) - set(rendered)):
        try:
            old = read_target(root, relative)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (recorded for client {client} by an earlier run)") from None
        if old is None:
            continue
        if not ours(relative, old):
            if relative not in previous:
                continue  # only an interrupted run meant to write here: not ours to judge
            if not force:
                conflicts.append(relative)
        changes.append(FileChange(relative, "remove", old, None))
    files = {path: file_digest(data) for path, data in rendered.items()}
    return ClientPlan(client, tuple(changes), tuple(sorted(conflicts)), files)


# -- applying -------------------------------------------------------------------------------


@dataclass
class _Undo:
    """What a half-applied plan has done so far, so that it can be put back."""

    dirs: list[Path] = field(default_factory=list)  # created, parents first
    temps: list[Path] = field(default_factory=list)  # staged files and backups to delete
    replaced: list[tuple[Path, Path | None, bytes | None]] = field(default_factory=list)
    set_aside: list[tuple[Path, Path]] = field(default_factory=list)  # (temp, target)

    def roll_back(self) -> None:
        # Best effort: the error that brought us here is the one to report.
        for target, backup, old in reversed(self.replaced):
            try:
                if backup is not None:
                    backup.replace(target)  # same inode back: mode and mtime as they were
                elif old is None:
                    target.unlink()
                else:
                    _stage(target, old).replace(target)
            except OSError:
                pass
        for temp, target in reversed(self.set_aside):
            try:
                temp.replace(target)
            except OSError:
                pass
        for temp in self.temps:
            _unlink_quietly(temp)
        for directory in reversed(self.dirs):
            try:
                directory.rmdir()
            except OSError:
                pass


def apply_plan(root: Path, plan: ClientPlan) -> None:
    """Make the disk match the plan: all of the client's changes, or on any failure none.

    Every new file is staged beside its target and every file to be removed is moved aside
    first; only then are the staged files moved into place, one ``os.replace`` each. A failure
    at any step puts back what was done (and removes what was staged) before raising.
    """
    if plan.conflicts:
        raise ValueError(f"client {plan.client}: a plan with conflicts cannot be applied")
    writes = [
        (change, resolve_in_root(root, change.path))
        for change in plan.changes
        if change.action in ("create", "update")
    ]
    removals = [
        (change, resolve_in_root(root, change.path))
        for change in plan.changes
        if change.action == "remove"
    ]
    undo = _Undo()
    staged: list[tuple[Path, Path]] = []
    doing, shown = "write", root
    try:
        for change, target in writes:
            shown = root / change.path
            assert change.new is not None
            _make_parents(target.parent, undo.dirs)
            temp = _stage(target, change.new)
            undo.temps.append(temp)
            staged.append((temp, target))
        for change, target in removals:
            doing, shown = "remove", root / change.path
            aside = _temp_path(target)
            try:
                _rename(target, aside)
            except FileNotFoundError:
                continue  # already gone: nothing to remove
            undo.set_aside.append((aside, target))
        for (temp, target), (change, _) in zip(staged, writes, strict=True):
            doing, shown = "write", root / change.path
            backup = _backup(target) if change.old is not None else None
            if backup is not None:
                undo.temps.append(backup)
            _rename(temp, target)
            undo.temps.remove(temp)
            undo.replaced.append((target, backup, change.old))
    except OSError as exc:
        undo.roll_back()
        raise OutputError(
            f"cannot {doing} {shown}: {_reason(exc)}; none of client {plan.client}'s files "
            "were changed",
            file=str(shown),
        ) from exc
    for temp in undo.temps:
        _unlink_quietly(temp)
    for temp, _ in undo.set_aside:
        _unlink_quietly(temp)
    for change, _ in removals:
        _prune_empty_dirs(root, change.path)


def write_file_atomically(path: Path, data: bytes) -> bool:
    """For single files outside a plan (the lockfile); False when the bytes were unchanged."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = _stage(path, data)
        try:
            _rename(temp, path)
        except OSError:
            _unlink_quietly(temp)  # or a failed rename would leave it beside the lockfile
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}", file=str(path)) from exc
    return True


def clean_temporaries(root: Path | None, lockfile: Path | None = None) -> list[Path]:
    """Delete the temporary files a killed run left: under ``root``, and the lockfile's own.

    Only names of the exact shape nudge-build gives its temporaries are touched, symlinks never,
    and nothing outside ``root`` but the temporaries of the lockfile and its journal. A run
    that writes only the lockfile passes no ``root``: walking the output tree would cost it
    more than its own work (tens of ms for 2,500 files, more with a cold disk cache).
    """
    found: list[Path] = []
    if root is not None and root.is_dir():
        for dirpath, _dirnames, filenames in os.walk(root):  # does not follow symlinks
            found += [Path(dirpath) / n for n in filenames if _TEMP_NAME.fullmatch(n)]
    if lockfile is not None and lockfile.parent.is_dir():
        prefixes = tuple(f".{_short(p.name)}." for p in (lockfile, journal_path(lockfile)))
        with os.scandir(lockfile.parent) as entries:
            found += [
                Path(e.path)
                for e in entries
                if _TEMP_NAME.fullmatch(e.name) and e.name.startswith(prefixes)
            ]
    removed = []
    for path in dict.fromkeys(found):
        if not path.is_symlink() and path.is_file():
            _unlink_quietly(path)
            removed.append(path)
    return removed


def _stage(target: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``target``, with ``target``'s permissions."""
    temp = _temp_path(target)
    try:
        with temp.open("xb") as handle:  # 0o666 less the umask, like any new file
            handle.write(data)
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            pass
        else:
            temp.chmod(mode)  # keep what the user chose (e.g. read-only review copies)
    except BaseException:
        _unlink_quietly(temp)
        raise
    return temp


def _backup(target: Path) -> Path | None:
    """A second name for the file about to be replaced, so a rollback restores it exactly."""
    backup = _temp_path(target)
    try:
        os.link(target, backup)
    except OSError:
        return None  # no hard links here: a rollback rewrites the old bytes instead
    return backup


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{_short(target.name)}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def _short(name: str) -> str:
    # Room for our prefix and suffix within a file system's 255-byte name limit.
    return name.encode("utf-8", "surrogateescape")[:200].decode("utf-8", "ignore")


def _make_parents(directory: Path, created: list[Path]) -> None:
    """Create ``directory`` and its missing parents, appending each one made to ``created``."""
    missing: list[Path] = []
    probe = directory
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        created.append(path)


def _prune_empty_dirs(root: Path, relative: str) -> None:
    """Remove the directories a removed file leaves empty, up to but never including the root."""
    for parent in PurePosixPath(relative).parents:
        if parent == PurePosixPath("."):
            return
        directory = root / parent
        if directory.is_symlink():
            return
        try:
            directory.rmdir()
        except OSError:
            return


def _reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    # Name the directory when that is what failed; a temporary's name would only confuse.
    if exc.filename and not _TEMP_NAME.fullmatch(Path(exc.filename).name):
        reason += f" ({exc.filename})"
    return reason


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def journal_path(lockfile: Path) -> Path:
    return lockfile.with_name(f".{lockfile.name}.journal")
