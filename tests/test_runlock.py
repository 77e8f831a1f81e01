"""One run at a time per project: real concurrent processes, a real lock, a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nudge_build.runlock import RunLockUnavailable, hold_run_lock, run_lock_path
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, project_env, write_project

ROUNDS = 20
FILES = 10  # per client, besides the stock ones: enough work for two runs to overlap


@pytest.fixture(scope="module")
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def make_project(tmp_path: Path, api: Sandbox, round_: int = 0, timeout: float | None = None):
    """Every client's files show ``round_``, so each round rewrites them all."""
    templates = tmp_path / "tpl" / "custom"
    templates.mkdir(parents=True, exist_ok=True)
    for n in range(FILES):
        (templates / f"File{n}.txt.j2").write_text(
            f"{{{{ client.id }}}} {n} {{{{ client.vars.r }}}}\n"
        )
    extra = '[output]\nroot = "out"\n'
    if timeout is not None:
        extra += f"lock_timeout = {timeout}\n"
    extra += "".join(f"[clients.{c}.vars]\nr = {round_}\n" for c in SAMPLE_KEYS)
    config = write_project(tmp_path, api.base_url, stock=("ios", "android", "custom"), extra=extra)
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    if not (tmp_path / "nudge-build.lock").exists():
        fetched = cli(config, "fetch", env=project_env())
        assert fetched.exit_code == 0, fetched.output
    return config


def start(config: Path, *args: str, stderr=subprocess.PIPE) -> subprocess.Popen[str]:
    env = {**os.environ, "GITHUB_ACTIONS": "", "NUDGE_BUILD_CONFIG": "", "NUDGE_API_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "nudge_build", "--config", str(config), *args],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def test_two_runs_at_once_both_succeed_one_after_the_other(tmp_path, api):
    config = make_project(tmp_path, api)
    waited = 0
    for round_ in range(1, ROUNDS + 1):
        make_project(tmp_path, api, round_)
        runs = [start(config, "render"), start(config, "render")]
        outputs = [run.communicate(timeout=120) for run in runs]
        for run, (stdout, stderr) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, (round_, stdout, stderr)
            assert "error" not in stderr
        waited += sum("waiting for another nudge-build run" in err for _, err in outputs)
        # Whole and current after every round: nothing torn, lost or left behind.
        written = (tmp_path / "out" / "summit-cu" / "custom" / "File3.txt").read_text()
        assert written == f"summit-cu 3 {round_}\n"
    assert waited > 0  # the runs did meet, and one waited for the other
    assert cli(config, "check").exit_code == 0
    assert list(tmp_path.rglob("*.nudge-tmp")) == []
    assert not (tmp_path / ".nudge-build.lock.journal").exists()
    assert not run_lock_path(tmp_path / "nudge-build.lock").exists()


def test_a_waiting_run_names_the_holder_and_goes_on_when_it_ends(tmp_path, api):
    config = make_project(tmp_path, api, round_=1)
    lockfile = tmp_path / "nudge-build.lock"
    stderr_file = tmp_path / "stderr.txt"
    with stderr_file.open("w") as sink, hold_run_lock(lockfile, 5, on_wait=print):
        # The file docs/files.md names, holding the holder's pid for the waiting message.
        assert (tmp_path / ".nudge-build.lock.run").read_text() == f"{os.getpid()}\n"
        run = start(config, "-q", "render", stderr=sink)  # said even under -q
        deadline = time.monotonic() + 60
        while "waiting" not in stderr_file.read_text() and time.monotonic() < deadline:
            assert run.poll() is None, "it did not wait"
            time.sleep(0.05)
        assert stderr_file.read_text() == (
            f"waiting for another nudge-build run on this project (pid {os.getpid()})…\n"
        )
        assert not (tmp_path / "out").exists()  # nothing done while it waits
    stdout, _ = run.communicate(timeout=120)
    assert run.returncode == 0, stdout
    assert (tmp_path / "out" / "summit-cu" / "custom" / "File3.txt").read_text() == (
        "summit-cu 3 1\n"
    )
    assert not run_lock_path(lockfile).exists()


def test_past_the_timeout_every_command_that_reads_the_lockfile_gives_up_with_exit_2(tmp_path, api):
    config = make_project(tmp_path, api, timeout=0.3)
    lockfile = tmp_path / "nudge-build.lock"
    before = lockfile.read_bytes()
    with hold_run_lock(lockfile, 5, on_wait=print):
        for args in (
            ("render",),
            ("render", "--dry-run"),
            ("build", "--offline"),
            ("check",),
            ("fetch",),
        ):
            started = time.monotonic()
            result = cli(config, *args, env=project_env())
            assert result.exit_code == 2, (args, result.output)
            assert time.monotonic() - started >= 0.3
            assert result.stderr == (
                f"waiting for another nudge-build run on this project (pid {os.getpid()})…\n"
                f"error: another nudge-build run (pid {os.getpid()}) has held this project for "
                f"more than 0.3 s (the run lock {run_lock_path(lockfile)}); try again when it "
                "has finished, or raise [output].lock_timeout\n"
            ), args
    assert lockfile.read_bytes() == before
    assert not (tmp_path / "out").exists()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path, api):
    config = make_project(tmp_path, api, timeout=0)
    lockfile = tmp_path / "nudge-build.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from nudge_build.runlock import hold_run_lock\n"
            "with hold_run_lock(Path(sys.argv[1]), 5, on_wait=print):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(600)\n",
            str(lockfile),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    assert cli(config, "render").exit_code == 2  # held, and lock_timeout = 0: no wait at all
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()

    result = cli(config, "render")
    assert result.exit_code == 0, result.output
    assert "waiting" not in result.stderr
    assert not run_lock_path(lockfile).exists()


@pytest.mark.parametrize("value", ["-1", "true", '"soon"', "nan"])
def test_a_lock_timeout_that_is_not_seconds_is_a_config_error(tmp_path, api, value):
    config = make_project(tmp_path, api)
    config.write_text(config.read_text().replace('root = "out"\n', f"lock_timeout = {value}\n"))
    result = cli(config, "render")
    assert result.exit_code == 2, result.output
    assert "[output].lock_timeout: expected a number of seconds >= 0" in result.stderr


def test_a_run_lock_that_cannot_be_made_is_exit_2_naming_it_before_anything_is_read(tmp_path):
    # A file where the lockfile's folder should be stops root too (a read-only folder would
    # stop only a normal user); the run ends before it reads or writes anything.
    (tmp_path / "state").write_text("a file, not a folder")
    lockfile = tmp_path / "state" / "nudge-build.lock"
    with pytest.raises(RunLockUnavailable) as caught, hold_run_lock(lockfile, 1.0, print):
        pytest.fail("the lock was taken")
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(
        f"cannot write {run_lock_path(lockfile)} (the run lock, beside the lockfile): "
    )
    assert str(caught.value).endswith("; nothing was changed")
    assert (tmp_path / "state").read_text() == "a file, not a folder"
