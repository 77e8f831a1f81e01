"""Stable shards of the client list, as a GitHub Actions ``strategy.matrix``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from nudge_build.pipeline import shard_of


def shard_clients(client_ids: Sequence[str], total: int) -> list[list[str]]:
    shards: list[list[str]] = [[] for _ in range(total)]
    for client_id in client_ids:
        shards[shard_of(client_id, total) - 1].append(client_id)
    return shards


def build_matrix(
    client_ids: Sequence[str], *, shards: int | None = None, per_job: int | None = None
) -> str:
    """``{"include": [{"shard": "1/N", "clients": "a b"}, …]}`` for ``fromJSON``.

    Shards come from a hash of each client id, so a client keeps its shard when others are
    added; ``--per-job K`` picks N from the count and may give uneven shards for that reason.
    """
    if shards is None:
        assert per_job is not None
        shards = max(1, math.ceil(len(client_ids) / per_job))
    include = [
        {"shard": f"{index}/{shards}", "clients": " ".join(members)}
        for index, members in enumerate(shard_clients(client_ids, shards), start=1)
    ]
    return json.dumps({"include": include}, separators=(",", ":"))
