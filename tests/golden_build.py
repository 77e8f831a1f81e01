"""Build the golden case: the five sample organizations, every stock set, over real HTTP.

`python -m tests.golden_build` regenerates tests/golden/ on purpose; the tests only compare.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from nudge_build.sandbox import Sandbox
from tests.helpers import ALL_SETS, CLIENT_ID, CLIENT_SECRET, cli, project_env, tree, write_project

GOLDEN = Path(__file__).parent / "golden"


def build_golden_tree(workdir: Path) -> dict[str, bytes]:
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(workdir, api.base_url, stock=ALL_SETS)
        result = cli(config, "build", env=project_env())
    if result.exit_code != 0:
        raise RuntimeError(f"golden build failed: {result.output}")
    return tree(workdir / "nudge")


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        files = build_golden_tree(Path(temp))
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for relative, data in files.items():
        target = GOLDEN / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    sys.stdout.write(f"wrote {len(files)} golden files to {GOLDEN}\n")


if __name__ == "__main__":
    main()
