"""nudge-build at partner scale: each stage's time beside its floor, and the issue's targets.

    python bench/run.py [--clients N] [--latency-ms L] [--concurrency C] [--sets ios,android]
    python bench/run.py --quick      # a smoke run: N=50, one run per stage

The sandbox serves 10 × N generated organizations (six flag cases, names with characters every
format must encode) with the given latency. Each stage is the real CLI run as a subprocess in a
fresh project, so every figure includes what a CI job pays: interpreter start-up, imports,
config, the network, rendering, writing. Beside each figure is its floor or baseline:

- fetch: the floor N × latency / concurrency plus start-up (a fetch of a project without
  clients, with its HTTP client imported all the same), and the sequential time: one
  GetOrganization after another with one token, timed here with a plain httpx loop against the
  same sandbox;
- full build (fetch + render + write of every set): the fetch time plus 1 ms per output file;
- re-run with nothing changed (``render`` from the lock): 2 ms per client, and no file written,
  judged from the mtime of every file in the project;
- ``--version`` and ``--help``: ``python -c "import click"``;
- peak memory: the ru_maxrss of one ``build`` of N clients and one of 10 × N, each read with
  wait4() for that process alone.

The sandbox runs in its own process by default (``--sandbox process``): in this process, a
threaded server would share an interpreter lock with the sequential baseline loop, and the
figures of the two modes agree within the noise of this machine anyway (``--sandbox thread``).

Clients carry literal ``api_key`` entries, so that 10 × N clients need no 10 × N environment
variables; a key from the environment costs the same per request.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-not-a-real-one"
NUDGE = (sys.executable, "-m", "nudge_build")
HEAVY_MODULES = ("httpx", "jinja2")
# A fetch's fixed cost: the CLI run on a project without clients, its HTTP client imported too
# (a fetch without clients never gets as far as importing it).
STARTUP = "import nudge_build.api; from nudge_build.cli import run; run()"
# What --version/--help leave imported, without importing anything to find out.
IMPORT_PROBE = """
import sys
from nudge_build.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


class BenchError(Exception):
    """A run did not complete, so the benchmark has no figure to show."""


# -- generated organizations and projects ---------------------------------------------------

NAMES = (
    "Prairie Federal Credit Union",
    "Harbor & Main Bank",
    'The "Summit" Credit Union',
    "Caisse populaire Énergie",
    "Lakeside <Savings> Bank",
    "Ridgeline Trust",
)


def client_id(number: int) -> str:
    return f"fi-{number:05d}"


def api_key(number: int) -> str:
    return f"bench-key-{number:05d}"


def organization(number: int) -> dict[str, Any]:
    """One of six cases by ``number``: background location, foreground only, no location,
    suspended, onboarding with every optional field left to its default, time-based only."""
    case = number % 6
    org: dict[str, Any] = {
        "apiKey": api_key(number),
        "organizationId": f"org_{number:06x}",
        "name": f"{NAMES[case]} {number}",
        "status": {3: "suspended", 4: "onboarding"}.get(case, "active"),
        "timeZone": "America/Chicago",
        "features": {
            "timeBasedNudges": case != 2,
            "locationBasedNudges": case not in (2, 5),
            "backgroundLocation": case in (0, 3),
            "geofenceCount": number % 40,
        },
        "apps": {
            "ios": {"bundleId": f"org.fi{number}.mobile"},
            "android": {"applicationId": f"org.fi{number}.mobile"},
        },
        "messaging": {
            "locationPermissionText": f"{NAMES[case]} uses your location to show nearby ATMs.",
            "backgroundNotificationText": None,
        },
        "updatedAt": "2026-10-01T12:00:00Z",
    }
    if case == 4:
        del org["features"]["backgroundLocation"], org["apps"], org["messaging"]
    return org


@dataclass(frozen=True)
class Project:
    base_url: str
    concurrency: int
    sets: tuple[str, ...]

    def write(self, directory: Path, clients: int) -> Path:
        """A project of ``clients`` clients in a new directory; returns its config file."""
        lines = [
            "[api]",
            f'base_url = "{self.base_url}"',
            f"concurrency = {self.concurrency}",
            "",
            "[templates]",
            f"stock = {json.dumps(list(self.sets))}",
            "",
        ]
        for number in range(1, clients + 1):
            lines += [f"[clients.{client_id(number)}]", f'api_key = "{api_key(number)}"']
            if number % 7 == 0:  # overrides, as partners use them
                lines += [f"[clients.{client_id(number)}.flags]", "push = true"]
            lines.append("")
        directory.mkdir(parents=True)
        config = directory / "nudge-build.toml"
        config.write_text("\n".join(lines), encoding="utf-8")
        return config


# -- processes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # user + system
    max_rss_kib: int  # of this process alone (wait4), not the largest child so far
    stderr: str


def run_measured(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> Run:
    """Run a subprocess to completion: its wall time, CPU time and peak resident memory.

    ``cwd`` is not the checkout: ``python -m``/``-c`` import from the working directory first,
    which would shadow the nudge_build on PYTHONPATH or installed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(args), cwd=cwd, env=dict(env), stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if process.returncode != 0:
        command = " ".join(args)
        raise BenchError(f"{command} exited {process.returncode}:\n{stdout}{stderr}".rstrip())
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, stderr)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NUDGE_CLIENT_ID=CLIENT_ID,
        NUDGE_CLIENT_SECRET=CLIENT_SECRET,
        GITHUB_ACTIONS="",
        NUDGE_API_URL="",
        NUDGE_BUILD_CONFIG="",
    )
    return env


@contextmanager
def sandbox(orgs: list[dict[str, Any]], latency_ms: float, mode: str, work: Path) -> Iterator[str]:
    """Serve ``orgs``; yields the base URL."""
    if mode == "thread":
        from nudge_build.sandbox import Sandbox

        with Sandbox(
            orgs, latency_ms=latency_ms, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        ) as running:
            yield running.base_url
        return
    orgs_file = work / "orgs.json"
    orgs_file.write_text(json.dumps(orgs), encoding="utf-8")
    command = [
        *NUDGE,
        "sandbox",
        "--port=0",
        f"--orgs={orgs_file}",
        f"--latency-ms={latency_ms}",
        f"--client-id={CLIENT_ID}",
        f"--client-secret={CLIENT_SECRET}",
    ]
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            command, cwd=work, stdout=subprocess.PIPE, stderr=err, text=True, env=cli_env()
        )
        try:
            assert process.stdout is not None
            match = re.search(r"listening on (http://\S+)", process.stdout.readline())
            if match is None:
                err.seek(0)
                raise BenchError(f"the sandbox did not start: {err.read().decode()}")
            yield match.group(1)
        finally:
            process.terminate()
            process.wait(timeout=10)


def sandbox_stats(base_url: str) -> dict[str, Any]:
    """The sandbox's counters since the last call (which reset them)."""
    with httpx.Client(base_url=base_url) as http:
        stats: dict[str, Any] = http.get("/_sandbox/stats").json()
        http.post("/_sandbox/reset-stats").raise_for_status()
    return stats


def access_token(http: httpx.Client) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    answer = http.post("/oauth2/token", data=form)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def sequential_seconds(base_url: str, clients: int, sample: int) -> tuple[float, int]:
    """One token, then GetOrganization one after another on one connection: the time for
    ``clients`` requests, timed over the first ``sample`` of them; and how many were timed."""
    count = min(clients, sample)
    with httpx.Client(base_url=base_url) as http:
        headers = {"Authorization": f"Bearer {access_token(http)}"}
        start = time.perf_counter()
        for number in range(1, count + 1):
            reply = http.post("/GetOrganization", json={"apiKey": api_key(number)}, headers=headers)
            reply.raise_for_status()
            reply.json()
        elapsed = time.perf_counter() - start
    sandbox_stats(base_url)  # so that the runs that follow count only their own requests
    return elapsed * clients / count, count


def raw_seconds(base_url: str, clients: int, concurrency: int) -> float:
    """What this machine and sandbox allow: GetOrganization for every client over
    ``concurrency`` keep-alive connections written to by hand, no HTTP library, one token.

    For context beside the fetch: the part of a fetch's time above this is the HTTP stack's and
    nudge-build's, not the sandbox's or the machine's."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with httpx.Client(base_url=base_url) as http:
        token = access_token(http)
    head = f"POST /GetOrganization HTTP/1.1\r\nHost: {host}:{port}\r\n"
    head += f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"

    async def worker(numbers: list[int]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while numbers:
            body = json.dumps({"apiKey": api_key(numbers.pop())}).encode()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            answer = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", answer)
            if not answer.startswith(b"HTTP/1.1 200") or length is None:
                raise BenchError(f"raw client: unexpected answer {answer[:40]!r}")
            json.loads(await reader.readexactly(int(length.group(1))))
        writer.close()

    async def run() -> float:
        numbers = list(range(clients, 0, -1))
        start = time.perf_counter()
        await asyncio.gather(*(worker(numbers) for _ in range(concurrency)))
        return time.perf_counter() - start

    elapsed = asyncio.run(run())
    sandbox_stats(base_url)  # so that the runs that follow count only their own requests
    return elapsed


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    clients: int
    latency_ms: float
    concurrency: int
    sets: tuple[str, ...]
    repeat: int
    startup_runs: int
    sequential_sample: int
    sandbox: str

    @property
    def floor(self) -> float:
        return self.clients * self.latency_ms / 1000 / self.concurrency


@dataclass
class Figures:
    clients: int
    files_per_client: int = 0
    sequential: float = 0.0
    raw: float = 0.0
    sequential_timed: int = 0
    startup: list[float] = field(default_factory=list)
    fetch: list[Run] = field(default_factory=list)
    render: list[Run] = field(default_factory=list)
    build: list[Run] = field(default_factory=list)
    rerun: list[Run] = field(default_factory=list)
    rerun_written: int = 0
    version: list[float] = field(default_factory=list)
    help: list[float] = field(default_factory=list)
    import_click: list[float] = field(default_factory=list)
    heavy_imports: list[str] = field(default_factory=list)
    rss_10x_kib: int = 0
    tokens_per_run: list[int] = field(default_factory=list)
    requests_per_client: list[float] = field(default_factory=list)

    @property
    def files(self) -> int:
        return self.clients * self.files_per_client


def file_state(root: Path) -> dict[str, int]:
    """Every file under ``root`` and its mtime in ns."""
    return {
        path.relative_to(root).as_posix(): path.stat().st_mtime_ns
        for path in root.rglob("*")
        if path.is_file()
    }


def files_written(before: Mapping[str, int], after: Mapping[str, int]) -> int:
    changed = sum(1 for path, mtime in after.items() if before.get(path) != mtime)
    return changed + sum(1 for path in before if path not in after)


class Bench:
    def __init__(self, settings: Settings, work: Path, base_url: str) -> None:
        self.settings = settings
        self.work = work
        self.base_url = base_url
        self.project = Project(base_url, settings.concurrency, settings.sets)
        self.env = cli_env()
        self.figures = Figures(settings.clients)

    def nudge(self, config: Path, command: str) -> Run:
        return self.measure([*NUDGE, "--config", str(config), command])

    def measure(self, args: Sequence[str]) -> Run:
        return run_measured(args, self.env, self.work)

    def count_requests(self, clients: int) -> None:
        stats = sandbox_stats(self.base_url)
        self.figures.tokens_per_run.append(int(stats["token_requests"]))
        requests = sum(int(n) for n in stats["org_requests"].values())
        self.figures.requests_per_client.append(requests / clients)

    def run(self, say: Callable[[str], None]) -> Figures:
        s, f = self.settings, self.figures
        n = s.clients

        say(f"sequential baseline ({min(n, s.sequential_sample)} requests)")
        f.sequential, f.sequential_timed = sequential_seconds(self.base_url, n, s.sequential_sample)

        say(f"raw asyncio client ({n} requests, {s.concurrency} connections)")
        f.raw = min(raw_seconds(self.base_url, n, s.concurrency) for _ in range(s.repeat))

        say("start-up: a fetch with no clients")
        empty = self.project.write(self.work / "empty", 0)
        startup = [sys.executable, "-c", STARTUP, "--config", str(empty), "fetch"]
        f.startup = [self.measure(startup).seconds for _ in range(s.repeat)]

        lock = self.work / "nudge-build.lock"
        for index in range(s.repeat):
            say(f"fetch {index + 1}/{s.repeat}")
            config = self.project.write(self.work / f"fetch-{index}", n)
            f.fetch.append(self.nudge(config, "fetch"))
            self.count_requests(n)
            shutil.copy(config.parent / "nudge-build.lock", lock)

        for index in range(s.repeat):
            say(f"render from the lock {index + 1}/{s.repeat}")
            config = self.project.write(self.work / f"render-{index}", n)
            shutil.copy(lock, config.parent / "nudge-build.lock")
            f.render.append(self.nudge(config, "render"))

        for index in range(s.repeat):
            say(f"full build {index + 1}/{s.repeat}")
            config = self.project.write(self.work / f"build-{index}", n)
            f.build.append(self.nudge(config, "build"))
            self.count_requests(n)
        project = config.parent
        f.files_per_client = len(file_state(project / "nudge")) // n
        if f.files_per_client == 0:
            # Every per-file target would then be measured against nothing.
            raise SystemExit(f"the build wrote no files under {project / 'nudge'}")

        for index in range(s.repeat):
            say(f"re-run with no changes {index + 1}/{s.repeat}")
            before = file_state(project)
            f.rerun.append(self.nudge(config, "render"))
            f.rerun_written = max(f.rerun_written, files_written(before, file_state(project)))

        say("start-up: --version, --help, import click")
        for _ in range(s.startup_runs):  # interleaved, so that any drift hits all three alike
            f.version.append(self.measure([*NUDGE, "--version"]).seconds)
            f.help.append(self.measure([*NUDGE, "--help"]).seconds)
            click_only = [sys.executable, "-c", "import click"]
            f.import_click.append(self.measure(click_only).seconds)
        probe = IMPORT_PROBE.format(heavy=HEAVY_MODULES)
        for option in ("--version", "--help", "build --help"):
            run = self.measure([sys.executable, "-c", probe, *option.split()])
            f.heavy_imports += [f"{name} ({option})" for name in run.stderr.split()]

        say(f"peak memory: a build of {10 * n} clients")
        config = self.project.write(self.work / "build-10x", 10 * n)
        f.rss_10x_kib = self.nudge(config, "build").max_rss_kib
        self.count_requests(10 * n)
        return f


# -- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    label: str
    measured: str
    baseline: str
    ratio: str
    target: str
    passed: bool | None  # None: shown for context, no target


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def median_seconds(runs: Sequence[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def rows(f: Figures, s: Settings) -> list[Row]:
    n = f.clients
    startup = statistics.median(f.startup)
    fetch = median_seconds(f.fetch)
    fetch_cpu = statistics.median(run.cpu_seconds for run in f.fetch)
    render = median_seconds(f.render)
    build = median_seconds(f.build)
    rerun = median_seconds(f.rerun)
    version = statistics.median(f.version)
    help_ = statistics.median(f.help)
    click = statistics.median(f.import_click)
    rss = max(run.max_rss_kib for run in f.build)
    build_budget = fetch + f.files * 0.001
    rerun_budget = n * 0.002
    timed = "timed" if f.sequential_timed == n else f"N × the mean of {f.sequential_timed}"
    click_text = f'python -c "import click" {seconds(click)}'
    return [
        Row(
            "fetch vs sequential",
            seconds(fetch),
            f"sequential {seconds(f.sequential)} ({timed})",
            f"{f.sequential / fetch:.1f}× faster",
            "≥ 10× faster",
            f.sequential / fetch >= 10,
        ),
        Row(
            "fetch vs floor",
            seconds(fetch),
            f"N×L/C {seconds(s.floor)} + start-up {seconds(startup)}",
            f"{fetch / (s.floor + startup):.2f}×",
            "≤ 1.5×",
            fetch <= 1.5 * (s.floor + startup),
        ),
        Row(
            "fetch, raw asyncio client",
            seconds(f.raw),
            f"N×L/C {seconds(s.floor)}",
            f"{f.raw / s.floor:.2f}×",
            "—",
            None,
        ),
        Row(
            "fetch, client CPU time",
            seconds(fetch_cpu),
            f"N×L/C {seconds(s.floor)}",
            f"{fetch_cpu / s.floor:.2f}×",
            "—",
            None,
        ),
        Row(
            "render (from the lock)",
            f"{seconds(render)} ({render / n * 1000:.2f} ms/client)",
            f"start-up {seconds(startup)} + 1 ms × {f.files} files",
            f"{render / (startup + f.files * 0.001):.2f}×",
            "—",
            None,
        ),
        Row(
            "full build",
            seconds(build),
            f"fetch {seconds(fetch)} + 1 ms × {f.files} files",
            f"{build / build_budget:.2f}×",
            "≤ 1×",
            build <= build_budget,
        ),
        Row(
            "re-run, no changes (render)",
            f"{seconds(rerun)} ({rerun / n * 1000:.2f} ms/client)",
            f"2 ms × {n} clients = {seconds(rerun_budget)}",
            f"{rerun / rerun_budget:.2f}×",
            "< 1×",
            rerun < rerun_budget,
        ),
        Row(
            "re-run, files written",
            str(f.rerun_written),
            "0",
            "—",
            "= 0",
            f.rerun_written == 0,
        ),
        Row(
            "--version start-up",
            seconds(version),
            click_text,
            f"{version / click:.2f}×",
            "≤ 1.5×",
            version <= 1.5 * click,
        ),
        Row(
            "--help start-up",
            seconds(help_),
            click_text,
            f"{help_ / click:.2f}×",
            "≤ 1.5×",
            help_ <= 1.5 * click,
        ),
        Row(
            "--version/--help imports",
            ", ".join(f.heavy_imports) or "neither httpx nor jinja2",
            "—",
            "—",
            "neither",
            not f.heavy_imports,
        ),
        Row(f"peak memory, build of {n}", mib(rss), "—", "—", "—", None),
        Row(
            f"peak memory, build of {10 * n}",
            mib(f.rss_10x_kib),
            f"build of {n}: {mib(rss)}",
            f"{f.rss_10x_kib / rss:.2f}×",
            "< 3×",
            f.rss_10x_kib < 3 * rss,
        ),
        Row(
            "token requests per run",
            str(max(f.tokens_per_run)),
            "1",
            "—",
            "= 1",
            set(f.tokens_per_run) == {1},
        ),
        Row(
            "GetOrganization per client",
            f"{max(f.requests_per_client):g}",
            "1",
            "—",
            "= 1",
            set(f.requests_per_client) == {1.0},
        ),
    ]


def table(data: Sequence[Row]) -> list[str]:
    header = ("measure", "measured", "floor / baseline", "ratio", "target", "result")
    cells = [header] + [
        (
            row.label,
            row.measured,
            row.baseline,
            row.ratio,
            row.target,
            "—" if row.passed is None else "PASS" if row.passed else "FAIL",
        )
        for row in data
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def cpu_check() -> float:
    """Best of three CPU times of a fixed pure-Python loop: compares machine states, since a
    virtual machine's speed changes with the load on its host."""
    times = []
    for _ in range(3):
        start = time.process_time()
        sum(range(10_000_000))
        times.append(time.process_time() - start)
    return min(times)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} × {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        description="Benchmark nudge-build against the sandbox; see the module docstring."
    )
    parser.add_argument("--clients", type=int, default=500, metavar="N")
    parser.add_argument("--latency-ms", type=float, default=20.0, metavar="L")
    parser.add_argument("--concurrency", type=int, default=16, metavar="C")
    parser.add_argument("--sets", default="ios,android", help="stock template sets to render")
    parser.add_argument("--repeat", type=int, default=5, help="runs per stage; medians shown")
    parser.add_argument("--startup-runs", type=int, default=7, help="runs per start-up figure")
    parser.add_argument(
        "--sequential-sample",
        type=int,
        default=500,
        metavar="K",
        help="sequential requests to time; beyond K clients, N × their mean",
    )
    parser.add_argument("--sandbox", choices=("process", "thread"), default="process")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N=50, one run each")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.repeat, args.startup_runs = 50, 1, 3
    sets = tuple(name.strip() for name in args.sets.split(",") if name.strip())
    if min(args.clients, args.concurrency, args.repeat, args.startup_runs) < 1:
        parser.error("--clients, --concurrency, --repeat and --startup-runs must be at least 1")
    if args.latency_ms < 0 or args.sequential_sample < 1 or not sets:
        parser.error("--latency-ms must be ≥ 0, --sequential-sample ≥ 1, --sets not empty")
    return Settings(
        args.clients,
        args.latency_ms,
        args.concurrency,
        sets,
        args.repeat,
        args.startup_runs,
        args.sequential_sample,
        args.sandbox,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    n = settings.clients
    where = (
        "its own process (nudge-build sandbox)"
        if settings.sandbox == "process"
        else "this process (threaded server)"
    )
    print(
        f"nudge-build benchmark: N={n} clients, latency {settings.latency_ms:g} ms, "
        f"concurrency {settings.concurrency}, sets {','.join(settings.sets)}"
    )
    print(f"machine: {machine()}; sum(range(10**7)) in {cpu_check() * 1000:.0f} ms of CPU")
    print(f"sandbox: in {where}; each nudge-build run is a subprocess", flush=True)

    def say(text: str) -> None:
        print(f"  {text} …", file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    orgs = [organization(number) for number in range(1, 10 * n + 1)]
    try:
        with tempfile.TemporaryDirectory(prefix="nudge-bench-") as temp:
            work = Path(temp)
            where_code = "import nudge_build; print(nudge_build.__file__)"
            package = subprocess.run(
                [sys.executable, "-c", where_code],
                cwd=work,
                env=cli_env(),
                capture_output=True,
                text=True,
                check=True,
            )
            print(f"package: {Path(package.stdout.strip()).parent}", flush=True)
            with sandbox(orgs, settings.latency_ms, settings.sandbox, work) as base_url:
                figures = Bench(settings, work, base_url).run(say)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    data = rows(figures, settings)
    print(
        f"{figures.files_per_client} files per client, {figures.files} in all; medians of "
        f"{settings.repeat} run(s) per stage and {settings.startup_runs} per start-up figure; "
        f"{time.perf_counter() - started:.0f} s; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after (other work on the machine skews every figure)"
    )
    print()
    print("\n".join(table(data)))
    failed = [row.label for row in data if row.passed is False]
    print()
    print("targets: " + ("all pass" if not failed else "FAIL: " + ", ".join(failed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
