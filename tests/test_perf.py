"""What keeps nudge-build fast must not change what it does: lazy imports, the lockfile writer."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_build.heap import frozen_heap
from nudge_build.lock import HEADER, LOCK_VERSION, Lock, LockedClient, dump_lock, lock_table
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project

PROBE = """
import sys
from nudge_build.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(sorted(m for m in ("httpx", "jinja2", "asyncio") if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["build", "--help"], ["fetch", "--help"]]
)
def test_version_and_help_import_neither_httpx_nor_jinja2(args):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == ""


def test_the_offline_stages_do_not_import_httpx():
    code = "import sys, nudge_build.pipeline, nudge_build.check; print('httpx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_frozen_heap_is_handed_back_even_when_nested_or_failing():
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_heap():
        assert gc.get_freeze_count() > 0
        with frozen_heap():
            pass
        assert gc.get_freeze_count() > 0  # the inner block left the outer freeze alone
        raise RuntimeError
    assert gc.get_freeze_count() == 0


def test_a_frozen_heap_leaves_a_freeze_it_did_not_make():
    gc.freeze()  # as a program embedding nudge-build might
    try:
        frozen = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_fetch_in_process_leaves_nothing_frozen(tmp_path):
    # Tests and library callers run many fetches in one process: frozen objects are never
    # collected, so a fetch must hand back what it froze.
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url)
        result = cli(config, "fetch", env=project_env())
    assert result.exit_code == 0, result.output
    assert gc.get_freeze_count() == 0


def one_dump(lock: Lock) -> bytes:
    """The lockfile as a single tomli_w dump of every client: what dump_lock must equal."""
    clients = {c: lock_table(lock.clients[c]) for c in sorted(lock.clients)}
    body = tomli_w.dumps({"version": LOCK_VERSION, "clients": clients})
    return (HEADER + "\n" + body).encode("utf-8")


def entry(organization: dict[str, object]) -> LockedClient:
    return LockedClient(
        organization,
        "sha256:00",
        {"location": True, "push": False},
        {"location": "derived", "push": "override"},
        {"a/ios/Nudge.xcconfig": "sha256:11", "a/android/nudge.properties": "sha256:22"},
    )


def test_the_lockfile_is_written_as_one_dump_of_every_client():
    organization = {
        "name": 'Harbor & "Main" Bank\n',
        "organizationId": "org_1",
        "features": {"locationBasedNudges": True, "geofenceCount": 3},
        "branches": [{"id": 1}, {"id": 2, "tags": ["a", "b"]}],
        "empty": {},
        "ratio": 0.5,
        "note": "Énergie ✓",
    }
    for lock in (
        Lock(),
        Lock({"one": entry({})}),
        Lock({"b": entry(organization), "a-2": entry({"x": {"y": {"z": [1, 2]}}}), "a": entry({})}),
    ):
        assert dump_lock(lock) == one_dump(lock)


keys = st.text(min_size=1, max_size=8)
scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=12), st.floats(-1e6, 1e6)
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3),
        st.lists(st.dictionaries(keys, inner, min_size=1, max_size=2), min_size=1, max_size=2),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z0-9][a-z0-9-]{0,6}", fullmatch=True),
        st.dictionaries(keys, values, max_size=4),
        max_size=4,
    )
)
def test_any_lockfile_is_written_as_one_dump_of_every_client(organizations):
    lock = Lock({client: entry(org) for client, org in organizations.items()})
    assert dump_lock(lock) == one_dump(lock)
