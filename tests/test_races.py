"""A folder under output.root swapped for a symlink to an outside folder while builds run.

A thread swaps each client's folder for a symlink and back, again and again, while real
``render`` runs rewrite every file in it. The outside folder is watched with inotify, which
reports every name created there however briefly it lived: nothing, not even a temporary
file, may ever appear in it. A run may be refused (exit 2, the path named) when it meets the
symlink, and a later run with the folder back in place writes everything.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

from nudge_build import write
from nudge_build.sandbox import Sandbox
from nudge_build.write import OutputError, apply_plan, plan_client
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, tree, write_project

CLIENTS = ("prairie-fcu", "harbor-bank", "summit-cu")
FILES = 24  # per client, all in the folder that is swapped
ROUNDS = 25

IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_Q_OVERFLOW = 0x4000


class CreationWatch:
    """Every name created in (or moved into) one folder, from the kernel: none is missed."""

    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        mask = IN_CREATE | IN_MOVED_TO
        if libc.inotify_add_watch(self.fd, os.fsencode(folder), mask) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder} failed")

    def created(self) -> list[str]:
        names = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            offset = 0
            while offset < len(data):
                _wd, mask, _cookie, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
                names.append("<events lost>" if mask & IN_Q_OVERFLOW else os.fsdecode(name))
                offset += 16 + length

    def close(self) -> None:
        os.close(self.fd)


class Swapper(threading.Thread):
    """Swaps each folder for a symlink to ``outside`` and back until stopped.

    The folder is parked beside itself, inside the root: moving it out of the root would take
    the files with it, which is no escape of nudge-build's. A run that makes the folder anew
    while it is parked keeps its own; the parked one is then dropped."""

    def __init__(self, folders: list[Path], outside: Path) -> None:
        super().__init__(daemon=True)
        self.folders = folders
        self.outside = outside
        self.stop = threading.Event()
        self.swaps = 0

    def run(self) -> None:
        while not self.stop.is_set():
            for folder in self.folders:
                self.swap(folder)

    def swap(self, folder: Path) -> None:
        parked = folder.with_name(folder.name + ".parked")
        try:
            folder.rename(parked)
        except FileNotFoundError:
            return  # not made yet, or a run is making it
        try:
            folder.symlink_to(self.outside, target_is_directory=True)
        except FileExistsError:
            shutil.rmtree(parked)  # a run made it anew meanwhile: keep that one
            return
        self.swaps += 1
        time.sleep(0.0005)
        folder.unlink()
        try:
            parked.rename(folder)
        except OSError:
            shutil.rmtree(parked)


def make_project(tmp_path: Path, api: Sandbox, round_: int) -> Path:
    """Every client writes FILES files into its ``custom`` folder; each round changes them all."""
    templates = tmp_path / "tpl" / "custom"
    templates.mkdir(parents=True, exist_ok=True)
    for n in range(FILES):
        (templates / f"File{n:02d}.txt.j2").write_text(
            f"{{{{ client.id }}}} file {n} round {{{{ client.vars.round }}}}\n"
        )
    extra = '[output]\nroot = "out"\n'
    extra += "".join(f"[clients.{c}.vars]\nround = {round_}\n" for c in CLIENTS)
    config = write_project(tmp_path, api.base_url, clients=CLIENTS, stock=("custom",), extra=extra)
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    return config


@pytest.mark.skipif(sys.platform != "linux", reason="the watch is inotify, Linux's own")
def test_a_folder_swapped_for_a_symlink_mid_run_gets_nothing_outside_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = make_project(tmp_path, api, 0)
        fetched = cli(config, "fetch", env=project_env())
        assert fetched.exit_code == 0, fetched.output
    assert cli(config, "render").exit_code == 0
    root = tmp_path / "out"
    watch = CreationWatch(outside)
    swapper = Swapper([root / c / "custom" for c in CLIENTS], outside)
    codes = []
    try:
        swapper.start()
        for round_ in range(1, ROUNDS + 1):
            make_project(tmp_path, api, round_)
            result = cli(config, "render")
            codes.append(result.exit_code)
            assert result.exit_code in (0, 2), result.output
            assert "internal error" not in result.stderr
    finally:
        swapper.stop.set()
        swapper.join()
        created = watch.created()
        watch.close()

    assert created == []
    assert list(outside.iterdir()) == []
    assert swapper.swaps > ROUNDS  # the folders really were swapped, many times per run
    assert 2 in codes  # and runs met the symlink
    # With the folders back in place, a run writes every client's files and all is current.
    result = cli(config, "render")
    assert result.exit_code == 0, result.output
    assert cli(config, "check").exit_code == 0
    for client in CLIENTS:
        written = sorted(p.name for p in (root / client / "custom").iterdir())
        assert written == [f"File{n:02d}.txt" for n in range(FILES)]
    assert list(tmp_path.rglob("*.nudge-tmp")) == []


def test_a_folder_swapped_between_plan_and_apply_fails_that_client_alone(tmp_path):
    root = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    first = plan_client(root, "c", {"c/ios/a.txt": b"one\n", "c/ios/b.txt": b"one\n"}, {})
    apply_plan(root, first)
    second = plan_client(
        root, "c", {"c/ios/a.txt": b"two\n", "c/ios/b.txt": b"two\n"}, dict(first.files)
    )
    folder = root / "c" / "ios"
    folder.rename(root / "c" / "parked")
    folder.symlink_to(outside, target_is_directory=True)

    with pytest.raises(OutputError) as failed:
        apply_plan(root, second)

    assert str(failed.value).startswith(f"{folder / 'a.txt'}: leads outside the output root")
    assert str(failed.value).endswith("none of client c's files were changed")
    assert list(outside.iterdir()) == []
    assert tree(root / "c" / "parked") == {"a.txt": b"one\n", "b.txt": b"one\n"}


def test_a_folder_swapped_while_the_client_is_applied_fails_it_and_puts_all_back(
    tmp_path, monkeypatch
):
    # The swap happens at a chosen moment: when the first stale file is set aside (through the
    # seam every forward rename goes through), c/d, whose stale file comes next, becomes a
    # symlink to the outside folder. Opening c/d without following symlinks finds it out.
    root = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    files = {"c/a/keep.txt": b"one\n", "c/b/x.txt": b"x\n", "c/d/y.txt": b"y\n"}
    first = plan_client(root, "c", files, {})
    apply_plan(root, first)
    second = plan_client(root, "c", {"c/a/keep.txt": b"two\n"}, dict(first.files))
    assert [c.action for c in second.changes] == ["update", "remove", "remove"]
    folder = root / "c" / "d"
    real = write._rename

    def rename(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        if not folder.is_symlink():
            folder.rename(root / "c" / "parked")
            folder.symlink_to(outside, target_is_directory=True)
        real(source, destination)

    monkeypatch.setattr(write, "_rename", rename)
    with pytest.raises(OutputError) as failed:
        apply_plan(root, second)

    assert str(failed.value) == (
        f"cannot remove {folder / 'y.txt'}: a symlink was put where a directory was, during the "
        f"run ({folder}); none of client c's files were changed"
    )
    assert list(outside.iterdir()) == []
    assert tree(root) == {"c/a/keep.txt": b"one\n", "c/b/x.txt": b"x\n", "c/parked/y.txt": b"y\n"}
    assert list(root.rglob("*.nudge-tmp")) == []


def test_a_symlink_swapped_back_while_planning_resolves_it_is_no_internal_error(
    tmp_path, monkeypatch
):
    # The moment the swap test once met (as an internal error): planning resolves a client's
    # folder with os.path.realpath, which lstat's the name, finds the symlink, then reads it.
    # The stand-in for os.readlink swaps the folder back in exactly between the two, as the
    # swapper does. Before Python 3.13 realpath lets that readlink's EINVAL out, and the run
    # is refused before anything is written; 3.13's realpath goes on with the name unresolved,
    # which is the folder, back in place, and the run writes it.
    outside = tmp_path / "outside"
    outside.mkdir()
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = make_project(tmp_path, api, 0)
        assert cli(config, "fetch", env=project_env()).exit_code == 0
    assert cli(config, "render").exit_code == 0
    root = tmp_path / "out"
    before = tree(root)
    folder = root / "harbor-bank" / "custom"
    parked = folder.with_name("custom.parked")
    folder.rename(parked)
    folder.symlink_to(outside, target_is_directory=True)
    make_project(tmp_path, api, 1)
    real_readlink = os.readlink
    raised: list[OSError] = []

    def readlink(path, *args, **kwargs):
        if os.fspath(path) == str(folder) and folder.is_symlink():
            folder.unlink()
            parked.rename(folder)
            try:
                return real_readlink(path, *args, **kwargs)
            except OSError as exc:
                raised.append(exc)
                raise
        return real_readlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "readlink", readlink)
    result = cli(config, "render")
    monkeypatch.undo()

    assert [exc.errno for exc in raised] == [errno.EINVAL]  # the moment was staged
    assert "internal error" not in result.stderr
    assert list(outside.iterdir()) == []
    if sys.version_info < (3, 13):
        assert result.exit_code == 2
        assert result.stderr == (
            f"error: {folder / 'File00.txt'}: the symlink {folder} was removed or replaced during "
            "the run, while it was being followed (Invalid argument); refusing to write there\n"
        )
        assert tree(root) == before  # refused while planning: no client was written
    else:
        assert result.exit_code == 0, result.output
        assert tree(root) == {
            path: data.replace(b"round 0", b"round 1") for path, data in before.items()
        }
