"""One run at a time on a project: an OS file lock beside the lockfile.

``build``, ``render``, ``fetch`` and ``check`` (dry runs too) hold it from before they read the
lockfile until after they wrote it: two runs at once (a CI retry, a watcher on a laptop) would
otherwise clean up each other's staged files and record each other's half-done work. Every
command holds it exclusively: a reader racing a writer could see a half-applied client and
report it as drift, and readers are quick.

The lock is ``flock(2)`` (``msvcrt.locking`` on Windows) on ``.<lockfile name>.run``, which
holds the holder's process id for the waiting message. The kernel drops the lock when its
holder ends, however it ends, so a killed run never leaves the project locked. The holder
deletes the file before letting go; a waiter that then gets the lock on the deleted file sees
that it is no longer the one at that path and tries again with the new one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from nudge_build.errors import NudgeBuildError

# How often a waiting run tries again; short next to any run, long enough to cost no CPU.
POLL_SECONDS = 0.05
_WINDOWS_LOCK_OFFSET = 1 << 20  # a byte past the pid, which must stay readable to waiters


class RunLockTimeout(NudgeBuildError):
    """Another run held the project for longer than ``[output].lock_timeout`` (exit 2)."""

    exit_code = 2


class RunLockUnavailable(NudgeBuildError):
    """The run lock's file cannot be made (an unwritable or missing folder): exit 2, named."""

    exit_code = 2


def run_lock_path(lockfile: Path) -> Path:
    return lockfile.with_name(f".{lockfile.name}.run")


@contextlib.contextmanager
def hold_run_lock(lockfile: Path, timeout: float, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the project's run lock; ``on_wait`` hears once that (and for whom) we wait."""
    path = run_lock_path(lockfile)
    fd = _acquire(path, timeout, on_wait)
    try:
        yield
    finally:
        _release(path, fd)


def _acquire(path: Path, timeout: float, on_wait: Callable[[str], None]) -> int:
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        fd = _open(path)
        try:
            while not _try_lock(fd):
                holder = _holder(path)
                if not waited:
                    waited = True
                    on_wait(
                        "waiting for another nudge-build run on this project"
                        f"{f' (pid {holder})' if holder else ''}…"
                    )
                if time.monotonic() >= deadline:
                    raise RunLockTimeout(
                        f"another nudge-build run{f' (pid {holder})' if holder else ''} has held "
                        f"this project for more than {timeout:g} s (the run lock {path}); try "
                        "again when it has finished, or raise [output].lock_timeout"
                    )
                time.sleep(POLL_SECONDS)
            if _is_at(fd, path):
                _record_pid(fd)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # locked a file its holder had already deleted: take the one there now


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        # Before anything is read or written: the folder the lockfile lives in must be writable.
        raise RunLockUnavailable(
            f"cannot write {path} (the run lock, beside the lockfile): "
            f"{exc.strerror or exc}; nothing was changed"
        ) from exc


def _is_at(fd: int, path: Path) -> bool:
    """Whether the locked file is still the one at ``path`` (and not deleted meanwhile)."""
    try:
        there = path.stat()
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _record_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())


def _holder(path: Path) -> int | None:
    """The pid the holder wrote, when it did and the file says so (it may be mid-write)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _release(path: Path, fd: int) -> None:
    try:
        # Deleted while still held, so no run can lock it after we let go; see _acquire.
        if _is_at(fd, path):
            path.unlink()
    except OSError:
        pass  # Windows: an open file cannot be deleted; it stays, unlocked, for the next run
    finally:
        _unlock(fd)
        os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
