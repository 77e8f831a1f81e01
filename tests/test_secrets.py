"""No secret in any stream or file, whatever the API does (RELIABILITY.md "no secret", row 25).

The client secret, every access token the sandbox issued and the API keys marked secret are
looked for in stdout and stderr (with and without ``-v``), in the GitHub step outputs and
summary, in the lockfile and in every generated file, under each fault the client must survive.
In GitHub Actions mode the values do appear once each, in ``::add-mask::`` lines: those are
consumed by the runner, which from then on hides the value, and are not part of the log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nudge_build.sandbox import Answer, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, key_env_name
from tests.reliability_helpers import Project, leaks, run_blobs, secrets_of, visible_text

SUMMIT = SAMPLE_KEYS["summit-cu"]
# Not issued by the sandbox, so listed by hand: a token-like value in a broken token answer.
FAKE_TOKEN = "fakeTok-3NqW8rZ1yXc5vB7m"
WRONG_SECRET = "wrong-Hk42-secret-value"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Fault:
    """One way the API (or the environment) misbehaves, and the exit code it must give."""

    exit_code: int
    script: Callable[[Sandbox], None] = lambda sandbox: None
    api: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str | None] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)


def each_client(answer: Answer) -> Callable[[Sandbox], None]:
    def script(sandbox: Sandbox) -> None:
        for key in SAMPLE_KEYS.values():
            sandbox.script(key, [answer])

    return script


def summit(*answers: Answer) -> Callable[[Sandbox], None]:
    return lambda sandbox: sandbox.script(SUMMIT, answers)


def token(*answers: Answer) -> Callable[[Sandbox], None]:
    return lambda sandbox: sandbox.script_token(answers)


def both(*scripts: Callable[[Sandbox], None]) -> Callable[[Sandbox], None]:
    def script(sandbox: Sandbox) -> None:
        for each in scripts:
            each(sandbox)

    return script


FAULTS: dict[str, Fault] = {
    "none": Fault(0),
    "429-retry-after": Fault(0, summit(Answer.status(429, retry_after="1"))),
    "500-502-200": Fault(0, summit(Answer.status(500), Answer.status(502))),
    "503-past-deadline": Fault(3, summit(Answer.status(503, retry_after="3600"))),
    "reset-before": Fault(0, summit(Answer.reset_before())),
    "reset-during": Fault(0, summit(Answer.reset_during())),
    "token-503": Fault(0, token(Answer.status(503))),
    "wrong-secret": Fault(3, env={"NUDGE_CLIENT_SECRET": WRONG_SECRET}),
    "revoked-401": Fault(0, each_client(Answer.status(401))),
    "second-401": Fault(3, summit(Answer.status(401), Answer.status(401))),
    "refresh-refused": Fault(
        3,
        both(
            token(Answer.ok(), Answer.status(401, body={"error": "invalid_client"})),
            summit(Answer.status(401)),
        ),
    ),
    "near-expiry": Fault(
        0,
        each_client(Answer.status(503, retry_after="1")),
        sandbox={"token_ttl_minutes": 0.02},
    ),
    "missing-secret": Fault(2, env={"NUDGE_CLIENT_SECRET": None}),
    "hang": Fault(3, each_client(Answer.hang()), api={"deadline": 1.0, "timeout": 30.0}),
    "trickle": Fault(
        3, summit(Answer.trickle(interval_s=0.05)), api={"deadline": 1.0, "timeout": 30.0}
    ),
    "not-json": Fault(3, summit(Answer.malformed())),
    "missing-field": Fault(3, summit(Answer.without("features.locationBasedNudges"))),
    "wrong-type": Fault(3, summit(Answer.replace("features.locationBasedNudges", "yes"))),
    "404": Fault(3, keys={"ghost-cu": "sbx-ghost-cu-Wm3k"}),
    # A server that echoes what it was sent, in its error code and description.
    "echoing-server": Fault(
        3,
        summit(Answer.status(400, body={"error": SUMMIT, "error_description": CLIENT_SECRET})),
    ),
    "echoing-token-endpoint": Fault(
        3,
        token(Answer.status(400, body={"error": CLIENT_SECRET, "error_description": SUMMIT})),
    ),
    "token-answer-not-json": Fault(
        3, token(Answer.malformed(f"access_token={FAKE_TOKEN}&token_type=bearer&expires_in=60"))
    ),
    "token-type-is-the-token": Fault(
        3, token(Answer.replace("token_type", FAKE_TOKEN + FAKE_TOKEN))
    ),
}


@pytest.fixture
def sandboxes() -> Iterator[list[Sandbox]]:
    started: list[Sandbox] = []
    yield started
    for sandbox in started:
        sandbox.stop()


@pytest.mark.parametrize("name", list(FAULTS))
def test_no_secret_in_any_stream_or_file_under_each_fault(tmp_path, sandboxes, name):
    fault = FAULTS[name]
    projects = []
    # Plain, then -v in GitHub Actions mode (step outputs, summary, annotations, masks).
    for mode, options in (("plain", {}), ("verbose-github", {"verbose": True, "github": True})):
        sandbox = Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **fault.sandbox).start()
        sandboxes.append(sandbox)
        root = tmp_path / mode
        root.mkdir()
        keys = {**SAMPLE_KEYS, **fault.keys}
        project = Project(root, sandbox, keys, api=dict(fault.api))
        fault.script(sandbox)
        run = project.run("build", env=fault.env, **options)
        assert run.code == fault.exit_code, run.stderr
        projects.append(project)
    for project in projects:
        api_keys, random = secrets_of(project, CLIENT_SECRET, WRONG_SECRET, FAKE_TOKEN)
        found = list(leaks(run_blobs(project), api_keys, random))
        assert not found, f"secrets leaked: {found}"


def test_github_mode_masks_each_token_before_anything_could_print_it(tmp_path, sandboxes):
    sandbox = Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET).start()
    sandboxes.append(sandbox)
    project = Project(tmp_path, sandbox, dict(SAMPLE_KEYS))
    sandbox.script(SUMMIT, [Answer.status(401)])  # a second token mid-run
    run = project.run("build", github=True)
    assert run.code == 0, run.stderr
    issued = sandbox.stats.issued_tokens
    assert len(issued) == 2
    masked = [
        line.removeprefix("::add-mask::")
        for line in run.stdout.splitlines()
        if line.startswith("::add-mask::")
    ]
    for value in [*issued, CLIENT_SECRET, *SAMPLE_KEYS.values()]:
        assert value in masked
    assert not list(leaks([("stdout", visible_text(run.stdout))], [], issued))


# -- the client secret from a file ---------------------------------------------------------------


@pytest.fixture
def project(tmp_path, sandboxes) -> Project:
    sandbox = Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET).start()
    sandboxes.append(sandbox)
    root = tmp_path / "project"  # the secret files stay outside, out of the scan
    root.mkdir()
    return Project(root, sandbox, dict(SAMPLE_KEYS))


@pytest.mark.parametrize(
    "command",
    [("fetch",), ("build",), ("check", "--live"), ("flags", "--live")],
    ids=["fetch", "build", "check", "flags"],
)
def test_client_secret_file_is_read_by_every_command_that_calls_the_api(project, tmp_path, command):
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    no_secret_env = {"NUDGE_CLIENT_SECRET": None}
    if command[0] in ("check", "flags"):
        setup = project.run("build", "--client-secret-file", str(secret_file), env=no_secret_env)
        assert setup.code == 0, setup.stderr
    run = project.run(*command, "--client-secret-file", str(secret_file), env=no_secret_env)
    assert run.code == 0, run.stderr
    assert project.sandbox.stats.tokens_issued >= 1
    found = list(leaks(run_blobs(project), *secrets_of(project)))
    assert not found, found


def test_a_wrong_secret_in_the_file_names_the_file(project, tmp_path):
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(WRONG_SECRET)
    run = project.run("build", "--client-secret-file", str(secret_file))
    assert run.code == 3
    assert f"check the client id in NUDGE_CLIENT_ID and the secret in {secret_file}" in run.stderr
    assert WRONG_SECRET not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read client secret file"), ("  \n", "client secret file is empty")],
    ids=["missing", "empty"],
)
def test_an_unusable_secret_file_is_exit_2_before_any_request(project, tmp_path, content, problem):
    secret_file = tmp_path / "client-secret"
    if content is not None:
        secret_file.write_text(content)
    run = project.run("build", "--client-secret-file", str(secret_file))
    assert run.code == 2
    assert f"error: {secret_file}: {problem}" in run.stderr
    assert project.sandbox.stats.total_requests == 0


def test_the_client_secret_is_never_taken_from_the_command_line(project):
    run = project.run("build", "--client-secret", CLIENT_SECRET)
    assert run.code == 2
    assert "No such option" in run.stderr
    assert project.sandbox.stats.total_requests == 0


# -- a sandbox in its own process, scripted with a faults file --------------------------------


def test_build_against_a_sandbox_process_with_a_faults_file(tmp_path):
    faults = {
        "token": [503],
        "organizations": {
            SUMMIT: [{"kind": "status", "status": 500}, "reset_during"],
            SAMPLE_KEYS["harbor-bank"]: [{"kind": "status", "status": 429, "retry_after": 0}],
        },
    }
    faults_file = tmp_path / "faults.json"
    faults_file.write_text(json.dumps(faults))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_ACTIONS": "", "NUDGE_API_URL": ""}
    sandbox_command = [
        sys.executable,
        "-m",
        "nudge_build",
        "sandbox",
        "--port",
        "0",
        "--faults",
        str(faults_file),
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
    ]
    with subprocess.Popen(
        sandbox_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    ) as server:
        try:
            assert server.stdout is not None
            announced = server.stdout.readline()
            base_url = announced.split(" listening on ")[1].split(" ")[0]
            config = tmp_path / "nudge-build.toml"
            clients = "".join(
                f'[clients.{c}]\napi_key_env = "{key_env_name(c)}"\n' for c in SAMPLE_KEYS
            )
            config.write_text(
                f'[api]\nbase_url = "{base_url}"\nretry_backoff = 0.05\n\n'
                f'[templates]\nstock = ["ios"]\n\n{clients}'
            )
            build_env = {
                **env,
                "NUDGE_CLIENT_ID": CLIENT_ID,
                "NUDGE_CLIENT_SECRET": CLIENT_SECRET,
                **{key_env_name(c): k for c, k in SAMPLE_KEYS.items()},
            }
            build = subprocess.run(
                [sys.executable, "-m", "nudge_build", "--config", str(config), "-v", "build"],
                capture_output=True,
                text=True,
                env=build_env,
                timeout=60,
            )
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(base_url + "/_sandbox/stats", timeout=5) as answer:
                stats = json.load(answer)
        finally:
            server.send_signal(signal.SIGTERM)
            out, err = server.communicate(timeout=10)
    assert build.returncode == 0, build.stderr
    assert "5 of 5 clients built" in build.stdout
    assert (stats["token_requests"], stats["tokens_issued"]) == (2, 1)
    assert stats["org_requests"][SUMMIT] == 3
    assert stats["org_requests"][SAMPLE_KEYS["harbor-bank"]] == 2
    assert server.returncode == 0 and out == "" and err == ""  # SIGTERM stops it cleanly
    files = {p.as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    blobs = [("stdout", build.stdout), ("stderr", build.stderr), ("announce", announced)]
    blobs += [(f"file {name}", data) for name, data in files.items() if name != str(faults_file)]
    random = [CLIENT_SECRET, *stats["issued_tokens"]]
    assert not list(leaks(blobs, SAMPLE_KEYS.values(), random))
