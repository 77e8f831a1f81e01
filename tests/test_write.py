"""Writes a build can trust: confinement to output.root, all-or-nothing per client, stale files,
permissions, temporaries and the end-of-run summary. Real files and real processes throughout."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from nudge_build import write
from nudge_build.errors import ConfigError
from nudge_build.sandbox import Sandbox
from nudge_build.write import apply_plan, clean_temporaries, plan_client
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SAMPLE_KEYS,
    cli,
    mtimes,
    project_env,
    tree,
    write_project,
)

IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def make_project(
    tmp_path: Path,
    api: Sandbox,
    *,
    clients=tuple(SAMPLE_KEYS),
    stock=("ios", "android"),
    custom: dict[str, str] | None = None,
    extra: str = "",
) -> Path:
    """A project whose lockfile is fetched already, so that `render` needs no network."""
    if custom is not None:
        set_dir = tmp_path / "tpl" / "custom"
        shutil.rmtree(set_dir, ignore_errors=True)
        for name, text in custom.items():
            (set_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (set_dir / name).write_text(text)
        stock = (*stock, "custom")
    config = write_project(tmp_path, api.base_url, clients=clients, stock=stock, extra=extra)
    if custom is not None:
        config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    if not (tmp_path / "nudge-build.lock").exists():
        fetched = cli(config, "fetch", env=project_env())
        assert fetched.exit_code == 0, fetched.output
    return config


def render(config: Path, *args: str):
    return cli(config, "render", *args)


def out_dir(config: Path) -> Path:
    return config.parent / "nudge"


def temporaries(top: Path) -> list[str]:
    return sorted(p.name for p in top.rglob("*.nudge-tmp"))


@pytest.fixture
def unwritable(monkeypatch: pytest.MonkeyPatch):
    """``with unwritable(directory):`` the directory takes no new file, for real where it can.

    A normal user's directory loses its write permission, so staging a file there fails as
    it would for the user. Root ignores permission bits, and ``chattr +i`` needs a capability
    containers lack: as root every rename into the directory fails instead, through
    ``nudge_build.write._rename`` (the seam every forward rename goes through), with the
    error a read-only directory gives. Either way nothing may be left in it.
    """

    @contextlib.contextmanager
    def blocked(directory: Path):
        if IS_ROOT:
            real = write._rename

            def rename(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
                if Path(destination).parent == directory:
                    raise PermissionError(
                        errno.EACCES, os.strerror(errno.EACCES), str(source), None, str(destination)
                    )
                real(source, destination)

            with monkeypatch.context() as patch:
                patch.setattr(write, "_rename", rename)
                yield
            return
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(mode)

    return blocked


# -- confinement to output.root ---------------------------------------------------------------


def test_directory_symlink_leading_outside_the_root_is_refused_before_any_write(tmp_path, api):
    config = make_project(tmp_path, api)
    lock_before = (tmp_path / "nudge-build.lock").read_bytes()
    outside = tmp_path / "outside"
    outside.mkdir()
    # The last client in config order, so that a late check would already have written others.
    (out_dir(config) / "ridgeline-trust").mkdir(parents=True)
    (out_dir(config) / "ridgeline-trust" / "ios").symlink_to(outside)

    result = render(config)

    assert result.exit_code == 2, result.output
    assert "ridgeline-trust/ios/Nudge.xcconfig: leads outside the output root" in result.stderr
    assert "through a symlink" in result.stderr
    assert list(outside.iterdir()) == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in out_dir(config).rglob("*")) == [
        "nudge/ridgeline-trust",
        "nudge/ridgeline-trust/ios",
    ]
    assert (tmp_path / "nudge-build.lock").read_bytes() == lock_before
    assert "clients built" not in result.stdout


def test_target_that_is_a_symlink_is_refused_and_not_followed(tmp_path, api):
    config = make_project(tmp_path, api)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not generated\n")
    ios = out_dir(config) / "summit-cu" / "ios"
    ios.mkdir(parents=True)
    (ios / "Nudge.xcconfig").symlink_to(elsewhere)

    result = render(config)

    assert result.exit_code == 2, result.output
    assert "summit-cu/ios/Nudge.xcconfig: is a symlink" in result.stderr
    assert elsewhere.read_text() == "not generated\n"
    assert [p.name for p in out_dir(config).rglob("*") if p.is_file()] == ["Nudge.xcconfig"]


def test_target_that_is_a_directory_or_under_a_file_is_refused(tmp_path, api):
    config = make_project(tmp_path, api)
    (out_dir(config) / "harbor-bank" / "ios" / "NudgeInfo.plist").mkdir(parents=True)
    result = render(config)
    assert result.exit_code == 2, result.output
    assert "harbor-bank/ios/NudgeInfo.plist: exists and is not a plain file" in result.stderr

    shutil.rmtree(out_dir(config) / "harbor-bank")
    (out_dir(config) / "harbor-bank").write_text("a file where a directory must be\n")
    result = render(config)
    assert result.exit_code == 2, result.output
    assert "harbor-bank/android/AndroidManifest.xml:" in result.stderr
    assert "harbor-bank is not a directory" in result.stderr
    assert [p.name for p in out_dir(config).iterdir()] == ["harbor-bank"]


def test_a_lockfile_path_leaving_the_root_is_refused_before_any_write(tmp_path, api):
    config = make_project(tmp_path, api)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    lock = tmp_path / "nudge-build.lock"
    text = lock.read_text()
    # A tampered lockfile: a removed client claims to have written a file outside the root.
    text += textwrap.dedent(
        """
        [clients.gone-bank]
        digest = "sha256:0"
        organization = {}

        [clients.gone-bank.files]
        "../../victim.txt" = "sha256:0"
        """
    )
    lock.write_text(text)
    result = render(config)
    assert result.exit_code == 2, result.output
    assert "'../../victim.txt': not a plain relative path under the output root" in result.stderr
    assert "(recorded for client gone-bank by an earlier run)" in result.stderr
    assert victim.read_text() == "keep me\n"
    assert not out_dir(config).exists()


def test_a_symlinked_root_is_the_users_choice_and_is_written_through(tmp_path, api):
    config = make_project(tmp_path, api, extra='[output]\nroot = "generated"\n')
    real = tmp_path / "real-output"
    real.mkdir()
    (tmp_path / "generated").symlink_to(real)

    assert render(config).exit_code == 0
    assert (real / "prairie-fcu" / "ios" / "NudgeInfo.plist").is_file()
    assert (tmp_path / "generated").is_symlink()
    assert cli(config, "check").exit_code == 0


def test_resolve_refuses_paths_that_are_not_plainly_relative(tmp_path):
    for bad in ("", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\b", "a\0b"):
        with pytest.raises(ConfigError, match="not a plain relative path"):
            plan_client(tmp_path, "c", {bad: b"x"}, {})


# -- one client's files together or not at all -------------------------------------------------


def test_unwritable_directory_fails_that_client_only_naming_the_path(tmp_path, api, unwritable):
    config = make_project(tmp_path, api)
    assert render(config).exit_code == 0
    before = tree(out_dir(config))
    before_times = mtimes(out_dir(config))
    lock_before = tomllib.loads((tmp_path / "nudge-build.lock").read_text())
    # Both clients' files change; summit-cu's ios directory cannot take a new file.
    make_project(
        tmp_path,
        api,
        extra=(
            "[clients.harbor-bank.flags]\nlocation = false\n"
            "[clients.summit-cu.flags]\nlocation = true\n"
        ),
    )
    blocked = out_dir(config) / "summit-cu" / "ios"
    with unwritable(blocked):
        result = render(config)
        assert temporaries(out_dir(config)) == []

    assert result.exit_code == 2, result.output
    assert f"cannot write {blocked}/Nudge.xcconfig: Permission denied; none of" in result.stderr
    assert "none of client summit-cu's files were changed" in result.stderr
    assert "4 of 5 clients rendered: wrote 0 new and 5 changed files, 19 unchanged" in result.stdout
    assert "1 client(s) failed: summit-cu" in result.stdout
    after = tree(out_dir(config))
    # summit-cu's android files were staged (and, as root, moved in) before ios failed;
    # none of them is changed now, not even in its mtime.
    summit = [p for p in before if p.startswith("summit-cu/")]
    assert {p: after[p] for p in summit} == {p: before[p] for p in summit}
    assert {p: mtimes(out_dir(config))[p] for p in summit} == {p: before_times[p] for p in summit}
    assert after["harbor-bank/ios/Nudge.xcconfig"] != before["harbor-bank/ios/Nudge.xcconfig"]
    lock = tomllib.loads((tmp_path / "nudge-build.lock").read_text())
    assert lock["clients"]["summit-cu"] == lock_before["clients"]["summit-cu"]
    assert lock["clients"]["harbor-bank"]["flags"]["location"] is False

    again = render(config)
    assert again.exit_code == 0, again.output
    assert "5 of 5 clients rendered: wrote 0 new and 5 changed files, 25 unchanged" in again.stdout
    assert cli(config, "check").exit_code == 0
    assert temporaries(tmp_path) == []
    assert not (tmp_path / ".nudge-build.lock.journal").exists()


# A file system that fills up: the kernel refuses to grow any file past RLIMIT_FSIZE (EFBIG).
DISK_LIMITED = """\
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
from nudge_build.cli import main
sys.argv = ["nudge-build", *sys.argv[1:]]
main()
"""


def test_disk_full_fails_the_client_whose_file_does_not_fit(tmp_path, api):
    big = "{% for i in range(client.vars.lines) %}line {{ i }} of padding\n{% endfor %}"
    extra = "".join(
        f"[clients.{c}.vars]\nlines = 10\n" for c in ("prairie-fcu", "harbor-bank", "summit-cu")
    )
    config = make_project(
        tmp_path,
        api,
        clients=("prairie-fcu", "harbor-bank", "summit-cu"),
        custom={"Padding.txt.j2": big},
        extra=extra,
    )
    assert render(config).exit_code == 0
    before = tree(out_dir(config))
    make_project(
        tmp_path,
        api,
        clients=("prairie-fcu", "harbor-bank", "summit-cu"),
        custom={"Padding.txt.j2": big},
        extra=extra.replace("lines = 10", "lines = 12").replace(
            "[clients.harbor-bank.vars]\nlines = 12", "[clients.harbor-bank.vars]\nlines = 5000"
        ),
    )
    proc = subprocess.run(
        [sys.executable, "-c", DISK_LIMITED, "--config", str(config), "render"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "GITHUB_ACTIONS": "", "NUDGE_BUILD_CONFIG": "", "NUDGE_API_URL": ""},
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    padding = out_dir(config) / "harbor-bank" / "custom" / "Padding.txt"
    assert f"error: cannot write {padding}: File too large; none of client harbor-bank" in (
        proc.stderr
    )
    assert "2 of 3 clients rendered: wrote 0 new and 2 changed files, 12 unchanged" in proc.stdout
    after = tree(out_dir(config))
    assert {p: b for p, b in after.items() if p.startswith("harbor-bank/")} == {
        p: b for p, b in before.items() if p.startswith("harbor-bank/")
    }
    assert after["summit-cu/custom/Padding.txt"].count(b"\n") == 12
    assert temporaries(tmp_path) == []


# -- stale files -------------------------------------------------------------------------------


def test_files_no_longer_produced_are_removed_and_their_directories_pruned(tmp_path, api):
    templates = {"Top.txt.j2": "top\n", "deep/er/Extra.txt.j2": "extra {{ client.id }}\n"}
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"), custom=templates)
    assert render(config).exit_code == 0
    deep = out_dir(config) / "prairie-fcu" / "custom" / "deep"
    assert (deep / "er" / "Extra.txt").read_text() == "extra prairie-fcu\n"

    make_project(
        tmp_path, api, clients=("prairie-fcu", "harbor-bank"), custom={"Top.txt.j2": "top\n"}
    )
    result = render(config)
    assert result.exit_code == 0, result.output
    assert "wrote 0 new and 0 changed files, 14 unchanged, removed 2" in result.stdout
    assert not deep.exists()
    assert (out_dir(config) / "prairie-fcu" / "custom" / "Top.txt").is_file()
    lock = tomllib.loads((tmp_path / "nudge-build.lock").read_text())
    assert "prairie-fcu/custom/deep/er/Extra.txt" not in lock["clients"]["prairie-fcu"]["files"]

    # A whole set dropped from the config: its directories go, the root and the rest stay.
    make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"), stock=("ios",))
    result = render(config)
    assert result.exit_code == 0, result.output
    assert "removed 8" in result.stdout
    assert sorted(
        p.relative_to(out_dir(config)).as_posix() for p in out_dir(config).rglob("*")
    ) == [
        "harbor-bank",
        "harbor-bank/ios",
        "harbor-bank/ios/Nudge.xcconfig",
        "harbor-bank/ios/NudgeInfo.plist",
        "harbor-bank/ios/PrivacyInfo.xcprivacy",
        "prairie-fcu",
        "prairie-fcu/ios",
        "prairie-fcu/ios/Nudge.xcconfig",
        "prairie-fcu/ios/NudgeInfo.plist",
        "prairie-fcu/ios/PrivacyInfo.xcprivacy",
    ]
    assert cli(config, "check").exit_code == 0


def test_a_stale_file_already_deleted_by_hand_is_not_counted_as_removed(tmp_path, api):
    templates = {"Top.txt.j2": "top\n", "Extra.txt.j2": "extra\n"}
    clients = ("prairie-fcu", "harbor-bank")
    config = make_project(tmp_path, api, clients=clients, stock=("ios",), custom=templates)
    assert render(config).exit_code == 0
    (out_dir(config) / "prairie-fcu" / "custom" / "Extra.txt").unlink()

    make_project(tmp_path, api, clients=clients, stock=("ios",), custom={"Top.txt.j2": "top\n"})
    dry = cli(config, "-v", "render", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert [line for line in dry.stdout.splitlines() if line.startswith("would remove ")] == [
        "would remove harbor-bank/custom/Extra.txt"
    ]
    result = render(config)
    assert result.exit_code == 0, result.output
    assert re.search(
        r"^2 of 2 clients rendered: wrote 0 new and 0 changed files, \d+ unchanged, "
        r"removed 1$",
        result.stdout,
        re.MULTILINE,
    ), result.stdout
    assert not (out_dir(config) / "harbor-bank" / "custom" / "Extra.txt").exists()
    lock = tomllib.loads((tmp_path / "nudge-build.lock").read_text())
    assert "prairie-fcu/custom/Extra.txt" not in lock["clients"]["prairie-fcu"]["files"]


def test_a_target_at_the_root_of_the_output_is_written_checked_and_removed(tmp_path, api):
    (tmp_path / "tpl" / "top").mkdir(parents=True)
    (tmp_path / "tpl" / "top" / "Top.txt.j2").write_text("top of {{ client.id }}\n")
    clients = ("prairie-fcu", "harbor-bank")
    targets = '[templates.targets]\n"top/Top.txt.j2" = "{client}-top.txt"\n'
    side = {"Side.txt.j2": "side\n"}
    config = make_project(
        tmp_path, api, clients=clients, stock=("ios",), custom=side, extra=targets
    )
    result = render(config)
    assert result.exit_code == 0, result.output
    root = out_dir(config)
    assert (root / "prairie-fcu-top.txt").read_text() == "top of prairie-fcu\n"
    assert (root / "harbor-bank-top.txt").read_text() == "top of harbor-bank\n"
    lock = tomllib.loads((tmp_path / "nudge-build.lock").read_text())
    assert "prairie-fcu-top.txt" in lock["clients"]["prairie-fcu"]["files"]
    assert cli(config, "check").exit_code == 0

    (root / "harbor-bank-top.txt").write_text("by hand\n")
    check = cli(config, "check")
    assert check.exit_code == 1
    assert "harbor-bank-top.txt" in check.stdout

    make_project(tmp_path, api, clients=clients, stock=("ios",), custom=side)
    forced = render(config, "--force")
    assert forced.exit_code == 0, forced.output
    assert "removed 2" in forced.stdout
    assert sorted(p.name for p in root.iterdir()) == ["harbor-bank", "prairie-fcu"]
    assert cli(config, "check").exit_code == 0


def test_a_stale_file_changed_by_hand_is_kept_with_its_client_unless_forced(tmp_path, api):
    templates = {"Top.txt.j2": "top\n", "Extra.txt.j2": "extra\n"}
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"), custom=templates)
    assert render(config).exit_code == 0
    extra = out_dir(config) / "harbor-bank" / "custom" / "Extra.txt"
    extra.write_text("extra, with a note by hand\n")
    lock_before = (tmp_path / "nudge-build.lock").read_bytes()

    make_project(
        tmp_path, api, clients=("prairie-fcu", "harbor-bank"), custom={"Top.txt.j2": "top v2\n"}
    )
    kept = render(config)
    assert kept.exit_code == 1, kept.output
    assert "harbor-bank/custom/Extra.txt was changed by hand" in kept.stderr
    assert extra.read_text() == "extra, with a note by hand\n"
    assert (out_dir(config) / "harbor-bank" / "custom" / "Top.txt").read_text() == "top\n"
    assert (out_dir(config) / "prairie-fcu" / "custom" / "Top.txt").read_text() == "top v2\n"
    assert "1 of 2 clients rendered: wrote 0 new and 1 changed files, 6 unchanged, removed 1" in (
        kept.stdout
    )
    assert "1 client(s) left as they are, with files changed by hand: harbor-bank" in kept.stdout
    lock = tomllib.loads((tmp_path / "nudge-build.lock").read_text())
    assert (
        lock["clients"]["harbor-bank"]
        == tomllib.loads(lock_before.decode())["clients"]["harbor-bank"]
    )

    forced = render(config, "--force")
    assert forced.exit_code == 0, forced.output
    assert not extra.exists()
    assert (out_dir(config) / "harbor-bank" / "custom" / "Top.txt").read_text() == "top v2\n"
    assert cli(config, "check").exit_code == 0


def test_a_removed_clients_hand_edited_file_keeps_the_client_until_forced(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"))
    assert render(config).exit_code == 0
    edited = out_dir(config) / "harbor-bank" / "ios" / "Nudge.xcconfig"
    edited.write_text(edited.read_text() + "// kept by hand\n")

    make_project(tmp_path, api, clients=("prairie-fcu",))
    kept = render(config)
    assert kept.exit_code == 1, kept.output
    assert "client harbor-bank: harbor-bank/ios/Nudge.xcconfig was changed by hand" in kept.stderr
    assert len(list((out_dir(config) / "harbor-bank").rglob("*.*"))) == 6
    assert "harbor-bank" in tomllib.loads((tmp_path / "nudge-build.lock").read_text())["clients"]
    check = cli(config, "check")
    assert check.exit_code == 1
    assert "lockfile out of date for client harbor-bank: client no longer configured" in (
        check.stdout
    )

    forced = render(config, "--force")
    assert forced.exit_code == 0, forced.output
    assert "removed 6" in forced.stdout
    assert [p.name for p in out_dir(config).iterdir()] == ["prairie-fcu"]
    assert sorted(tomllib.loads((tmp_path / "nudge-build.lock").read_text())["clients"]) == [
        "prairie-fcu"
    ]
    assert cli(config, "check").exit_code == 0


# -- what a rewrite keeps ----------------------------------------------------------------------


def test_a_rewritten_file_keeps_the_permissions_it_was_given(tmp_path, api):
    config = make_project(tmp_path, api, clients=("summit-cu",))
    assert render(config).exit_code == 0
    plist = out_dir(config) / "summit-cu" / "ios" / "NudgeInfo.plist"
    xcconfig = out_dir(config) / "summit-cu" / "ios" / "Nudge.xcconfig"
    plist.chmod(0o444)
    xcconfig.chmod(0o640)
    make_project(
        tmp_path, api, clients=("summit-cu",), extra="[clients.summit-cu.flags]\nlocation = true\n"
    )
    result = render(config)
    assert result.exit_code == 0, result.output
    assert b"NSLocationWhenInUseUsageDescription" in plist.read_bytes()
    assert stat.S_IMODE(plist.stat().st_mode) == 0o444
    assert stat.S_IMODE(xcconfig.stat().st_mode) == 0o640


def test_unchanged_files_keep_their_mtimes_on_render_and_on_shards(tmp_path, api):
    config = make_project(tmp_path, api)
    assert render(config).exit_code == 0
    before = mtimes(tmp_path)
    again = render(config)
    assert "5 of 5 clients rendered: wrote 0 new and 0 changed files, 30 unchanged" in again.stdout
    for shard in ("1/2", "2/2"):
        result = render(config, "--shard", shard)
        assert result.exit_code == 0, result.output
        assert "wrote 0 new and 0 changed files" in result.stdout
    assert mtimes(tmp_path) == before


def test_shards_write_the_same_bytes_as_one_run(tmp_path, api):
    config = make_project(tmp_path, api)
    assert render(config).exit_code == 0
    whole = tree(tmp_path)
    shutil.rmtree(out_dir(config))
    for shard in ("1/3", "2/3", "3/3"):
        assert render(config, "--shard", shard).exit_code == 0
    assert tree(tmp_path) == whole


# -- temporaries -------------------------------------------------------------------------------


def test_only_temporaries_of_our_own_shape_are_cleaned_up(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu",))
    assert render(config).exit_code == 0
    ios = out_dir(config) / "prairie-fcu" / "ios"
    ours = [
        ios / ".NudgeInfo.plist.0123456789ab.nudge-tmp",
        out_dir(config) / ".left-at-the-root.a1b2c3d4e5f6.nudge-tmp",
        tmp_path / ".nudge-build.lock.00112233aabb.nudge-tmp",
        tmp_path / "..nudge-build.lock.journal.00112233aabb.nudge-tmp",
    ]
    outside = tmp_path / "outside"
    outside.mkdir()
    (ios / "linked").symlink_to(outside)
    not_ours = [
        ios / "notes.nudge-tmp",
        ios / ".notes.nudge-tmp",
        ios / ".x.0123456789ab.nudge-tmp.bak",
        ios / ".x.0123456789AB.nudge-tmp",
        tmp_path / ".other-file.0123456789ab.nudge-tmp",  # beside the lockfile, not the lock's
        outside / ".reached.through.a.symlink.0123456789ab.nudge-tmp",
    ]
    for path in ours + not_ours:
        path.write_text("x")
    (ios / ".dangling.0123456789ab.nudge-tmp").symlink_to(tmp_path / "nowhere")

    assert render(config).exit_code == 0
    assert [p for p in ours if p.exists()] == []
    assert [p for p in not_ours if not p.exists()] == []
    assert (ios / ".dangling.0123456789ab.nudge-tmp").is_symlink()


def test_a_symlink_with_a_temporary_looking_name_is_never_deleted(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu",))
    assert render(config).exit_code == 0
    precious = tmp_path / "precious.txt"
    precious.write_text("not nudge-build's\n")
    links = [
        out_dir(config) / "prairie-fcu" / "ios" / ".NudgeInfo.plist.0123456789ab.nudge-tmp",
        out_dir(config) / ".at-the-root.a1b2c3d4e5f6.nudge-tmp",
        tmp_path / ".nudge-build.lock.00112233aabb.nudge-tmp",
        tmp_path / "..nudge-build.lock.journal.00112233aabb.nudge-tmp",
    ]
    for link in links:
        link.symlink_to(precious)  # to a real file, so it looks like one too

    assert render(config).exit_code == 0
    assert cli(config, "fetch", env=project_env()).exit_code == 0
    assert [link for link in links if not link.is_symlink()] == []
    assert precious.read_text() == "not nudge-build's\n"


def test_fetch_cleans_only_the_lockfiles_temporaries(tmp_path, api):
    # fetch writes only the lockfile; the output tree's leftovers are for the next build.
    config = make_project(tmp_path, api, clients=("prairie-fcu",))
    assert render(config).exit_code == 0
    in_tree = out_dir(config) / "prairie-fcu" / "ios" / ".NudgeInfo.plist.0123456789ab.nudge-tmp"
    of_lock = tmp_path / ".nudge-build.lock.00112233aabb.nudge-tmp"
    for path in (in_tree, of_lock):
        path.write_text("x")
    fetched = cli(config, "fetch", env=project_env())
    assert fetched.exit_code == 0, fetched.output
    assert in_tree.exists() and not of_lock.exists()
    assert render(config).exit_code == 0
    assert not in_tree.exists()


def test_clean_temporaries_on_a_missing_root_does_nothing(tmp_path):
    assert clean_temporaries(tmp_path / "missing", tmp_path / "missing" / "x.lock") == []


# -- the summary -------------------------------------------------------------------------------


def test_dry_run_summary_and_lines_match_what_a_run_then_does(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank", "summit-cu"))
    assert render(config).exit_code == 0
    (out_dir(config) / "summit-cu" / "ios" / "Nudge.xcconfig").write_text("by hand\n")
    (out_dir(config) / "prairie-fcu" / "android" / "nudge.properties").unlink()
    make_project(
        tmp_path,
        api,
        clients=("prairie-fcu", "summit-cu"),
        extra="[clients.prairie-fcu.flags]\nbackground_location = false\n",
    )
    before = tree(tmp_path)
    times = mtimes(tmp_path)

    dry = cli(config, "-v", "render", "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert tree(tmp_path) == before and mtimes(tmp_path) == times
    lines = dry.stdout.splitlines()
    assert "would create prairie-fcu/android/nudge.properties" in lines
    assert "would update prairie-fcu/ios/Nudge.xcconfig" in lines
    assert "-NUDGE_VERSION = nudgeGeo" in lines and "+NUDGE_VERSION = nudgeStandard" in lines
    assert "would remove harbor-bank/ios/NudgeInfo.plist" in lines
    assert not any("summit-cu" in line for line in lines if line.startswith("would"))
    assert (
        "1 of 2 clients would be rendered: would write 1 new and 4 changed files, 1 unchanged, "
        "would remove 6" in lines
    )
    assert "1 client(s) left as they are, with files changed by hand: summit-cu" in lines
    assert "clients no longer configured: harbor-bank" in lines

    real = render(config)
    assert real.exit_code == 1, real.output
    assert (
        "1 of 2 clients rendered: wrote 1 new and 4 changed files, 1 unchanged, removed 6"
        in real.stdout
    )


def test_summary_counts_a_client_the_api_failed_as_failed_not_built(tmp_path, api):
    config = make_project(tmp_path, api, clients=("prairie-fcu", "harbor-bank"))
    api.script("sbx-harbor-bank", [{"kind": "status", "status": 404}])
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 3, result.output
    assert "1 of 2 clients built: wrote 6 new and 0 changed files, 0 unchanged, removed 0" in (
        result.stdout
    )
    assert "1 client(s) failed: harbor-bank" in result.stdout
    assert not (out_dir(config) / "harbor-bank").exists()


def test_an_unwritable_lockfile_directory_stops_the_run_before_any_file_changes(
    tmp_path, api, unwritable
):
    config = make_project(tmp_path, api, clients=("summit-cu",))
    assert render(config).exit_code == 0
    before, times = tree(out_dir(config)), mtimes(out_dir(config))
    make_project(
        tmp_path, api, clients=("summit-cu",), extra="[clients.summit-cu.flags]\nlocation = true\n"
    )
    with unwritable(tmp_path):
        result = render(config)
    assert result.exit_code == 2, result.output
    # A read-only folder stops the run at its first file there, the run lock; root passes that,
    # and the fixture's seam stops it at the journal's rename instead.
    first = ".nudge-build.lock.journal" if IS_ROOT else ".nudge-build.lock.run"
    assert f"error: cannot write {tmp_path / first}" in result.stderr
    assert tree(out_dir(config)) == before and mtimes(out_dir(config)) == times
    assert temporaries(tmp_path) == []


def test_removing_the_last_file_prunes_directories_but_never_the_root(tmp_path):
    root = tmp_path / "out"
    plan = plan_client(root, "c", {"c/a/b/only.txt": b"x"}, {})
    apply_plan(root, plan)
    apply_plan(root, plan_client(root, "c", {}, dict(plan.files)))
    assert root.is_dir() and list(root.iterdir()) == []


# -- what a target's name decides --------------------------------------------------------------


def test_an_envrc_is_plain_text_not_a_dotenv_file(tmp_path, api):
    # direnv's .envrc is a shell script: '$' and quotes are its syntax, and a line like
    # PATH_add is no KEY=value. Read as a .env file it would be refused or re-quoted; as the
    # text it is, every byte passes as written. Only `.env` and `.env.<name>` are .env files.
    envrc = 'export NUDGE_NOTE="{{ client.vars.note }}"\nPATH_add "$PWD/bin"\n'
    config = make_project(
        tmp_path,
        api,
        clients=("prairie-fcu",),
        stock=("ios",),
        custom={".envrc.j2": envrc},
        extra='[clients.prairie-fcu.vars]\nnote = "$HOME/bin"\n',
    )
    result = render(config)
    assert result.exit_code == 0, result.output
    written = out_dir(config) / "prairie-fcu" / "custom" / ".envrc"
    assert written.read_text() == 'export NUDGE_NOTE="$HOME/bin"\nPATH_add "$PWD/bin"\n'
