"""Undoing a half-applied client: failures staged by means any user has, root or not.

Real failures where a normal user can stage them on any file system: a folder name longer than
NAME_MAX, a temporary's path longer than PATH_MAX, a file that vanishes between plan and apply
(the full disk is ``test_write.py``'s, through ``RLIMIT_FSIZE``). A rename that fails cannot
be staged for real as root, who ignores permission bits, nor in a container, which lacks the
capability ``chattr +i`` needs; for those the tests swap ``nudge_build.write._rename`` (the
seam every forward rename goes through) for one that fails on a chosen path, with the error a
real rename(2) gives. The undo itself always runs for real.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from nudge_build import write
from nudge_build.write import OutputError, apply_plan, plan_client
from tests.helpers import tree


def temporaries(top: Path) -> list[str]:
    return sorted(p.name for p in top.rglob("*.nudge-tmp"))


def fail_renames(
    monkeypatch: pytest.MonkeyPatch, blocked: Callable[[Path, Path], bool], code: int
) -> list[tuple[Path, Path]]:
    """Renames for which ``blocked(source, destination)`` holds fail with ``code``, as rename(2)
    reports it (the source as ``filename``, the destination as ``filename2``); the others
    happen for real and are returned in order."""
    done: list[tuple[Path, Path]] = []
    real = write._rename

    def rename(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        src, dst = Path(source), Path(destination)
        if blocked(src, dst):
            raise OSError(code, os.strerror(code), str(src), None, str(dst))
        real(src, dst)
        done.append((src, dst))

    monkeypatch.setattr(write, "_rename", rename)
    return done


def test_a_failed_replace_puts_back_every_file_of_the_client(tmp_path, monkeypatch):
    root = tmp_path / "out"
    first = {
        "c/a/one.txt": b"one\n",
        "c/b/two.txt": b"two\n",
        "c/gone/old.txt": b"stale\n",
        "c/z/three.txt": b"three\n",
    }
    plan = plan_client(root, "c", first, {})
    apply_plan(root, plan)
    (root / "c/b/two.txt").chmod(0o640)
    before = {p: (root / p).stat() for p in first}

    second = {
        "c/a/one.txt": b"one v2\n",
        "c/b/two.txt": b"two v2\n",
        "c/new/dir/four.txt": b"four\n",
        "c/z/three.txt": b"three v2\n",  # replaced last: it is the one that fails
    }
    plan = plan_client(root, "c", second, dict(plan.files))
    assert [(c.path, c.action) for c in plan.changes] == [
        ("c/a/one.txt", "update"),
        ("c/b/two.txt", "update"),
        ("c/new/dir/four.txt", "create"),
        ("c/z/three.txt", "update"),
        ("c/gone/old.txt", "remove"),
    ]
    three = root / "c/z/three.txt"
    done = fail_renames(monkeypatch, lambda _src, dst: dst == three, errno.EPERM)
    with pytest.raises(OutputError) as failed:
        apply_plan(root, plan)
    # Everything before the failure did happen, so the undo had real work to do.
    assert [dst.relative_to(root).as_posix() for _, dst in done if dst.parent.name != "gone"] == [
        "c/a/one.txt",
        "c/b/two.txt",
        "c/new/dir/four.txt",
    ]
    # The target is named, never the temporary that rename(2) reported as its source.
    assert str(failed.value) == (
        f"cannot write {three}: Operation not permitted; none of client c's files were changed"
    )

    assert tree(root) == first
    assert not (root / "c/new").exists()
    for path, old in before.items():
        now = (root / path).stat()
        # The very same files, put back: content, inode, mode and mtime as they were.
        assert (now.st_ino, now.st_mode, now.st_mtime_ns) == (
            old.st_ino,
            old.st_mode,
            old.st_mtime_ns,
        )
    assert temporaries(root) == []


def test_a_stale_file_that_cannot_be_removed_keeps_the_clients_new_files_out(tmp_path, monkeypatch):
    root = tmp_path / "out"
    first = plan_client(root, "c", {"c/keep.txt": b"one\n", "c/stale.txt": b"old\n"}, {})
    apply_plan(root, first)
    second = plan_client(root, "c", {"c/keep.txt": b"two\n"}, dict(first.files))
    stale = root / "c/stale.txt"
    fail_renames(monkeypatch, lambda src, _dst: src == stale, errno.EACCES)
    with pytest.raises(OutputError) as failed:
        apply_plan(root, second)
    assert str(failed.value) == (
        f"cannot remove {stale}: Permission denied ({stale}); none of client c's files were changed"
    )
    assert tree(root) == {"c/keep.txt": b"one\n", "c/stale.txt": b"old\n"}
    assert temporaries(root) == []


def test_a_removal_that_fails_after_others_were_set_aside_puts_them_back(tmp_path, monkeypatch):
    root = tmp_path / "out"
    files = {"c/a.txt": b"a\n", "c/b.txt": b"b\n", "c/c.txt": b"c\n", "c/keep.txt": b"k\n"}
    first = plan_client(root, "c", files, {})
    apply_plan(root, first)
    inodes = {p: (root / p).stat().st_ino for p in files}
    second = plan_client(root, "c", {"c/keep.txt": b"k v2\n"}, dict(first.files))
    last = root / "c/c.txt"
    done = fail_renames(monkeypatch, lambda src, _dst: src == last, errno.EIO)
    with pytest.raises(OutputError, match=r"cannot remove .*/c/c\.txt: Input/output error"):
        apply_plan(root, second)
    assert [src.name for src, _ in done] == ["a.txt", "b.txt"]  # set aside, then put back
    assert tree(root) == files
    assert {p: (root / p).stat().st_ino for p in files} == inodes
    assert temporaries(root) == []


def test_a_failed_lockfile_rename_leaves_no_temporary(tmp_path, monkeypatch):
    lockfile = tmp_path / "nudge-build.lock"
    lockfile.write_bytes(b"old\n")
    fail_renames(monkeypatch, lambda _src, dst: dst == lockfile, errno.EACCES)
    with pytest.raises(OutputError) as failed:
        write.write_file_atomically(lockfile, b"new\n")
    assert str(failed.value) == f"cannot write {lockfile}: Permission denied"
    assert lockfile.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nudge-build.lock"]


# -- real failures, any user --------------------------------------------------------------------


def test_a_folder_that_cannot_be_made_is_named_in_the_message(tmp_path):
    # NAME_MAX is 255 bytes on every file system nudge-build writes to: mkdir(2) refuses a
    # 256-byte folder name for root and anyone else alike.
    root = tmp_path / "out"
    folder = root / "c" / ("f" * 256)
    plan = plan_client(root, "c", {"c/a.txt": b"a\n", f"c/{folder.name}/b.txt": b"b\n"}, {})
    with pytest.raises(OutputError) as failed:
        apply_plan(root, plan)
    assert str(failed.value) == (
        f"cannot write {folder}/b.txt: File name too long ({folder}); "
        "none of client c's files were changed"
    )
    # out/ and out/c/ were made for a.txt, which never moved in: they go again.
    assert list(tmp_path.iterdir()) == []


def test_a_target_whose_temporary_would_pass_path_max_is_written_all_the_same(tmp_path):
    # The target's path fits in PATH_MAX (4096 bytes with its NUL); its temporary's, 24 bytes
    # longer, would not. Every file is named relative to its open directory, so no whole path
    # is ever handed to the kernel and the temporary is made and moved into place like any
    # other. (That a temporary's name never reaches a message is the first test's.)
    root = tmp_path / "out"
    room = 4095 - len(str(root / "c" / "x"))  # for "/<folder>" parts, each at most 201 long
    full = (room - 2) // 201
    folders = [chr(ord("a") + n) * 200 for n in range(full)] + ["z" * (room - 201 * full - 1)]
    relative = "/".join(["c", *folders, "x"])
    assert len(str(root / relative)) == 4095
    plan = plan_client(root, "c", {"c/a.txt": b"a\n", relative: b"x\n"}, {})
    apply_plan(root, plan)
    assert (root / relative).read_bytes() == b"x\n"
    assert (root / "c/a.txt").read_bytes() == b"a\n"
    again = plan_client(root, "c", {"c/a.txt": b"a\n", relative: b"x\n"}, dict(plan.files))
    assert {c.action for c in again.changes} == {"unchanged"}
    assert temporaries(root) == []


def test_a_stale_file_already_gone_at_apply_time_is_skipped(tmp_path):
    root = tmp_path / "out"
    first = plan_client(root, "c", {"c/keep.txt": b"one\n", "c/d/stale.txt": b"old\n"}, {})
    apply_plan(root, first)
    second = plan_client(root, "c", {"c/keep.txt": b"two\n"}, dict(first.files))
    assert [(c.path, c.action) for c in second.changes] == [
        ("c/keep.txt", "update"),
        ("c/d/stale.txt", "remove"),
    ]
    (root / "c/d/stale.txt").unlink()  # by someone else, between the plan and its apply
    apply_plan(root, second)
    assert tree(root) == {"c/keep.txt": b"two\n"}
    assert not (root / "c/d").exists()  # pruned all the same
    assert temporaries(root) == []
