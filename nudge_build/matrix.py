"""Stable shards of the client list, as a GitHub Actions ``strategy.matrix``.

Every job of a fan-out loads the same config and runs ``build --shard I/N``; it selects its
clients with :func:`nudge_build.pipeline.shard_of`, a hash of the client id and N alone. That is
what makes a shard *stable*: a client keeps its shard when other clients are added or removed,
and the jobs agree on the split without talking to each other.

Why not a more even split? Keeping every client in its shard whatever else is added means a
client's shard can depend on nothing but its id and N (take the set holding only that client).
Any such rule spreads arbitrary ids like a random one: shard sizes vary around M/N by about
sqrt(M/N), and no stable rule does better. Schemes that balance exactly (sorting by hash and
cutting into equal runs, or packing buckets) move clients whenever one is added. So the shards
stay hash-based, and ``--per-job K`` spends the unevenness on the job count instead of on the
job length: it takes the smallest N at or above ceil(M/K) for which *no* shard holds more than
K clients. That N only grows as clients are added (a bigger set never fits in fewer jobs), so
the split stays put until a shard would overflow; typically N is 20-60 % above M/K.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from nudge_build.errors import ConfigError
from nudge_build.pipeline import shard_of

# GitHub Actions runs at most 256 jobs per matrix.
MAX_JOBS = 256


@dataclass(frozen=True)
class Shard:
    index: int
    total: int
    clients: tuple[str, ...]

    @property
    def label(self) -> str:
        """What ``--shard`` takes: ``I/N``."""
        return f"{self.index}/{self.total}"


def shard_clients(client_ids: Sequence[str], total: int) -> list[list[str]]:
    """The clients of each shard 1..N, each list in config order."""
    shards: list[list[str]] = [[] for _ in range(total)]
    for client_id in client_ids:
        shards[shard_of(client_id, total) - 1].append(client_id)
    return shards


def jobs_for_per_job(client_ids: Sequence[str], per_job: int) -> int:
    """The smallest job count N >= ceil(M/K) whose largest shard holds at most K clients."""
    if per_job < 1:
        raise ConfigError(f"--per-job {per_job}: expected a number >= 1")
    start = max(1, math.ceil(len(client_ids) / per_job))
    for total in range(start, MAX_JOBS + 1):
        if max(len(s) for s in shard_clients(client_ids, total)) <= per_job:
            return total
    raise ConfigError(
        f"--per-job {per_job}: {len(client_ids)} clients do not fit in {MAX_JOBS} jobs "
        f"(GitHub's limit per matrix) with at most {per_job} each; raise --per-job"
    )


def plan_shards(
    client_ids: Sequence[str], *, shards: int | None = None, per_job: int | None = None
) -> list[Shard]:
    """The non-empty shards for ``--shards N`` or ``--per-job K`` (exactly one of them)."""
    if (shards is None) == (per_job is None):
        raise ConfigError("matrix: give exactly one of --shards N or --per-job K")
    if per_job is not None:
        total = jobs_for_per_job(client_ids, per_job)
    else:
        assert shards is not None
        total = shards
        if not 1 <= total <= MAX_JOBS:
            raise ConfigError(
                f"--shards {total}: expected 1 to {MAX_JOBS} (GitHub's limit of jobs per matrix)"
            )
    # An empty shard would only start a runner that has nothing to do.
    return [
        Shard(index, total, tuple(members))
        for index, members in enumerate(shard_clients(client_ids, total), start=1)
        if members
    ]


def matrix_json(shards: Sequence[Shard]) -> str:
    """``{"include": [{"shard": "1/N", "clients": "a b"}, …]}`` for ``fromJSON``."""
    include = [{"shard": s.label, "clients": " ".join(s.clients)} for s in shards]
    return json.dumps({"include": include}, separators=(",", ":"))


def build_matrix(
    client_ids: Sequence[str], *, shards: int | None = None, per_job: int | None = None
) -> str:
    return matrix_json(plan_shards(client_ids, shards=shards, per_job=per_job))
