"""SIGKILL at random moments of a large build: every file is old or new, never torn or mixed.

A real ``nudge-build render`` subprocess writes sixty clients' files and is killed with
SIGKILL, again and again, while the organizations alternate between two versions so that every
file's old and new bytes differ. After each kill every file must be byte-equal to what it was
before that run or to what that run was writing; after a complete run no temporary file is
left, nothing is reported as changed by hand, and ``check`` exits 0.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nudge_build.journal import Journal
from nudge_build.lock import Lock, dump_lock, read_lock
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from nudge_build.write import apply_plan, plan_client
from tests.helpers import ALL_SETS, CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project

CLIENTS = 60  # 600 files with every stock set
KILLS = 32
COMPLETE_EVERY = 8  # a complete run (and `check`) after this many kills
TEMP = re.compile(r"\..+\.[0-9a-f]{12}\.nudge-tmp\Z")


def org_versions() -> tuple[list[dict], list[dict]]:
    """Two versions of each organization that differ in something every template shows."""
    first, second = [], []
    for i in range(CLIENTS):
        org = copy.deepcopy(SAMPLE_ORGS[i % len(SAMPLE_ORGS)])
        org["apiKey"] = f"sbx-load-{i:03d}"
        org["organizationId"] = f"org_load_{i:03d}"
        org["name"] = f"Load Test Bank {i:03d}"
        first.append(org)
        changed = copy.deepcopy(org)
        changed["organizationId"] += "_v2"
        changed["name"] += " (renamed)"
        changed["features"]["locationBasedNudges"] = not org["features"]["locationBasedNudges"]
        changed["features"]["backgroundLocation"] = changed["features"]["locationBasedNudges"]
        second.append(changed)
    return first, second


def client_ids() -> list[str]:
    return [f"c{i:03d}" for i in range(CLIENTS)]


def snapshot(root: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every generated file under root, and the names of the temporaries beside them."""
    files, temps = {}, []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if TEMP.fullmatch(name):
                temps.append(name)
            else:
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files, temps


def with_organizations(lock: Lock, version: Lock) -> bytes:
    """What `fetch` does: new organizations and flags, the files recorded as they were."""
    return dump_lock(
        Lock(
            {
                c: dataclasses.replace(entry, files=lock.clients[c].files)
                for c, entry in version.clients.items()
            }
        )
    )


def start_render(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GITHUB_ACTIONS": "", "NUDGE_BUILD_CONFIG": "", "NUDGE_API_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "nudge_build", "--config", str(config), "-q", "render"],
        cwd=config.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_change(proc: subprocess.Popen[bytes], watched: Path, timeout: float) -> float | None:
    """Poll until ``watched`` changes while ``proc`` runs; the moment it did, or None."""

    def state() -> tuple[int, int] | None:
        try:
            info = watched.stat()
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_mtime_ns

    before = state()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if state() != before:
            return time.monotonic()
        time.sleep(0.0005)
    return None


@pytest.fixture
def load_project(tmp_path):
    """A project of CLIENTS clients, with both lockfile versions fetched over real HTTP."""
    first, second = org_versions()
    keys = {c: org["apiKey"] for c, org in zip(client_ids(), first, strict=True)}
    versions = []
    for orgs in (first, second):
        with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
            config = write_project(tmp_path, api.base_url, clients=client_ids(), stock=ALL_SETS)
            (tmp_path / "nudge-build.lock").unlink(missing_ok=True)
            fetched = cli(config, "-q", "fetch", env=project_env(keys))
            assert fetched.exit_code == 0, fetched.output
            versions.append(read_lock(tmp_path / "nudge-build.lock"))
    return config, versions


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_at_random_moments_never_leaves_a_torn_or_mixed_file(load_project):
    config, versions = load_project
    root = config.parent / "nudge"
    lockfile = config.parent / "nudge-build.lock"
    journal = config.parent / ".nudge-build.lock.journal"
    watched = root / "c000" / "android"  # the first directory a run writes in
    rng = random.Random(20241126)

    # Both versions once, completely, by the same subprocess: the reference bytes and timings.
    trees, locks, full_time, write_time = [], [], 0.0, 0.0
    for version in versions:
        lockfile.write_bytes(with_organizations(read_lock(lockfile), version))
        started = time.monotonic()
        proc = start_render(config)
        writing = wait_for_change(proc, watched, timeout=60)
        locked = wait_for_change(proc, lockfile, timeout=60)
        assert proc.wait(timeout=60) == 0
        assert writing is not None and locked is not None
        # The second run replaces every file, as the runs below do; the first creates them.
        full_time, write_time = time.monotonic() - started, locked - writing
        files, temps = snapshot(root)
        assert temps == [] and not journal.exists()
        trees.append(files)
        locks.append(lockfile.read_bytes())
    assert sorted(trees[0]) == sorted(trees[1]) and len(trees[0]) == CLIENTS * 10
    # withNudge.js is the same code for every client and version; its data file differs.
    varying = [p for p in trees[0] if not p.endswith("/withNudge.js")]
    differing = sum(trees[0][p] != trees[1][p] for p in varying)
    assert differing >= 0.9 * len(varying), "the versions must differ in (nearly) every file"
    # A lockfile records one version's organizations and one version's files (fetch changes
    # the first, a complete run both): four possible lockfiles, made once.
    parsed = []
    for data in locks:
        lockfile.write_bytes(data)
        parsed.append(read_lock(lockfile))
    fetched = {(o, f): with_organizations(parsed[f], versions[o]) for o in (0, 1) for f in (0, 1)}

    mid_write = with_temps = finished = 0
    before, _ = snapshot(root)
    files_version = 1
    for kill in range(1, KILLS + 1):
        # Write the version that the first client does not hold: the run has work from its start.
        first_file = "c000/ios/Nudge.xcconfig"
        target = 0 if before[first_file] == trees[1][first_file] else 1
        new = trees[target]
        lock_before = fetched[target, files_version]
        lockfile.write_bytes(lock_before)

        started = time.monotonic()
        proc = start_render(config)
        if kill % 4 == 0:  # anywhere in the run, start-up included
            time.sleep(rng.uniform(0, full_time))
        else:  # mostly while files are being replaced
            writing = wait_for_change(proc, watched, timeout=full_time * 3 + 5)
            if writing is not None:  # up to a little after the lockfile is written
                time.sleep(rng.uniform(0, write_time * 1.2))
        proc.send_signal(signal.SIGKILL)
        finished += proc.wait(timeout=30) == 0

        after, temps = snapshot(root)
        for path in sorted(set(before) | set(new) | set(after)):
            assert after.get(path) in (before.get(path), new.get(path)), (
                f"kill {kill} at {time.monotonic() - started:.3f}s: {path} is neither its old "
                "nor its new version"
            )
        lock_after = lockfile.read_bytes()
        assert lock_after in (lock_before, locks[target]), f"kill {kill}: lockfile torn"
        if lock_after == locks[target]:
            files_version = target
        changed = {p for p in new if after.get(p) != before.get(p)}
        pending = {p for p in new if after.get(p) != new[p]}
        mid_write += bool(changed) and bool(pending)
        with_temps += bool(temps)
        before = after

        if kill % COMPLETE_EVERY == 0:
            done = cli(config, "render")
            assert done.exit_code == 0, f"after kill {kill}: {done.output}"
            assert "changed by hand" not in done.stderr
            before, temps = snapshot(root)
            assert before == new
            assert temps == [] and not journal.exists()
            assert [p.name for p in config.parent.glob(".*nudge-tmp")] == []
            assert lockfile.read_bytes() == locks[target]
            files_version = target
            check = cli(config, "check")
            assert check.exit_code == 0, check.output

    print(
        f"\n{KILLS} kills: {mid_write} between a run's first and last replace, {with_temps} "
        f"with temporaries left, {finished} after the run had finished"
    )
    # The kills must really land among the writes, or this test would prove nothing.
    assert mid_write >= KILLS // 5, f"only {mid_write} of {KILLS} kills landed mid-write"


def test_files_of_a_run_killed_before_its_lockfile_are_not_taken_for_hand_edits(tmp_path):
    """The state a kill between the last replace and the lockfile write leaves, made exactly.

    The lockfile records version 1, the disk holds version 2; the next run renders version 1
    again. The journal is what tells it that version 2 came from nudge-build, not from a hand.
    """
    root = tmp_path / "out"
    lockfile = tmp_path / "nudge-build.lock"
    one = {"c/a.txt": b"one\n", "c/b.txt": b"one\n"}
    two = {"c/a.txt": b"two\n", "c/b.txt": b"two\n", "c/new.txt": b"two\n"}
    first = plan_client(root, "c", one, {})
    apply_plan(root, first)
    recorded = dict(first.files)  # what the lockfile says

    interrupted = plan_client(root, "c", two, recorded)
    Journal.load(lockfile).begin([interrupted])
    apply_plan(root, interrupted)  # ... and the process dies before it writes the lockfile

    without = plan_client(root, "c", one, recorded)
    assert without.conflicts == ("c/a.txt", "c/b.txt")  # what a run without the journal thinks

    journal = Journal.load(lockfile)
    again = plan_client(root, "c", one, recorded, interrupted=journal.known("c"))
    assert again.conflicts == ()
    assert [(c.path, c.action) for c in again.changes] == [
        ("c/a.txt", "update"),
        ("c/b.txt", "update"),
        ("c/new.txt", "remove"),  # written by the interrupted run only: ours to remove
    ]
    apply_plan(root, again)
    journal.settle(["c"])
    assert {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.txt")} == one
    assert not (tmp_path / ".nudge-build.lock.journal").exists()


def test_a_file_at_a_journaled_path_with_other_content_is_left_alone(tmp_path):
    root = tmp_path / "out"
    lockfile = tmp_path / "nudge-build.lock"
    planned = plan_client(root, "c", {"c/new.txt": b"ours\n"}, {})
    Journal.load(lockfile).begin([planned])
    (root / "c").mkdir(parents=True)
    (root / "c" / "new.txt").write_bytes(b"someone else's\n")  # the run died before its replace
    later = plan_client(root, "c", {}, {}, interrupted=Journal.load(lockfile).known("c"))
    assert later.changes == () and later.conflicts == ()
