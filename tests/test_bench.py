"""The benchmark runs end to end and shows every figure the issue asks for (timings unchecked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"
ROWS = (
    "fetch vs sequential",
    "fetch vs floor",
    "fetch, raw asyncio client",
    "fetch, client CPU time",
    "render (from the lock)",
    "full build",
    "re-run, no changes (render)",
    "re-run, files written",
    "--version start-up",
    "--help start-up",
    "--version/--help imports",
    "peak memory, build of 50 ",
    "peak memory, build of 500 ",
    "token requests per run",
    "GetOrganization per client",
)


def test_quick_benchmark_completes_and_prints_every_row():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "N=50 clients, latency 20 ms, concurrency 16, sets ios,android" in out
    assert "machine: " in out and "Python 3." in out
    assert "sandbox: in its own process" in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == "measure measured floor / baseline ratio target result".split()
    for row in ROWS:
        line = next((line for line in table if line.startswith(row)), None)
        assert line is not None, f"no row {row!r} in:\n{out}"
        assert line.rstrip().endswith(("PASS", "FAIL", "—")), line
    # Correctness figures do not depend on the machine: one token, one request per client,
    # no file rewritten when nothing changed, no heavy import for --version/--help.
    for row in ("re-run, files written", "token requests per run", "GetOrganization per client"):
        assert next(line for line in table if line.startswith(row)).endswith("PASS")
    assert "neither httpx nor jinja2" in out
    assert "targets: " in out.splitlines()[-1]
