"""The writer's refusals, names and bookkeeping, each pinned in-process on real files.

``test_write.py`` and ``test_write_faults.py`` check what a build does to the disk; these call
``nudge_build.write`` directly and pin the exact words of its refusals, the shape of its
temporary names and what its plans and clean-ups report.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nudge_build import write
from nudge_build.errors import ConfigError
from nudge_build.lock import file_digest
from nudge_build.write import (
    TEMP_SUFFIX,
    OutputError,
    apply_plan,
    clean_temporaries,
    journal_path,
    plan_client,
    read_target,
    resolve_in_root,
    write_file_atomically,
)


def tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


# -- resolve_in_root ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relative", ["", "/abs.txt", "a\0b", "a\\b", "a//b", "./a", "a/./b", "a/../b", "a/", ".."]
)
def test_a_path_that_is_not_plainly_relative_is_refused_by_name(tmp_path, relative):
    with pytest.raises(ConfigError) as caught:
        resolve_in_root(tmp_path, relative)
    assert str(caught.value) == (
        f"{relative!r}: not a plain relative path under the output root {tmp_path}"
    )


def test_a_folder_symlink_out_of_the_root_is_refused_naming_where_it_leads(tmp_path):
    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "c").symlink_to(outside)
    with pytest.raises(ConfigError) as caught:
        resolve_in_root(root, "c/x.txt")
    assert str(caught.value) == (
        f"{root / 'c/x.txt'}: leads outside the output root {root} through a symlink "
        f"(to {outside}); refusing to write there"
    )


def test_a_folder_symlink_that_stays_in_the_root_is_followed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolve_in_root(tmp_path, "link/x.txt") == tmp_path / "real/x.txt"


def test_a_file_where_a_folder_must_be_is_named(tmp_path):
    (tmp_path / "c").write_text("a file\n")
    with pytest.raises(ConfigError) as caught:
        resolve_in_root(tmp_path, "c/deeper/x.txt")
    assert (
        str(caught.value) == f"{tmp_path / 'c/deeper/x.txt'}: {tmp_path / 'c'} is not a directory"
    )


def test_missing_folders_under_a_real_folder_are_fine(tmp_path):
    assert resolve_in_root(tmp_path, "a/b/c/x.txt") == tmp_path / "a/b/c/x.txt"


def test_a_symlink_target_and_a_folder_target_are_refused_in_their_own_words(tmp_path):
    (tmp_path / "elsewhere.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "elsewhere.txt")
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(ConfigError) as link:
        resolve_in_root(tmp_path, "link.txt")
    with pytest.raises(ConfigError) as folder:
        resolve_in_root(tmp_path, "folder.txt")
    assert str(link.value) == (
        f"{tmp_path / 'link.txt'}: is a symlink; nudge-build only writes plain files"
    )
    assert str(folder.value) == (
        f"{tmp_path / 'folder.txt'}: exists and is not a plain file; refusing to write"
    )


def test_resolved_folders_are_remembered_per_folder(tmp_path):
    (tmp_path / "c").mkdir()
    real_dirs: dict[str, Path] = {}
    assert resolve_in_root(tmp_path, "c/x.txt", real_dirs) == tmp_path / "c/x.txt"
    assert resolve_in_root(tmp_path, "top.txt", real_dirs) == tmp_path / "top.txt"
    assert real_dirs == {"c": tmp_path / "c", "": tmp_path}


def test_read_target_gives_the_bytes_or_none(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\x00bytes\r\n")
    assert read_target(tmp_path, "a.txt") == b"\x00bytes\r\n"
    assert read_target(tmp_path, "missing.txt") is None
    assert read_target(tmp_path, "missing/deeper.txt") is None


# -- plans ----------------------------------------------------------------------------------


def test_a_plan_names_each_change_and_counts_them(tmp_path):
    tree(tmp_path, {"c/same.txt": "same\n", "c/old.txt": "old\n", "c/gone.txt": "gone\n"})
    previous = {
        "c/same.txt": file_digest(b"same\n"),
        "c/old.txt": file_digest(b"old\n"),
        "c/gone.txt": file_digest(b"gone\n"),
        "c/deleted-by-hand.txt": file_digest(b"x\n"),
    }
    rendered = {"c/same.txt": b"same\n", "c/old.txt": b"new\n", "c/new.txt": b"fresh\n"}
    plan = plan_client(tmp_path, "c", rendered, previous)
    assert [(c.path, c.action, c.old, c.new) for c in plan.changes] == [
        ("c/new.txt", "create", None, b"fresh\n"),
        ("c/old.txt", "update", b"old\n", b"new\n"),
        ("c/same.txt", "unchanged", b"same\n", b"same\n"),
        ("c/gone.txt", "remove", b"gone\n", None),
    ]
    assert [plan.count(a) for a in ("create", "update", "unchanged", "remove")] == [1, 1, 1, 1]
    assert plan.conflicts == () and plan.kept == ()
    assert plan.files == {p: file_digest(d) for p, d in rendered.items()}


def test_files_changed_by_hand_are_conflicts_unless_forced(tmp_path):
    tree(tmp_path, {"c/a.txt": "edited\n", "c/stale.txt": "edited too\n"})
    previous = {"c/a.txt": file_digest(b"a\n"), "c/stale.txt": file_digest(b"stale\n")}
    plan = plan_client(tmp_path, "c", {"c/a.txt": b"a2\n"}, previous)
    assert plan.conflicts == ("c/a.txt", "c/stale.txt")
    forced = plan_client(tmp_path, "c", {"c/a.txt": b"a2\n"}, previous, force=True)
    assert forced.conflicts == ()
    assert [(c.path, c.action) for c in forced.changes] == [
        ("c/a.txt", "update"),
        ("c/stale.txt", "remove"),
    ]


def test_a_file_an_interrupted_run_wrote_is_ours_and_others_there_are_not_judged(tmp_path):
    tree(tmp_path, {"c/a.txt": "half\n", "c/b.txt": "someone's\n", "c/d.txt": "left\n"})
    interrupted = {
        "c/a.txt": [file_digest(b"half\n")],
        "c/b.txt": [file_digest(b"other\n")],
        "c/d.txt": [file_digest(b"left\n")],
    }
    plan = plan_client(tmp_path, "c", {"c/a.txt": b"whole\n"}, {}, interrupted=interrupted)
    assert plan.conflicts == ()
    assert [(c.path, c.action) for c in plan.changes] == [
        ("c/a.txt", "update"),
        ("c/d.txt", "remove"),  # the interrupted run's own bytes: stale, removed
    ]  # c/b.txt: only meant to be written by it, and not its bytes: left alone, no conflict


def test_a_recorded_file_not_this_clients_to_remove_is_kept_and_listed(tmp_path):
    tree(tmp_path, {"c/a.txt": "a\n", "other/b.txt": "b\n"})
    previous = {"c/a.txt": file_digest(b"a\n"), "other/b.txt": file_digest(b"b\n")}
    plan = plan_client(tmp_path, "c", {}, previous, may_remove=lambda path: path.startswith("c/"))
    assert plan.kept == ("other/b.txt",)
    assert [(c.path, c.action) for c in plan.changes] == [("c/a.txt", "remove")]


def test_a_recorded_path_that_cannot_be_read_names_the_client(tmp_path):
    with pytest.raises(ConfigError) as caught:
        plan_client(tmp_path, "summit-cu", {}, {"../x.txt": "digest"})
    assert str(caught.value) == (
        f"'../x.txt': not a plain relative path under the output root {tmp_path} "
        "(recorded for client summit-cu by an earlier run)"
    )


def test_a_plan_with_conflicts_cannot_be_applied(tmp_path):
    tree(tmp_path, {"a.txt": "by hand\n"})
    plan = plan_client(tmp_path, "c", {"a.txt": b"ours\n"}, {})
    with pytest.raises(ValueError) as caught:
        apply_plan(tmp_path, plan)
    assert str(caught.value) == "client c: a plan with conflicts cannot be applied"


def test_applying_a_plan_with_nothing_to_do_creates_no_root(tmp_path):
    root = tmp_path / "out"
    apply_plan(root, plan_client(root, "c", {}, {}))
    assert not root.exists()


def test_removing_files_prunes_emptied_folders_but_not_the_root_nor_others(tmp_path):
    root = tmp_path / "out"
    files = {"c/x/y/one.txt": b"1", "c/x/keep.txt": b"k", "c/z/two.txt": b"2"}
    apply_plan(root, plan_client(root, "c", files, {}))
    previous = {p: file_digest(d) for p, d in files.items()}
    apply_plan(root, plan_client(root, "c", {"c/x/keep.txt": b"k"}, previous))
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == [
        "c",
        "c/x",
        "c/x/keep.txt",
    ]
    apply_plan(root, plan_client(root, "c", {}, {"c/x/keep.txt": file_digest(b"k")}))
    assert root.is_dir() and list(root.iterdir()) == []


def test_a_failure_names_the_folder_and_not_the_temporary(tmp_path, monkeypatch):
    root = tmp_path / "out"

    def refuse(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        raise OSError(errno.EACCES, "Permission denied", os.fspath(source))

    monkeypatch.setattr(write, "_rename", refuse)
    with pytest.raises(OutputError) as caught:
        apply_plan(root, plan_client(root, "c", {"c/a.txt": b"a\n"}, {}))
    assert str(caught.value) == (
        f"cannot write {root / 'c/a.txt'}: Permission denied; none of client c's files were changed"
    )
    assert not root.exists()  # the folders it made are gone too


# -- names of temporaries -------------------------------------------------------------------


def test_a_temporary_is_named_after_its_target_with_twelve_hex_digits():
    name = write._temp_name("Info.plist")
    assert re.fullmatch(r"\.Info\.plist\.[0-9a-f]{12}\.nudge-tmp", name)
    assert write._TEMP_NAME.fullmatch(name)
    assert name != write._temp_name("Info.plist")


@pytest.mark.parametrize(
    "name",
    [
        "Info.plist.0123456789ab.nudge-tmp",  # no leading dot
        ".Info.plist.0123456789a.nudge-tmp",  # eleven digits
        ".Info.plist.0123456789abc.nudge-tmp",  # thirteen
        ".Info.plist.0123456789AB.nudge-tmp",  # upper case
        ".Info.plist.0123456789ab.nudge-tmp.bak",
        ".Info.plist.0123456789ab.nudge-tmp\n",
        "..0123456789ab.nudge-tmp",  # no name
    ],
)
def test_only_names_of_exactly_our_shape_count_as_temporaries(name):
    assert not write._TEMP_NAME.fullmatch(name)


def test_a_long_name_is_cut_to_200_bytes_on_a_character_boundary():
    assert write._short("a" * 300) == "a" * 200
    assert write._short("a" + "é" * 150) == "a" + "é" * 99  # 1 + 198 bytes; the next would cut
    assert len(write._temp_name("x" * 255).encode()) <= 255


def test_the_journal_sits_beside_the_lockfile_as_a_dot_file(tmp_path):
    assert journal_path(tmp_path / "nudge.lock") == tmp_path / ".nudge.lock.journal"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/out/c"),
            "No space left on device (/out/c)",
        ),
        (
            OSError(
                errno.ENOSPC, "No space left on device", "/out/c/.a.txt.0123456789ab.nudge-tmp"
            ),
            "No space left on device",
        ),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("no strerror"), "no strerror"),
    ],
)
def test_a_reason_names_the_file_unless_it_is_a_temporary(exc, reason):
    assert write.reason(exc) == reason


# -- clean-ups and single files -------------------------------------------------------------


def test_clean_temporaries_reports_what_it_removed_and_leaves_the_rest(tmp_path):
    root = tmp_path / "out"
    temp = ".a.txt.0123456789ab" + TEMP_SUFFIX
    tree(root, {f"c/{temp}": "x", "c/a.txt": "a", f"c/.b.txt.0123456789ab{TEMP_SUFFIX}x": "y"})
    (root / "c" / f".l.txt.0123456789ab{TEMP_SUFFIX}").symlink_to(root / "c/a.txt")
    (root / "d" / f".f.0123456789ab{TEMP_SUFFIX}").mkdir(parents=True)
    lockfile = tmp_path / "nudge.lock"
    lock_temp = f".nudge.lock.0123456789ab{TEMP_SUFFIX}"
    journal_temp = f"..nudge.lock.journal.0123456789ab{TEMP_SUFFIX}"
    other_temp = f".other.0123456789ab{TEMP_SUFFIX}"
    for name in (lock_temp, journal_temp, other_temp):
        (tmp_path / name).write_text("t")
    removed = clean_temporaries(root, lockfile)
    assert removed == [root / "c" / temp, tmp_path / journal_temp, tmp_path / lock_temp] or (
        removed == [root / "c" / temp, tmp_path / lock_temp, tmp_path / journal_temp]
    )
    assert not (root / "c" / temp).exists()
    assert (root / "c" / f".l.txt.0123456789ab{TEMP_SUFFIX}").is_symlink()
    assert (root / "d" / f".f.0123456789ab{TEMP_SUFFIX}").is_dir()
    assert (tmp_path / other_temp).exists()
    assert (root / "c/a.txt").read_text() == "a"


def test_clean_temporaries_without_a_root_touches_only_the_lockfiles(tmp_path):
    temp = tmp_path / "out" / f".a.0123456789ab{TEMP_SUFFIX}"
    tree(tmp_path / "out", {temp.name: "x"})
    assert clean_temporaries(None, tmp_path / "nudge.lock") == []
    assert clean_temporaries(None, None) == []
    assert clean_temporaries(tmp_path / "missing", tmp_path / "missing/nudge.lock") == []
    assert temp.exists()


def test_a_single_file_is_written_once_and_reports_whether_it_changed(tmp_path):
    path = tmp_path / "new/folder/nudge.lock"
    assert write_file_atomically(path, b"one\n") is True
    assert path.read_bytes() == b"one\n"
    before = path.stat().st_mtime_ns
    assert write_file_atomically(path, b"one\n") is False
    assert path.stat().st_mtime_ns == before
    assert write_file_atomically(path, b"two\n") is True
    assert path.read_bytes() == b"two\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["nudge.lock"]


def test_a_single_file_that_cannot_be_read_or_written_is_named(tmp_path):
    folder = tmp_path / "nudge.lock"
    folder.mkdir()
    with pytest.raises(OutputError) as caught:
        write_file_atomically(folder, b"x")
    assert str(caught.value) == f"cannot read {folder}: Is a directory"
    (tmp_path / "file").write_text("x")
    under_file = tmp_path / "file/nudge.lock"
    with pytest.raises(OutputError) as caught:
        write_file_atomically(under_file, b"x")
    assert str(caught.value) == f"cannot read {under_file}: Not a directory"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    beyond = tmp_path / "dangling/nudge.lock"  # nothing to read, and no folder can be made
    with pytest.raises(OutputError) as caught:
        write_file_atomically(beyond, b"x")
    assert str(caught.value) == f"cannot write {beyond}: File exists ({tmp_path / 'dangling'})"


# -- places, backups and rollbacks --------------------------------------------------------


def test_a_symlink_where_a_folder_was_is_named_as_swapped_during_the_run(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "swapped").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(OSError) as caught:
            write._open_dir(write._At(fd, "swapped", tmp_path / "swapped"))
        assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)
        assert caught.value.strerror == "a symlink was put where a directory was, during the run"
        assert caught.value.filename == "swapped"  # _Tree gives it back its whole path
        with pytest.raises(NotADirectoryError) as plain:  # a file is not a swap: as the OS says
            write._open_dir(write._At(fd, "file", tmp_path / "file"))
        assert plain.value.strerror != caught.value.strerror
        assert write._is_link(write._At(fd, "swapped", tmp_path / "swapped"))
        assert not write._is_link(write._At(fd, "real", tmp_path / "real"))
        assert not write._is_link(write._At(fd, "missing", tmp_path / "missing"))
    finally:
        os.close(fd)


def test_only_a_plain_file_is_removed_and_a_missing_one_is_not_counted(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    assert write._remove_file(write._At.of(tmp_path / "missing")) is False
    assert write._remove_file(write._At.of(tmp_path / "link")) is False
    assert (tmp_path / "link").is_symlink()
    assert write._remove_file(write._At.of(tmp_path / "file")) is True
    assert not (tmp_path / "file").exists()


def test_a_backup_is_a_second_name_for_the_same_file(tmp_path):
    target = tmp_path / "Info.plist"
    target.write_bytes(b"old")
    backup = write.backup(target)
    assert backup is not None and backup.parent == tmp_path
    assert write._TEMP_NAME.fullmatch(backup.name)
    assert backup.stat().st_ino == target.stat().st_ino


def test_where_hard_links_fail_there_is_no_backup(tmp_path, monkeypatch):
    target = tmp_path / "Info.plist"
    target.write_bytes(b"old")

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # as on a FAT or SMB folder

    monkeypatch.setattr(write.os, "link", no_links)
    assert write.backup(target) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Info.plist"]


def test_a_backup_of_a_symlink_swapped_in_is_the_symlink_not_what_it_points_to(tmp_path):
    (tmp_path / "elsewhere").write_bytes(b"not ours")
    (tmp_path / "t.txt").symlink_to(tmp_path / "elsewhere")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        backup = write._backup_at(write._At(fd, "t.txt", tmp_path / "t.txt"))
    finally:
        os.close(fd)
    assert backup is not None and backup.path.is_symlink()


def test_without_hard_links_a_failed_replace_writes_the_old_bytes_back(tmp_path, monkeypatch):
    root = tmp_path / "out"
    first = {"c/a.txt": b"a1\n", "c/b.txt": b"b1\n"}
    apply_plan(root, plan_client(root, "c", first, {}))
    previous = {p: file_digest(d) for p, d in first.items()}

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # as on a FAT or SMB folder

    real = write._rename

    def rename(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        if Path(destination).name == "b.txt":
            raise OSError(errno.EACCES, "Permission denied", os.fspath(destination))
        real(source, destination)

    monkeypatch.setattr(write.os, "link", no_links)
    monkeypatch.setattr(write, "_rename", rename)
    plan = plan_client(root, "c", {"c/a.txt": b"a2\n", "c/b.txt": b"b2\n"}, previous)
    with pytest.raises(OutputError):
        apply_plan(root, plan)
    assert (root / "c/a.txt").read_bytes() == b"a1\n"
    assert (root / "c/b.txt").read_bytes() == b"b1\n"
    assert sorted(p.name for p in (root / "c").iterdir()) == ["a.txt", "b.txt"]


def open_descriptors() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_a_name_too_long_is_named_with_what_was_being_done(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    long = "x" * 300
    for action, doing in (("create", "write"), ("update", "write"), ("remove", "remove")):
        change = write.FileChange(long, action, None if action == "create" else b"o", b"n")
        if action == "remove":
            change = write.FileChange(long, action, b"o", None)
        with pytest.raises(OutputError) as caught:
            apply_plan(root, write.ClientPlan("c", (change,)))
        assert str(caught.value) == (
            f"cannot {doing} {root / long}: File name too long ({root / long}); "
            "none of client c's files were changed"
        )
        assert caught.value.file == str(root / long)


def test_a_path_changed_since_the_plan_fails_the_client_without_a_leak(tmp_path):
    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    plan = plan_client(root, "c", {"c/a.txt": b"a\n"}, {})
    outside.mkdir()
    root.mkdir()
    (root / "c").symlink_to(outside)
    before = open_descriptors()
    with pytest.raises(OutputError) as caught:
        apply_plan(root, plan)
    assert str(caught.value) == (
        f"{root / 'c/a.txt'}: leads outside the output root {root} through a symlink "
        f"(to {outside}); refusing to write there; none of client c's files were changed"
    )
    assert caught.value.file == str(root / "c/a.txt")
    assert list(outside.iterdir()) == []
    assert open_descriptors() == before


def test_applying_leaves_no_descriptor_open_whether_it_succeeds_or_fails(tmp_path, monkeypatch):
    root = tmp_path / "out"
    before = open_descriptors()
    apply_plan(root, plan_client(root, "c", {"c/d/a.txt": b"a\n", "b.txt": b"b\n"}, {}))
    assert open_descriptors() == before

    def refuse(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        raise OSError(errno.EACCES, "Permission denied", os.fspath(destination))

    monkeypatch.setattr(write, "_rename", refuse)
    with pytest.raises(OutputError):
        apply_plan(
            root, plan_client(root, "c", {"c/d/a.txt": b"a2\n"}, {"c/d/a.txt": "-"}, force=True)
        )
    assert open_descriptors() == before


def test_removals_go_on_past_a_file_already_gone(tmp_path):
    root = tmp_path / "out"
    files = {"c/a.txt": b"a", "c/b.txt": b"b", "c/c.txt": b"c"}
    apply_plan(root, plan_client(root, "c", files, {}))
    previous = {p: file_digest(d) for p, d in files.items()}
    plan = plan_client(root, "c", {}, previous)
    (root / "c/a.txt").unlink()  # by hand, between plan and apply
    apply_plan(root, plan)
    assert not root.joinpath("c").exists()


def test_a_root_gone_since_the_plan_leaves_nothing_to_remove_and_is_not_made(tmp_path):
    root = tmp_path / "out"
    apply_plan(root, plan_client(root, "c", {"c/a.txt": b"a"}, {}))
    plan = plan_client(root, "c", {}, {"c/a.txt": file_digest(b"a")})
    (root / "c/a.txt").unlink()
    (root / "c").rmdir()
    root.rmdir()
    apply_plan(root, plan)
    assert not root.exists()


def test_planning_goes_on_past_unchanged_and_missing_files(tmp_path):
    tree(tmp_path, {"a.txt": "same\n", "z.txt": "old\n"})
    previous = {
        "a.txt": file_digest(b"same\n"),
        "b-gone.txt": file_digest(b"x"),
        "m-not-ours.txt": "-",
        "z.txt": file_digest(b"old\n"),
        "zz.txt": file_digest(b"zz"),
    }
    tree(tmp_path, {"zz.txt": "zz", "m-not-ours.txt": "?"})
    interrupted = {"m-not-ours.txt": ["-"], "n-interrupted.txt": ["-"]}
    tree(tmp_path, {"n-interrupted.txt": "someone's"})
    plan = plan_client(
        tmp_path, "c", {"a.txt": b"same\n", "z.txt": b"new\n"}, previous, interrupted=interrupted
    )
    assert [(c.path, c.action) for c in plan.changes] == [
        ("a.txt", "unchanged"),
        ("z.txt", "update"),
        ("m-not-ours.txt", "remove"),
        ("zz.txt", "remove"),
    ]
    assert plan.conflicts == ("m-not-ours.txt",)


def test_a_cached_folder_is_used_as_it_was_resolved(tmp_path):
    real_dirs = {"a/b": tmp_path / "elsewhere"}
    assert resolve_in_root(tmp_path, "a/b/x.txt", real_dirs) == tmp_path / "elsewhere/x.txt"
    assert resolve_in_root(tmp_path, "c/d/x.txt", real_dirs) == tmp_path / "c/d/x.txt"
    assert real_dirs["c/d"] == tmp_path / "c/d"


def test_a_target_moved_off_the_root_is_named(tmp_path):
    tree_ = write._Tree(tmp_path / "root", None)
    with pytest.raises(ConfigError) as caught:
        write._parts(tree_, tmp_path / "other/x.txt")
    assert str(caught.value) == (
        f"{tmp_path / 'other/x.txt'}: no longer under the output root {tmp_path / 'root'}"
    )


def test_a_place_prints_and_converts_as_its_whole_path(tmp_path):
    place = write._At(3, "x.txt", tmp_path / "x.txt")
    assert str(place) == os.fspath(place) == str(tmp_path / "x.txt")


def test_errors_by_descriptor_name_the_whole_path(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        source = write._At(fd, "missing", tmp_path / "missing")
        target = write._At(fd, "t", tmp_path / "t")
        with pytest.raises(FileNotFoundError) as caught:
            write._replace(source, target)
    finally:
        os.close(fd)
    assert (caught.value.filename, caught.value.filename2) == (
        str(tmp_path / "missing"),
        str(tmp_path / "t"),
    )


def test_a_staged_file_has_the_targets_mode_or_the_default_less_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        kept = tmp_path / "kept.txt"
        kept.write_text("x")
        kept.chmod(0o604)
        assert stat_mode(write.stage(kept, b"y")) == 0o604
        assert stat_mode(write.stage(tmp_path / "new.txt", b"y")) == 0o644
        (tmp_path / "link.txt").symlink_to(kept)  # a symlink's target lends no mode
        assert stat_mode(write.stage(tmp_path / "link.txt", b"y")) == 0o644
    finally:
        os.umask(old)


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_a_name_read_from_disk_with_undecodable_bytes_gets_a_temporary(tmp_path):
    name = os.fsdecode(b"caf\xe9.txt")  # Latin-1 bytes on a UTF-8 file system
    assert write._short(name) == "caf.txt"  # what UTF-8 cannot show is left out of the name
    assert write._TEMP_NAME.fullmatch(write._temp_name(name))


def test_planning_goes_on_past_a_file_kept_for_another_client(tmp_path):
    tree(tmp_path, {"a-other.txt": "a", "b.txt": "b"})
    previous = {"a-other.txt": file_digest(b"a"), "b.txt": file_digest(b"b")}
    plan = plan_client(tmp_path, "c", {}, previous, may_remove=lambda path: path == "b.txt")
    assert plan.kept == ("a-other.txt",)
    assert [(c.path, c.action) for c in plan.changes] == [("b.txt", "remove")]


def test_a_rewritten_file_under_a_folder_keeps_its_mode(tmp_path):
    root = tmp_path / "out"
    apply_plan(root, plan_client(root, "c", {"c/d/a.txt": b"1"}, {}))
    (root / "c/d/a.txt").chmod(0o604)
    previous = {"c/d/a.txt": file_digest(b"1")}
    apply_plan(root, plan_client(root, "c", {"c/d/a.txt": b"2"}, previous))
    assert stat_mode(root / "c/d/a.txt") == 0o604


def test_a_temporary_that_cannot_be_made_is_named_by_its_whole_path(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY)
    try:
        folder.rmdir()  # the folder is gone, its descriptor still open
        with pytest.raises(FileNotFoundError) as caught:
            write._stage_at(write._At(fd, "a.txt", folder / "a.txt"), b"x")
    finally:
        os.close(fd)
    assert Path(caught.value.filename).parent == folder
    assert write._TEMP_NAME.fullmatch(Path(caught.value.filename).name)


def test_single_file_errors_carry_the_file_for_annotations(tmp_path):
    folder = tmp_path / "nudge.lock"
    folder.mkdir()
    with pytest.raises(OutputError) as caught:
        write_file_atomically(folder, b"x")
    assert caught.value.file == str(folder)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError) as caught:
        write_file_atomically(tmp_path / "dangling/nudge.lock", b"x")
    assert caught.value.file == str(tmp_path / "dangling/nudge.lock")


# -- races: what is swapped in between a check and the call that acts on it ----------------


def swapped_after_check(
    monkeypatch: pytest.MonkeyPatch, target: Path, swap: Callable[[Path], None]
) -> None:
    """Once ``resolve_in_root`` has passed ``target``, put something else there (as another
    process could before the read opens it)."""
    real = write.resolve_in_root

    def resolve(root: Path, relative: str, real_dirs: dict[str, Path] | None = None) -> Path:
        path = real(root, relative, real_dirs)
        if path == target and not target.is_symlink() and target.is_file():
            target.unlink()
            swap(target)
        return path

    monkeypatch.setattr(write, "resolve_in_root", resolve)


@pytest.mark.parametrize(
    ("swap", "why"),
    [
        (os.mkfifo, "no longer a plain file"),  # and the read does not hang on it
        (Path.mkdir, "no longer a plain file"),
        (lambda p: p.symlink_to(p.with_name("elsewhere")), os.strerror(errno.ELOOP)),
    ],
    ids=["fifo", "folder", "symlink"],
)
def test_a_target_swapped_for_a_non_file_after_its_check_is_refused_when_read(
    tmp_path, monkeypatch, swap, why
):
    root = tmp_path / "out"
    tree(root, {"c/a.txt": "old", "c/elsewhere": "not ours"})
    swapped_after_check(monkeypatch, root / "c/a.txt", swap)
    open_before = len(list(Path("/proc/self/fd").iterdir()))
    with pytest.raises(OutputError) as caught:
        plan_client(root, "c", {"c/a.txt": b"new"}, {})
    assert str(caught.value) == f"cannot read {root / 'c/a.txt'}: {why}"
    assert (root / "c/elsewhere").read_text() == "not ours"
    # What was opened for the read is closed again (fdopen refuses a folder, but keeps its fd).
    assert len(list(Path("/proc/self/fd").iterdir())) == open_before


def test_the_cause_behind_a_swapped_in_fifo_names_the_error_and_the_file(tmp_path, monkeypatch):
    # What ``-v`` prints under the one-line error: the OS-style cause, errno and path.
    root = tmp_path / "out"
    tree(root, {"c/a.txt": "old"})
    swapped_after_check(monkeypatch, root / "c/a.txt", os.mkfifo)
    with pytest.raises(OutputError) as caught:
        plan_client(root, "c", {"c/a.txt": b"new"}, {})
    cause = caught.value.__cause__
    assert isinstance(cause, OSError)
    assert str(cause) == f"[Errno {errno.EINVAL}] no longer a plain file: '{root / 'c/a.txt'}'"


def test_a_folder_swapped_for_a_symlink_after_it_was_opened_sends_nothing_outside(
    tmp_path, monkeypatch
):
    # c/d is opened (by name in c, not following symlinks) when its first stale file is set
    # aside; right then it is parked and a symlink to a folder outside takes its place. Every
    # later call names its file in the parked folder's descriptor, so the outside file of the
    # same name is neither set aside nor deleted.
    root, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_bytes(b"not ours\n")
    files = {"c/d/x.txt": b"x\n", "c/d/y.txt": b"y\n", "c/keep.txt": b"k\n"}
    first = plan_client(root, "c", files, {})
    apply_plan(root, first)
    second = plan_client(root, "c", {"c/keep.txt": b"k\n"}, dict(first.files))
    assert [c.action for c in second.changes] == ["unchanged", "remove", "remove"]
    folder, parked = root / "c/d", root / "c/parked"
    real = write._rename

    def rename(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        if not folder.is_symlink():
            folder.rename(parked)
            folder.symlink_to(outside, target_is_directory=True)
        real(source, destination)

    monkeypatch.setattr(write, "_rename", rename)
    apply_plan(root, second)
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == {"x.txt": b"not ours\n"}
    assert list(parked.iterdir()) == []  # the stale files went from the folder they were in


def test_a_missing_parent_of_the_root_made_meanwhile_by_another_run_does_not_stop_it(
    tmp_path, monkeypatch
):
    root = tmp_path / "a/b/out"
    plan = plan_client(root, "c", {"x.txt": b"x\n"}, {})
    real = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self == tmp_path / "a" and not self.exists():
            real(self)  # another run, between our look and our mkdir
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    apply_plan(root, plan)
    assert (root / "x.txt").read_bytes() == b"x\n"


def test_a_target_whose_mode_cannot_be_read_is_named_and_leaves_no_temporary(tmp_path):
    # A name too long for the file system, with a temporary short enough to be made: the
    # target's own stat is what fails, after the temporary was written.
    long = "x" * 300
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(OSError) as caught:
            write._stage_at(write._At(fd, long, tmp_path / long), b"data")
    finally:
        os.close(fd)
    assert caught.value.errno == errno.ENAMETOOLONG
    assert caught.value.filename == str(tmp_path / long)
    assert list(tmp_path.iterdir()) == []


def realpath_failing_at(monkeypatch: pytest.MonkeyPatch, path: Path, link: Path | None) -> None:
    """``os.path.realpath(path)`` raises as Python < 3.13's does when the symlink ``link`` it
    follows is swapped back for its folder between its lstat and its readlink."""
    real = os.path.realpath

    def realpath(name: object, *args: object, **kwargs: object) -> str:
        if os.fspath(name) == str(path):  # type: ignore[call-overload]
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), *([str(link)] if link else []))
        return real(name, *args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(os.path, "realpath", realpath)


@pytest.mark.parametrize(
    ("failing", "link"), [("out", "out"), ("out/c/d", "out/c"), ("out/c/d", None)]
)
def test_a_symlink_changed_while_it_is_followed_is_named_with_the_target(
    tmp_path, monkeypatch, failing, link
):
    root = tmp_path / "out"
    root.mkdir()
    realpath_failing_at(monkeypatch, tmp_path / failing, link and tmp_path / link)
    with pytest.raises(ConfigError) as caught:
        plan_client(root, "c", {"c/d/a.txt": b"x"}, {})
    named = tmp_path / (link or failing)
    assert str(caught.value) == (
        f"{root / 'c/d/a.txt'}: the symlink {named} was removed or replaced during the run, "
        "while it was being followed (Invalid argument); refusing to write there"
    )
