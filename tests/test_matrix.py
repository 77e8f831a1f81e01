"""Fan-out: `matrix` splits the clients into stable shards; their union is one full build."""

from __future__ import annotations

import json
import math
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_build.errors import ConfigError
from nudge_build.matrix import MAX_JOBS, jobs_for_per_job, plan_shards, shard_clients
from nudge_build.pipeline import shard_of
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SAMPLE_KEYS,
    cli,
    project_env,
    tree,
    write_project,
)


def write_config(directory, base_url, **options):
    directory.mkdir(parents=True, exist_ok=True)
    return write_project(directory, base_url, **options)


EXTRA = 7  # clients beyond the five samples, so that three shards are not trivially small


def extra_orgs() -> list[dict]:
    orgs = []
    for number in range(EXTRA):
        base = dict(SAMPLE_ORGS[number % len(SAMPLE_ORGS)])
        base.update(
            apiKey=f"sbx-extra-{number}",
            organizationId=f"org_extra{number}",
            name=f"Extra Bank {number}",
        )
        orgs.append(base)
    return orgs


KEYS = {**SAMPLE_KEYS, **{f"extra-{n}": f"sbx-extra-{n}" for n in range(EXTRA)}}


@pytest.fixture
def api():
    orgs = [*SAMPLE_ORGS, *extra_orgs()]
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def matrix_of(config, *args: str) -> list[dict[str, str]]:
    result = cli(config, "matrix", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["include"]


def test_the_union_of_the_shards_is_a_full_build_byte_for_byte(tmp_path, api):
    env = project_env(KEYS)
    stock = ("ios", "android", "flutter", "react-native", "expo")
    full = write_config(tmp_path / "full", api.base_url, clients=KEYS, stock=stock)
    assert cli(full, "build", env=env).exit_code == 0
    expected = tree(full.parent / "nudge")

    include = matrix_of(full, "--shards", "3")
    assert [entry["shard"] for entry in include] == ["1/3", "2/3", "3/3"]
    union: dict[str, bytes] = {}
    locked: dict[str, dict] = {}
    for number, entry in enumerate(include, start=1):
        config = write_config(tmp_path / f"shard-{number}", api.base_url, clients=KEYS, stock=stock)
        result = cli(config, "build", "--shard", entry["shard"], env=env)
        assert result.exit_code == 0, result.output
        built = tree(config.parent / "nudge")
        # Each job built exactly the clients the matrix gave it ...
        assert {path.split("/")[0] for path in built} == set(entry["clients"].split())
        assert not set(built) & set(union), "two shards wrote the same file"
        union.update(built)
        lock = tomllib.loads((config.parent / "nudge-build.lock").read_text())
        locked.update(lock["clients"])
    # ... and together they wrote what one full run writes, byte for byte.
    assert union == expected
    # The shards' lockfiles hold between them what the full run's does.
    full_lock = tomllib.loads((full.parent / "nudge-build.lock").read_text())
    assert locked == full_lock["clients"]


def test_a_client_keeps_its_shard_when_clients_are_added(tmp_path):
    before = write_config(tmp_path / "before", "http://127.0.0.1:1", clients=SAMPLE_KEYS)
    after = write_config(tmp_path / "after", "http://127.0.0.1:1", clients=KEYS)
    for shards in ("2", "3", "5"):
        shard_before = {
            client: entry["shard"]
            for entry in matrix_of(before, "--shards", shards)
            for client in entry["clients"].split()
        }
        shard_after = {
            client: entry["shard"]
            for entry in matrix_of(after, "--shards", shards)
            for client in entry["clients"].split()
        }
        assert set(shard_after) == set(KEYS)
        assert {c: shard_after[c] for c in SAMPLE_KEYS} == shard_before


def test_shard_selection_agrees_with_the_matrix(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:1", clients=KEYS)
    for entry in matrix_of(config, "--per-job", "4"):
        index, total = map(int, entry["shard"].split("/"))
        assert [c for c in KEYS if shard_of(c, total) == index] == entry["clients"].split()


def test_empty_shards_are_left_out(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:1", clients=SAMPLE_KEYS)
    include = matrix_of(config, "--shards", "40")
    assert 1 <= len(include) <= len(SAMPLE_KEYS)
    assert all(entry["clients"] for entry in include)
    assert all(entry["shard"].endswith("/40") for entry in include)
    assert sorted(c for e in include for c in e["clients"].split()) == sorted(SAMPLE_KEYS)


def test_per_job_never_puts_more_than_k_clients_in_a_job(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:1", clients=KEYS)
    for per_job in (1, 2, 3, 5, 12, 100):
        include = matrix_of(config, "--per-job", str(per_job))
        assert max(len(e["clients"].split()) for e in include) <= per_job
        total = int(include[0]["shard"].split("/")[1])
        assert total >= math.ceil(len(KEYS) / per_job)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "matrix: give exactly one of --shards N or --per-job K"),
        (
            ("--shards", "2", "--per-job", "3"),
            "matrix: give exactly one of --shards N or --per-job K",
        ),
        (("--shards", "257"), "--shards 257: expected 1 to 256"),
    ],
)
def test_matrix_usage_errors_exit_2(tmp_path, args, message):
    config = write_config(tmp_path, "http://127.0.0.1:1", clients=KEYS)
    result = cli(config, "matrix", *args)
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr


def test_per_job_that_cannot_fit_in_256_jobs_is_an_error():
    clients = [f"client-{n}" for n in range(300)]
    with pytest.raises(ConfigError, match="300 clients do not fit in 256 jobs"):
        jobs_for_per_job(clients, 1)


# -- properties -------------------------------------------------------------------------------


def client_lists(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[list[str]]:
    """Distinct client ids; numbered, which hashes as well as any slug and generates fast."""
    numbers = st.lists(st.integers(0, 10**6), unique=True, min_size=min_size, max_size=max_size)
    return numbers.map(lambda ns: [f"client-{n}" for n in ns])


@settings(max_examples=40, deadline=None)
@given(client_lists(), client_lists(max_size=30), st.integers(1, 12))
def test_adding_clients_never_moves_a_client_for_the_same_job_count(old, new, total):
    added = old + [c for c in new if c not in old]
    before = {c: i for i, members in enumerate(shard_clients(old, total)) for c in members}
    after = {c: i for i, members in enumerate(shard_clients(added, total)) for c in members}
    assert {c: after[c] for c in old} == before


@settings(max_examples=40, deadline=None)
@given(client_lists(min_size=1, max_size=80), st.integers(1, 20))
def test_per_job_is_the_smallest_job_count_that_fits(clients, per_job):
    shards = plan_shards(clients, per_job=per_job)
    total = shards[0].total
    assert sorted(c for s in shards for c in s.clients) == sorted(clients)
    assert max(len(s.clients) for s in shards) <= per_job
    smaller = range(math.ceil(len(clients) / per_job), total)
    assert all(max(map(len, shard_clients(clients, n))) > per_job for n in smaller)


@settings(max_examples=40, deadline=None)
@given(client_lists(min_size=1), client_lists(max_size=30), st.integers(1, 10))
def test_per_job_job_count_never_shrinks_as_clients_are_added(old, new, per_job):
    added = old + [c for c in new if c not in old]
    assert jobs_for_per_job(added, per_job) >= jobs_for_per_job(old, per_job)
    assert jobs_for_per_job(added, per_job) <= MAX_JOBS
