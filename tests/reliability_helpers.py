"""A project wired to a sandbox, for the fault tests: config, environment, runs and secret scans."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from click.testing import Result

from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, key_env_name, tree

# Fast retries for tests; every run is also bounded well below pytest's patience.
FAST_API: dict[str, Any] = {
    "retry_backoff": 0.05,
    "timeout": 5.0,
    "deadline": 30.0,
    "max_retries": 4,
}


def generated_orgs(count: int) -> dict[str, dict[str, Any]]:
    """``count`` organizations keyed by client id (``cu-01``…), each with a distinctive API key."""
    orgs = {}
    for number in range(1, count + 1):
        client = f"cu-{number:02d}"
        orgs[client] = {
            "apiKey": f"ak-{number:02d}-Qm7xV2pLr9",
            "organizationId": f"org_{number:04d}",
            "name": f"Credit Union {number}",
            "status": "active",
            "features": {"locationBasedNudges": number % 2 == 0, "backgroundLocation": True},
            "messaging": {"backgroundNotificationText": f"Nearby offers from CU {number}"},
        }
    return orgs


@dataclass
class Run:
    args: tuple[str, ...]
    result: Result
    elapsed: float

    @property
    def code(self) -> int:
        return self.result.exit_code

    @property
    def stdout(self) -> str:
        return self.result.stdout

    @property
    def stderr(self) -> str:
        return self.result.stderr


@dataclass
class Project:
    """A config on disk whose clients read their API keys from the environment."""

    root: Path
    sandbox: Sandbox
    keys: dict[str, str]  # client id -> API key
    api: dict[str, Any] = field(default_factory=dict)
    stock: tuple[str, ...] = ("ios",)
    env: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {
            "NUDGE_CLIENT_ID": CLIENT_ID,
            "NUDGE_CLIENT_SECRET": CLIENT_SECRET,
            **{key_env_name(client): key for client, key in self.keys.items()},
            **self.env,
        }
        self.write()

    @property
    def config(self) -> Path:
        return self.root / "nudge-build.toml"

    @property
    def out(self) -> Path:
        return self.root / "nudge"

    @property
    def lockfile(self) -> Path:
        return self.root / "nudge-build.lock"

    def write(self) -> None:
        data = {
            "api": {"base_url": self.sandbox.base_url, **FAST_API, **self.api},
            "templates": {"stock": list(self.stock)},
            "clients": {c: {"api_key_env": key_env_name(c)} for c in self.keys},
        }
        self.config.write_text(tomli_w.dumps(data), encoding="utf-8")

    def run(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        verbose: bool = False,
        github: bool = False,
    ) -> Run:
        full_env: dict[str, str | None] = dict(self.env)
        if github:
            full_env.update(
                GITHUB_ACTIONS="true",
                GITHUB_OUTPUT=str(self.root / "github-output.txt"),
                GITHUB_STEP_SUMMARY=str(self.root / "github-summary.md"),
                GITHUB_WORKSPACE=str(self.root),
            )
        full_env.update(env or {})
        # click's runner removes a variable whose value is None.
        argv = ("-v", *args) if verbose else args
        started = time.monotonic()
        result = cli(self.config, *argv, env=full_env)  # type: ignore[arg-type]
        run = Run(argv, result, time.monotonic() - started)
        self.runs.append(run)
        return run

    def files(self) -> dict[str, bytes]:
        return tree(self.root)


def lock_section(lock_text: str, client: str) -> str:
    """The raw lines of ``[clients.<client>]`` and its sub-tables, exactly as written."""
    lines, inside = [], False
    for line in lock_text.splitlines(keepends=True):
        if line.startswith("["):
            inside = line.startswith((f"[clients.{client}]", f"[clients.{client}."))
        if inside:
            lines.append(line)
    return "".join(lines)


def visible_text(text: str) -> str:
    """What a log reader sees: ``::add-mask::`` lines are the runner's, consumed, not shown."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.startswith("::add-mask::")
    )


def leaks(
    blobs: Iterable[tuple[str, str | bytes]], secrets: Iterable[str], random: Iterable[str] = ()
) -> Iterator[str]:
    """``where: what`` for each secret found in a blob; for the ``random`` ones (tokens, the
    client secret) any 12-character piece counts too, since a cut-off secret is still a leak."""
    needles = [(value, "secret") for value in {*secrets, *random}]
    for value in set(random):
        needles += [(value[i : i + 12], "piece of a secret") for i in range(len(value) - 11)]
    for where, blob in blobs:
        text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
        for needle, kind in needles:
            if needle in text:
                yield f"{where}: {kind} {needle[:3]}…"
                break


def secrets_of(project: Project, *extra: str) -> tuple[list[str], list[str]]:
    """What the project's runs must never show: (API keys, random secrets: the client secret
    and every token the sandbox issued, plus ``extra``)."""
    tokens = project.sandbox.stats.issued_tokens
    return list(project.keys.values()), [CLIENT_SECRET, *tokens, *extra]


def run_blobs(project: Project) -> list[tuple[str, str | bytes]]:
    """Every stream of every run (as a log reader sees it) and every file under the root."""
    blobs: list[tuple[str, str | bytes]] = []
    for number, run in enumerate(project.runs, start=1):
        blobs.append((f"run {number} {run.args} stdout", visible_text(run.stdout)))
        blobs.append((f"run {number} {run.args} stderr", run.stderr))
    blobs += [(f"file {name}", data) for name, data in project.files().items()]
    return blobs
