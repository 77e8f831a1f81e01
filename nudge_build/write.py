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

Under the root, every file is named through its directory's descriptor, and each directory is
opened by name in its parent without following a symlink: a directory swapped for a symlink
while a run writes makes that client fail (exit 2), and nothing, temporary files included, is
created, renamed or removed outside the root. (On Windows, which lacks these calls, paths are
used as they were checked.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nudge_build.errors import ConfigError, NudgeBuildError
from nudge_build.lock import file_digest, plain_relative

TEMP_SUFFIX = ".nudge-tmp"
# ``.<name>.<12 hex>.nudge-tmp``: only names of exactly this shape are ever cleaned up.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}" + re.escape(TEMP_SUFFIX) + r"\Z", re.DOTALL)
Action = Literal["create", "update", "unchanged", "remove"]


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
    # Files the lockfile lists for the client that are not its to remove (another client's,
    # or outside where its targets write): reported and left alone.
    kept: tuple[str, ...] = ()

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
    if not plain_relative(relative):
        raise ConfigError(f"{relative!r}: not a plain relative path under the output root {root}")
    parts = relative.split("/")
    directory = "/".join(parts[:-1])
    real_parent = None if real_dirs is None else real_dirs.get(directory)
    if real_parent is None:
        real_root = _realpath(root, shown)
        real_parent = _realpath(real_root.joinpath(*parts[:-1]), shown)
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
        # Not through a symlink, nor from a FIFO, put there since the check.
        fd = os.open(path, _READ_FLAGS)
        try:
            # Checked before fdopen: fdopen refuses a folder but leaves the descriptor open.
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "no longer a plain file", str(path))
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read()
        finally:
            os.close(fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot read {root / relative}: {exc.strerror}") from exc


def _within(path: Path, real_root: Path) -> bool:
    return path == real_root or real_root in path.parents


def _realpath(path: Path, shown: Path) -> Path:
    """``os.path.realpath``, with a symlink changed while it is followed refused like any other.

    Before Python 3.13, realpath reads a symlink it has just seen (``lstat``) with an unguarded
    ``readlink``: a symlink removed, or swapped back for its folder, in between makes it raise
    (ENOENT, EINVAL), which would end the run as an internal error. 3.13 goes on with the name
    unresolved instead, and the descriptor-based writes catch whatever is there.
    """
    try:
        return Path(os.path.realpath(path))
    except OSError as exc:
        link = exc.filename or path
        raise ConfigError(
            f"{shown}: the symlink {link} was removed or replaced during the run, while it was "
            f"being followed ({exc.strerror}); refusing to write there"
        ) from None


# -- planning -------------------------------------------------------------------------------


def plan_client(
    root: Path,
    client: str,
    rendered: Mapping[str, bytes],
    previous: Mapping[str, str],
    *,
    force: bool = False,
    interrupted: Mapping[str, Collection[str]] | None = None,
    may_remove: Callable[[str], bool] | None = None,
) -> ClientPlan:
    """Compare what this run renders with the disk and with what earlier runs wrote.

    ``previous`` is the lockfile's record (path -> digest); ``interrupted`` the digests an
    interrupted run was about to write (path -> digests). A file on disk with one of those
    digests is nudge-build's own; any other content is a change by hand, kept unless ``force``.
    A recorded file this run no longer renders goes only if ``may_remove`` allows it (the
    lockfile is a file anyone can edit); otherwise it is listed in ``kept``.
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
    kept: list[str] = []
    for relative in sorted((set(previous) | set(interrupted)) - set(rendered)):
        try:
            old = read_target(root, relative)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (recorded for client {client} by an earlier run)") from None
        if old is None:
            continue
        if may_remove is not None and not may_remove(relative):
            if relative in previous:
                kept.append(relative)
            continue
        if not ours(relative, old):
            if relative not in previous:
                continue  # only an interrupted run meant to write here: not ours to judge
            if not force:
                conflicts.append(relative)
        changes.append(FileChange(relative, "remove", old, None))
    files = {path: file_digest(data) for path, data in rendered.items()}
    return ClientPlan(client, tuple(changes), tuple(sorted(conflicts)), files, tuple(kept))


# -- places: names in open directories ------------------------------------------------------

# Whether this platform can name a file relative to an open directory (POSIX: openat, mkdirat,
# renameat …). Windows cannot; there, and only there, paths are used as they were checked.
_FD_CALLS: set[Callable[..., Any]] = {
    os.open,
    os.mkdir,
    os.rename,
    os.rmdir,
    os.unlink,
    os.stat,
    os.link,
}
_BY_FD = _FD_CALLS <= os.supports_dir_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_ROOT_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC  # the user's: followed once
_DIR_FLAGS = _ROOT_FLAGS | _NOFOLLOW
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
# O_NONBLOCK: a FIFO put where a target was must not hang the read.
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _BINARY | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class _At(os.PathLike[str]):
    """A file named by its directory's descriptor and its name, so that a directory swapped
    for a symlink after it was opened cannot send a call elsewhere.

    ``path`` is for messages and for the test seam ``_rename`` (``os.fspath`` gives it). With
    ``dir_fd`` None, ``name`` is the whole path: for files outside the output root (the lockfile,
    merge targets), and on platforms without ``dir_fd``.
    """

    dir_fd: int | None
    name: str
    path: Path

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:  # as a path prints, so a message built from one reads the same
        return str(self.path)

    def beside(self, name: str) -> _At:
        path = self.path.with_name(name)
        return _At(self.dir_fd, name if self.dir_fd is not None else str(path), path)

    @classmethod
    def of(cls, path: os.PathLike[str] | str) -> _At:
        if isinstance(path, _At):
            return path
        whole = Path(path)
        return cls(None, str(whole), whole)


@contextlib.contextmanager
def _named(*places: _At) -> Iterator[None]:
    """An error from a call by descriptor names only the name: give it back its whole path."""
    try:
        yield
    except OSError as exc:
        for place in places:
            if exc.filename == place.name:
                exc.filename = str(place.path)
            if exc.filename2 == place.name:
                exc.filename2 = str(place.path)
        raise


class _Tree:
    """``output.root`` opened once, and each directory under it opened by name in its parent
    without following a symlink (``O_NOFOLLOW``): whatever is swapped in while a run writes,
    nothing it creates, renames or removes can be outside the root."""

    def __init__(self, real: Path, fd: int | None) -> None:
        self.real = real
        self._fds: dict[tuple[str, ...], int | None] = {(): fd}

    @classmethod
    def open(cls, root: Path, made: list[_At] | None) -> _Tree | None:
        """The tree at ``root``. With ``made``, a missing root is created (with its missing
        parents, each appended to ``made``); without, a missing root is None."""
        real = Path(os.path.realpath(root))  # the root may be a symlink the user chose
        if made is not None:
            _make_dirs_by_path(real, made)
        elif not real.is_dir():
            return None
        if not _BY_FD:
            return cls(real, None)
        return cls(real, os.open(real, _ROOT_FLAGS))

    def place(self, parts: Sequence[str], made: list[_At] | None) -> _At:
        """The file ``parts`` (relative to the real root); its missing directories are made and
        appended to ``made``, or with ``made`` None, a FileNotFoundError."""
        key = tuple(parts)
        return self._at(self.directory(key[:-1], made), key)

    def directory(self, parts: tuple[str, ...], made: list[_At] | None) -> int | None:
        if parts in self._fds:
            return self._fds[parts]
        place = self._at(self.directory(parts[:-1], made), parts)
        with _named(place):
            try:
                fd = _open_dir(place)
            except FileNotFoundError:
                if made is None:
                    raise
                try:
                    os.mkdir(place.name, dir_fd=place.dir_fd)
                except FileExistsError:
                    pass  # made by someone else since: opened below like any other
                else:
                    made.append(place)
                fd = _open_dir(place)
        self._fds[parts] = fd
        return fd

    def _at(self, dir_fd: int | None, parts: tuple[str, ...]) -> _At:
        path = self.real.joinpath(*parts)
        return _At(dir_fd, parts[-1] if dir_fd is not None else str(path), path)

    def close(self) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        self._fds.clear()


def _open_dir(place: _At) -> int | None:
    if place.dir_fd is None:  # no descriptors on this platform: the path, checked
        if not Path(place.name).is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), place.name)
        return None
    try:
        return os.open(place.name, _DIR_FLAGS, dir_fd=place.dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(place):
            raise OSError(
                exc.errno, "a symlink was put where a directory was, during the run", place.name
            ) from None
        raise


def _is_link(place: _At) -> bool:
    try:
        return stat.S_ISLNK(os.stat(place.name, dir_fd=place.dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _make_dirs_by_path(directory: Path, made: list[_At]) -> None:
    """The root and its missing parents: above the root, the user's paths are followed."""
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
        made.append(_At.of(path))


# -- applying -------------------------------------------------------------------------------


def _replace(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
    """``os.replace`` of one place by another; plain paths are renamed as paths."""
    src, dst = _At.of(source), _At.of(destination)
    with _named(src, dst):
        os.replace(src.name, dst.name, src_dir_fd=src.dir_fd, dst_dir_fd=dst.dir_fd)


# Every rename that moves a file into place or a stale file aside goes through this name, and
# tests swap it for one that fails on a chosen path. That is the only way to exercise the undo
# paths everywhere: as root (CI containers) no permission bit stops a rename and `chattr +i`
# needs a capability containers lack, and for a normal user a folder that refuses renames
# refuses the staged file before them. Rollbacks use the real call, never this one. It takes
# two path-likes (``os.fspath`` of a place is its whole path); a stand-in that hands plain
# paths back to it gets a rename by path.
_rename = _replace


@dataclass
class _Undo:
    """What a half-applied plan has done so far, so that it can be put back."""

    dirs: list[_At] = field(default_factory=list)  # created, parents first
    temps: list[_At] = field(default_factory=list)  # staged files and backups to delete
    replaced: list[tuple[_At, _At | None, bytes | None]] = field(default_factory=list)
    set_aside: list[tuple[_At, _At]] = field(default_factory=list)  # (temp, target)

    def roll_back(self) -> None:
        # Best effort: the error that brought us here is the one to report.
        for target, backup, old in reversed(self.replaced):
            try:
                if backup is not None:
                    _replace(backup, target)  # same inode back: mode and mtime as they were
                elif old is None:
                    os.unlink(target.name, dir_fd=target.dir_fd)
                else:
                    _replace(_stage_at(target, old), target)
            except OSError:
                pass
        for temp, target in reversed(self.set_aside):
            try:
                _replace(temp, target)
            except OSError:
                pass
        for temp in self.temps:
            unlink_quietly(temp)
        for directory in reversed(self.dirs):
            try:
                os.rmdir(directory.name, dir_fd=directory.dir_fd)
            except OSError:
                pass


def apply_plan(root: Path, plan: ClientPlan) -> None:
    """Make the disk match the plan: all of the client's changes, or on any failure none.

    Every new file is staged beside its target and every file to be removed is moved aside
    first; only then are the staged files moved into place, one ``os.replace`` each. A failure
    at any step puts back what was done (and removes what was staged) before raising. Every
    call names its file through the directory's descriptor (see ``_Tree``); a path that changed
    since the plan was made (a directory swapped for a symlink) fails this client alone.
    """
    if plan.conflicts:
        raise ValueError(f"client {plan.client}: a plan with conflicts cannot be applied")
    writes = [c for c in plan.changes if c.action in ("create", "update")]
    removals = [c for c in plan.changes if c.action == "remove"]
    if not writes and not removals:
        return
    undo = _Undo()
    tree: _Tree | None = None
    staged: list[tuple[_At, _At, FileChange]] = []
    gone: list[tuple[str, ...]] = []  # removed files, for pruning their folders
    doing, shown = "write", root
    try:
        # Checked again (the disk may have changed since the plan), before anything is made.
        real_dirs: dict[str, Path] = {}
        targets = {}
        for change in (*writes, *removals):
            doing, shown = ("remove" if change.action == "remove" else "write"), root / change.path
            targets[change.path] = resolve_in_root(root, change.path, real_dirs)
        doing, shown = "write", root
        tree = _Tree.open(root, undo.dirs if writes else None)
        for change in writes:
            shown = root / change.path
            assert tree is not None and change.new is not None
            place = tree.place(_parts(tree, targets[change.path]), undo.dirs)
            temp = _stage_at(place, change.new)
            undo.temps.append(temp)
            staged.append((temp, place, change))
        for change in removals:
            doing, shown = "remove", root / change.path
            if tree is None:
                return  # no root (gone since the plan), and no writes: nothing to do
            parts = _parts(tree, targets[change.path])
            gone.append(parts)  # its folders are pruned even if someone removed it first
            try:
                place = tree.place(parts, None)
                aside = place.beside(_temp_name(place.path.name))
                _rename(place, aside)
            except FileNotFoundError:
                continue  # already gone: nothing to remove
            undo.set_aside.append((aside, place))
        for temp, place, change in staged:
            doing, shown = "write", root / change.path
            backup = _backup_at(place) if change.old is not None else None
            if backup is not None:
                undo.temps.append(backup)
            _rename(temp, place)
            undo.temps.remove(temp)
            undo.replaced.append((place, backup, change.old))
    except (OSError, ConfigError) as exc:
        undo.roll_back()
        if tree is not None:
            tree.close()
        unchanged = f"none of client {plan.client}'s files were changed"
        message = (
            f"cannot {doing} {shown}: {reason(exc)}; {unchanged}"
            if isinstance(exc, OSError)
            else f"{exc}; {unchanged}"
        )
        raise OutputError(message, file=str(shown)) from exc
    assert tree is not None
    try:
        for temp in undo.temps:
            unlink_quietly(temp)
        for temp, _ in undo.set_aside:
            unlink_quietly(temp)
        for parts in gone:
            _prune_empty_dirs(tree, parts)
    finally:
        tree.close()


def _parts(tree: _Tree, target: Path) -> tuple[str, ...]:
    try:
        return target.relative_to(tree.real).parts
    except ValueError:  # the root's own symlink was changed during the run
        raise ConfigError(f"{target}: no longer under the output root {tree.real}") from None


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
        temp = stage(path, data)
        try:
            _rename(temp, path)
        except OSError:
            unlink_quietly(temp)  # or a failed rename would leave it beside the lockfile
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}", file=str(path)) from exc
    return True


def clean_temporaries(root: Path | None, lockfile: Path | None = None) -> list[Path]:
    """Delete the temporary files a killed run left: under ``root``, and the lockfile's own.

    Only names of the exact shape nudge-build gives its temporaries are touched, symlinks never,
    and nothing outside ``root`` but the temporaries of the lockfile and its journal: the walk
    holds each directory open and does not follow symlinks, even ones swapped in meanwhile. A
    run that writes only the lockfile passes no ``root``: walking the output tree would cost it
    more than its own work (tens of ms for 2,500 files, more with a cold disk cache).
    """
    removed: list[Path] = []
    if root is not None and root.is_dir():
        real = os.path.realpath(root)
        if _BY_FD:
            for dirpath, _dirs, names, dir_fd in os.fwalk(real):  # symlinks are not followed
                shown = root / os.path.relpath(dirpath, real)
                removed += [
                    shown / name
                    for name in names
                    if _TEMP_NAME.fullmatch(name) and _remove_file(_At(dir_fd, name, shown / name))
                ]
        else:
            for dirpath, _dirs, names in os.walk(real):
                removed += [
                    Path(dirpath) / name
                    for name in names
                    if _TEMP_NAME.fullmatch(name) and _remove_file(_At.of(Path(dirpath) / name))
                ]
    if lockfile is not None and lockfile.parent.is_dir():
        prefixes = tuple(f".{_short(p.name)}." for p in (lockfile, journal_path(lockfile)))
        with os.scandir(lockfile.parent) as entries:
            found = [e.name for e in entries if _TEMP_NAME.fullmatch(e.name)]
        removed += [
            lockfile.parent / name
            for name in found
            if name.startswith(prefixes) and _remove_file(_At.of(lockfile.parent / name))
        ]
    return removed


def _remove_file(place: _At) -> bool:
    """Unlink a plain file (never a symlink or anything else); whether it was."""
    try:
        mode = os.stat(place.name, dir_fd=place.dir_fd, follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            return False
        os.unlink(place.name, dir_fd=place.dir_fd)
    except OSError:
        return False
    return True


def _stage_at(target: _At, data: bytes) -> _At:
    """``data`` in a new temporary file beside ``target``, with ``target``'s permissions."""
    temp = target.beside(_temp_name(target.path.name))
    with _named(temp, target):
        fd = os.open(temp.name, _NEW_FILE, 0o666, dir_fd=temp.dir_fd)  # less the umask
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                mode = _plain_file_mode(target)
                if mode is not None:  # keep what the user chose (e.g. read-only review copies)
                    if hasattr(os, "fchmod"):
                        os.fchmod(handle.fileno(), mode)
                    else:
                        temp.path.chmod(mode)
        except BaseException:
            unlink_quietly(temp)
            raise
    return temp


def _plain_file_mode(place: _At) -> int | None:
    try:
        info = os.stat(place.name, dir_fd=place.dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _backup_at(target: _At) -> _At | None:
    """A second name for the file about to be replaced, so a rollback restores it exactly."""
    backup = target.beside(_temp_name(target.path.name))
    try:
        if target.dir_fd is None:
            os.link(target.name, backup.name)
        else:
            os.link(
                target.name,
                backup.name,
                src_dir_fd=target.dir_fd,
                dst_dir_fd=backup.dir_fd,
                follow_symlinks=False,
            )
    except OSError:
        return None  # no hard links here: a rollback rewrites the old bytes instead
    return backup


# By path, for files outside the output root: merge targets (merge/apply.py) and the lockfile.


def stage(target: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``target`` (for a caller that renames it in)."""
    return _stage_at(_At.of(target), data).path


def backup(target: Path) -> Path | None:
    """A hard-linked second name for ``target`` (``None`` if it does not exist), to restore it."""
    second = _backup_at(_At.of(target))
    return None if second is None else second.path


def unlink_quietly(path: os.PathLike[str]) -> None:
    """Remove ``path`` if it can be: for clean-up where a failure must not hide the first one."""
    place = _At.of(path)
    try:
        os.unlink(place.name, dir_fd=place.dir_fd)
    except OSError:
        pass


def _temp_name(name: str) -> str:
    return f".{_short(name)}.{secrets.token_hex(6)}{TEMP_SUFFIX}"


def _short(name: str) -> str:
    # Room for our prefix and suffix within a file system's 255-byte name limit.
    return name.encode("utf-8", "surrogateescape")[:200].decode("utf-8", "ignore")


def _prune_empty_dirs(tree: _Tree, parts: tuple[str, ...]) -> None:
    """Remove the directories a removed file leaves empty, up to but never including the root.

    Each by its name in its parent's descriptor: a symlink swapped in is not a directory to
    rmdir(2), and it stops the pruning there."""
    for depth in range(len(parts) - 1, 0, -1):
        try:
            place = tree.place(parts[:depth], None)
            os.rmdir(place.name, dir_fd=place.dir_fd)
        except OSError:
            return


def reason(exc: OSError) -> str:
    """What went wrong, for a message: the OS text, and the path unless it is a temporary."""
    text = exc.strerror or str(exc)
    # Name the directory when that is what failed; a temporary's name would only confuse.
    if exc.filename and not _TEMP_NAME.fullmatch(Path(exc.filename).name):
        text += f" ({exc.filename})"
    return text


def journal_path(lockfile: Path) -> Path:
    return lockfile.with_name(f".{lockfile.name}.journal")
