"""Acceptance: a 500-client fleet configured through one secret builds in GitHub mode.

Every client's key comes from one ``NUDGE_API_KEYS`` map (what the action's ``api-keys`` input
sets), as a partner with more clients than GitHub has secret slots would configure it. The run
is a real process against the sandbox; the checks are the promises: a mask per key before any
line that could hold one, and no key anywhere else: log, summary, outputs, lockfile, files.
"""

from __future__ import annotations

import json
from pathlib import Path

from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET
from tests.test_github import github_env, outputs_of, run_cli_process

FLEET = 500


def fleet() -> tuple[list[dict], dict[str, str]]:
    """(organizations, client id -> API key): distinct, distinctive keys."""
    orgs, keys = [], {}
    for number in range(1, FLEET + 1):
        client, key = f"cu-{number:03d}", f"Qk7m{number:03d}-Vx9qTzLw"
        keys[client] = key
        orgs.append(
            {
                "apiKey": key,
                "organizationId": f"org_{number:04d}",
                "name": f"Credit Union {number}",
                "status": "active",
                "features": {
                    "locationBasedNudges": number % 3 != 0,
                    "backgroundLocation": number % 2 == 0,
                },
            }
        )
    return orgs, keys


def test_500_clients_from_one_secret_build_in_github_mode_with_every_key_masked(tmp_path):
    orgs, keys = fleet()
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        lines = [
            "[api]",
            f'base_url = "{api.base_url}"',
            "concurrency = 16",
            "",
            "[templates]",
            'stock = ["flutter"]',
            "",
        ]
        lines += [f"[clients.{client}]" for client in keys]  # no key of their own
        config = tmp_path / "nudge-build.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {
            "NUDGE_CLIENT_ID": CLIENT_ID,
            "NUDGE_CLIENT_SECRET": CLIENT_SECRET,
            "NUDGE_API_KEYS": json.dumps(keys),
            **github_env(tmp_path),
        }
        run = run_cli_process(tmp_path, "build", env=env)
        assert run.returncode == 0, run.stdout[-3000:]
        assert api.stats.total_requests == FLEET + 1  # one token, one request per client

    log = run.stdout.splitlines()  # stdout and stderr, in the order they were written
    masks = [line.removeprefix("::add-mask::") for line in log if line.startswith("::add-mask::")]
    key_masks = [m for m in masks if m in set(keys.values())]
    assert len(key_masks) == FLEET and set(key_masks) == set(keys.values())
    # Every key is masked before the first line that is not a mask: nothing could show one.
    first_other = next(i for i, line in enumerate(log) if not line.startswith("::add-mask::"))
    assert first_other > len(key_masks)

    others = [line for line in log if not line.startswith("::add-mask::")]
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert tmp_path / "nudge-build.lock" in files
    assert Path(env["GITHUB_STEP_SUMMARY"]) in files and Path(env["GITHUB_OUTPUT"]) in files
    for key in keys.values():
        assert not any(key in line for line in others)
        assert not any(key.encode() in data for data in files.values())
    assert CLIENT_SECRET not in "\n".join(others)

    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert f"{FLEET} of {FLEET} clients built." in summary
    outputs = outputs_of(Path(env["GITHUB_OUTPUT"]))
    assert outputs["clients"].split() == list(keys)
    assert sorted(p.name for p in (tmp_path / "nudge").iterdir()) == sorted(keys)
