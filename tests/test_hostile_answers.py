"""Hostile answers, hostile lockfiles and journals, hostile tokens, echoed secrets.

The answers come from real servers on loopback: a small HTTP/1.1 server here for what the
sandbox cannot send (gzip bombs, endless bodies, 100,000 levels of nesting), the sandbox's
fault scripting for the rest. Runs whose memory is measured are real processes, their peak
resident size read from the kernel (``wait4``'s ``ru_maxrss``).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from nudge_build import secret
from nudge_build.sandbox import Answer, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, key_env_name, project_env
from tests.reliability_helpers import Project, generated_orgs, run_blobs, visible_text

ROOT = Path(__file__).resolve().parents[1]
CAP = 2 * 1024 * 1024  # the default [api].max_response_bytes
MIB = 1024 * 1024
MEMORY_LIMIT_MIB = 200
HEALTHY = generated_orgs(2)  # cu-01, cu-02
FAST = {"retry_backoff": 0.05, "timeout": 10.0, "deadline": 30.0, "max_retries": 2}


# -- a loopback API that sends what it is told --------------------------------------------------


@dataclass
class Reply:
    """A raw answer: status, headers, and the body as chunks (sent chunked without a length)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Callable[[], Iterable[bytes]] = lambda: [b"{}"]
    length: int | None = None  # Content-Length to announce; None: chunked


def json_reply(value: Any, status: int = 200) -> Reply:
    body = json.dumps(value).encode()
    return Reply(status, {"Content-Type": "application/json"}, lambda: [body], len(body))


def text_reply(text: str) -> Reply:
    body = text.encode()
    return Reply(200, {"Content-Type": "application/json"}, lambda: [body], len(body))


class HostileApi:
    """Healthy organizations by API key, a hostile reply for some keys or for the token."""

    def __init__(self, orgs: dict[str, dict[str, Any]]) -> None:
        self.orgs = {
            o["apiKey"]: {k: v for k, v in o.items() if k != "apiKey"} for o in orgs.values()
        }
        self.hostile: dict[str, Reply] = {}
        self.token: Reply | None = None
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client closed a connection it would not read to the end

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                reply = api.reply(self.path, body)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.length is None:
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.send_header("Content-Length", str(reply.length))
                    self.end_headers()
                    for chunk in reply.chunks():
                        if reply.length is None:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            self.wfile.write(chunk)
                    if reply.length is None:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client stopped reading: as it should

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def reply(self, path: str, body: bytes) -> Reply:
        if path == "/oauth2/token":
            with self._lock:
                self.requests["token"] += 1
            token = {"access_token": "tok-Hq3mZ8xWv2", "token_type": "Bearer", "expires_in": 60}
            return self.token or json_reply(token)
        key = json.loads(body).get("apiKey", "")
        with self._lock:
            self.requests[key] += 1
        if key in self.hostile:
            return self.hostile[key]
        if key in self.orgs:
            return json_reply(self.orgs[key])
        return json_reply({"error": "not_found"}, 404)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_api() -> Iterator[HostileApi]:
    api = HostileApi(HEALTHY)
    yield api
    api.stop()


HOSTILE_KEY = "ak-hostile-Zr81Pq"
CLIENTS = {"cu-01": HEALTHY["cu-01"]["apiKey"], "cu-02": HEALTHY["cu-02"]["apiKey"]}
ALL_CLIENTS = {**CLIENTS, "evil": HOSTILE_KEY}


def make_config(
    root: Path,
    base_url: str,
    keys: dict[str, str],
    templates: dict[str, Any] | None = None,
    **api: Any,
) -> Path:
    data = {
        "api": {"base_url": base_url, **FAST, **api},
        "output": {"root": "build/nudge"},
        "templates": templates or {"stock": ["ios"]},
        "clients": {c: {"api_key_env": key_env_name(c)} for c in keys},
    }
    config = root / "nudge-build.toml"
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    return config


@dataclass(frozen=True)
class Process:
    code: int
    stdout: str
    stderr: str
    peak_mib: float


def run_process(config: Path, *args: str, keys: dict[str, str]) -> Process:
    """The real CLI in its own process; its peak resident size as the kernel counted it."""
    env = {
        **os.environ,
        **project_env(keys),
        "PYTHONPATH": str(ROOT),
        "GITHUB_ACTIONS": "",
        "NUDGE_API_URL": "",
        "NUDGE_BUILD_CONFIG": "",
    }
    out, err = config.parent / "stdout.txt", config.parent / "stderr.txt"
    peak = config.parent / "peak.txt"
    command = [sys.executable, "-m", "nudge_build", "--config", str(config), *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # Through a small launcher: a child's ru_maxrss starts from its parent's size at the
        # fork, and a pytest process that has run hundreds of tests is far larger than the CLI.
        code = subprocess.call(
            [sys.executable, "-c", _LAUNCHER, str(peak), *command],
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=config.parent,
        )
    text = out.read_text(), err.read_text()
    kib = int(peak.read_text())
    for path in (out, err, peak):
        path.unlink()
    return Process(code, *text, kib / 1024)  # KiB on Linux


# Runs the CLI as its only child and records that child's peak resident size.
_LAUNCHER = """\
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as peak:
    peak.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def gzip_bomb(size: int) -> tuple[bytes, int]:
    """A gzip stream of a JSON organization whose name is ``size`` bytes of 'A': ~1 KB per MiB.

    Built from one compressed MiB repeated: after a full flush the compressor starts afresh,
    so each further MiB compresses to the same bytes. Returns (gzip data, inflated size)."""
    head, tail = b'{"organizationId": "org_bomb", "name": "', b'"}'
    block = b"A" * MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(head + block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(tail) + compressor.flush()
    blocks = size // MIB
    crc = zlib.crc32(head + block)
    for _ in range(blocks - 1):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    total = len(head) + blocks * MIB + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (total % 2**32).to_bytes(4, "little")
    return header + first + repeat * (blocks - 1) + end + trailer, total


def nested(depth: int, kind: str = "mixed") -> Any:
    """A value ``depth`` levels deep: arrays, objects, or (the writer's worst) both in turn."""
    value: Any = 1
    for level in range(depth):
        use_list = kind == "list" or (kind == "mixed" and level % 2 == 0)
        value = [value] if use_list else {"k": value}
    return value


def deep_org_text(depth: int) -> str:
    """An organization ``depth`` levels deep in all, as text: json.dumps would overflow."""
    head = json.dumps(org_with(None))[:-1]  # without the closing brace
    return head.replace('"extra": null', '"extra": ' + "[" * (depth - 1) + "]" * (depth - 1)) + "}"


def org_with(extra: Any) -> dict[str, Any]:
    return {
        "organizationId": "org_evil",
        "name": "Evil Bank",
        "features": {"locationBasedNudges": True},
        "extra": extra,
    }


def assert_healthy_written(root: Path, failed: str = "evil") -> None:
    out = root / "build" / "nudge"
    assert sorted(p.name for p in out.iterdir()) == sorted(CLIENTS)
    lock = (root / "nudge-build.lock").read_text()
    for client in CLIENTS:
        assert (out / client / "ios" / "NudgeInfo.plist").is_file()
        assert f"[clients.{client}]" in lock
    assert f"[clients.{failed}]" not in lock
    assert not (root / ".nudge-build.lock.journal").exists()


def org_failure(client: str, reason: str) -> str:
    return f"error: client {client}: POST /GetOrganization: {reason}\n"


TOO_LARGE = f"answer larger than {CAP} bytes ([api].max_response_bytes); not reading the rest"
TOO_DEEP = "answer nested deeper than 64 levels; not decoding it"


# -- size -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb() -> tuple[bytes, int]:
    return gzip_bomb(1024 * MIB)


def test_a_gzip_bomb_fails_its_client_alone_in_bounded_memory(tmp_path, hostile_api, bomb):
    data, inflated = bomb
    assert inflated > 1024 * MIB and len(data) < 1.1 * MIB  # 1 GiB from ~1 MB
    hostile_api.hostile[HOSTILE_KEY] = Reply(
        200,
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        lambda: [data],
        len(data),
    )
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS)
    run = run_process(config, "build", keys=ALL_CLIENTS)
    assert run.code == 3, run.stderr
    assert org_failure("evil", TOO_LARGE) in run.stderr
    assert "internal error" not in run.stderr
    assert hostile_api.requests[HOSTILE_KEY] == 1  # refused, not retried
    assert_healthy_written(tmp_path)
    assert run.peak_mib < MEMORY_LIMIT_MIB, f"peak {run.peak_mib:.0f} MiB"


@pytest.mark.parametrize("announced", [False, True], ids=["chunked", "content-length"])
def test_a_200_mb_answer_fails_its_client_alone_in_bounded_memory(tmp_path, hostile_api, announced):
    size = 200 * 1000 * 1000
    block = b" " * MIB

    def endless() -> Iterator[bytes]:
        yield b'{"organizationId": "org_big", "name": "Big", "pad": "'
        for _ in range(size // MIB):
            yield block

    hostile_api.hostile[HOSTILE_KEY] = Reply(200, {}, endless, size if announced else None)
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS)
    run = run_process(config, "build", keys=ALL_CLIENTS)
    assert run.code == 3, run.stderr
    assert org_failure("evil", TOO_LARGE) in run.stderr
    assert hostile_api.requests[HOSTILE_KEY] == 1
    assert_healthy_written(tmp_path)
    assert run.peak_mib < MEMORY_LIMIT_MIB, f"peak {run.peak_mib:.0f} MiB"


def test_the_cap_is_the_decoded_size_and_is_configurable(tmp_path, hostile_api):
    # An organization padded to exactly the cap is taken; one byte more is not.
    cap = 4096
    org = HEALTHY["cu-01"]
    body = json.dumps({k: v for k, v in org.items() if k != "apiKey"}).encode()
    exact = body[:-1] + b" " * (cap - len(body)) + b"}"
    assert len(exact) == cap
    compressed = zlib.compress(exact + b" ")  # zlib-wrapped "deflate", one byte over
    hostile_api.hostile[org["apiKey"]] = Reply(200, {}, lambda: [exact], cap)
    hostile_api.hostile[HOSTILE_KEY] = Reply(
        200, {"Content-Encoding": "deflate"}, lambda: [compressed], len(compressed)
    )
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS, max_response_bytes=cap)
    result = cli(config, "build", env=project_env(ALL_CLIENTS))
    assert result.exit_code == 3, result.output
    reason = f"answer larger than {cap} bytes ([api].max_response_bytes); not reading the rest"
    assert org_failure("evil", reason) in result.stderr
    assert_healthy_written(tmp_path)


def test_max_response_bytes_is_validated(tmp_path):
    config = make_config(tmp_path, "http://127.0.0.1:9", CLIENTS, max_response_bytes=100)
    result = cli(config, "build", env=project_env(CLIENTS))
    assert result.exit_code == 2
    assert "[api].max_response_bytes: expected a whole number >= 1024, got 100" in result.stderr


def test_an_encoding_that_was_not_asked_for_is_refused(tmp_path, hostile_api):
    hostile_api.hostile[HOSTILE_KEY] = Reply(200, {"Content-Encoding": "br"}, lambda: [b"x"], 1)
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS)
    result = cli(config, "build", env=project_env(ALL_CLIENTS))
    assert result.exit_code == 3
    reason = "answer in a content encoding that was not asked for (br)"
    assert org_failure("evil", reason) in result.stderr
    assert_healthy_written(tmp_path)


# -- depth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 250, 100_000])
def test_a_deeply_nested_organization_fails_its_client_alone(tmp_path, hostile_api, depth):
    # 65: one past the cap; 250: where the lockfile writer used to overflow after the files
    # were written; 100,000: where JSON decoding itself overflowed. Exit 3 for that client.
    hostile_api.hostile[HOSTILE_KEY] = text_reply(deep_org_text(depth))
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS)
    result = cli(config, "build", env=project_env(ALL_CLIENTS))
    assert result.exit_code == 3, result.output
    assert org_failure("evil", TOO_DEEP) in result.stderr
    assert_healthy_written(tmp_path)
    # The next run finds a lockfile it can read and no journal: it recovers cleanly.
    del hostile_api.hostile[HOSTILE_KEY]
    hostile_api.orgs[HOSTILE_KEY] = org_with("flat")
    again = cli(config, "build", env=project_env(ALL_CLIENTS))
    assert again.exit_code == 0, again.output


def test_brackets_inside_strings_do_not_count_as_depth(tmp_path, hostile_api):
    hostile_api.orgs[HOSTILE_KEY] = org_with('[[[{{{"\\"' * 5000)
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS)
    result = cli(config, "build", env=project_env(ALL_CLIENTS))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
def test_an_organization_at_the_depth_cap_is_written_and_read_back(tmp_path, hostile_api, kind):
    # 64 levels in all (the organization object is the first): the lockfile writer, the
    # lockfile reader and every later run handle it.
    hostile_api.orgs[HOSTILE_KEY] = org_with(nested(63, kind))
    config = make_config(tmp_path, hostile_api.base_url, ALL_CLIENTS)
    result = cli(config, "build", env=project_env(ALL_CLIENTS))
    assert result.exit_code == 0, result.output
    assert "[clients.evil" in (tmp_path / "nudge-build.lock").read_text()
    offline = cli(config, "build", "--offline")
    assert offline.exit_code == 0, offline.output


# -- the token endpoint -----------------------------------------------------------------------


def token_failure(reason: str) -> str:
    return f"error: POST /oauth2/token: {reason}\n"


@pytest.mark.parametrize("hostile", ["deep", "bomb", "endless"])
def test_a_hostile_token_answer_fails_the_run_before_any_client(
    tmp_path, hostile_api, bomb, hostile
):
    if hostile == "deep":
        hostile_api.token = text_reply("[" * 100_000)
        reason = TOO_DEEP
    elif hostile == "bomb":
        data = bomb[0]
        hostile_api.token = Reply(200, {"Content-Encoding": "gzip"}, lambda: [data], len(data))
        reason = TOO_LARGE
    else:
        hostile_api.token = Reply(200, {}, lambda: iter(lambda: b"[" * 65536, None), None)
        reason = TOO_LARGE
    config = make_config(tmp_path, hostile_api.base_url, CLIENTS)
    result = cli(config, "build", env=project_env(CLIENTS))
    assert result.exit_code == 3, result.output
    assert token_failure(reason) in result.stderr
    assert hostile_api.requests["token"] == 1
    assert set(hostile_api.requests) == {"token"}  # no GetOrganization
    assert not (tmp_path / "build").exists()


# -- tokens that cannot be sent, or expire at once ----------------------------------------------


@pytest.fixture
def sandboxes() -> Iterator[list[Sandbox]]:
    started: list[Sandbox] = []
    yield started
    for each in started:
        each.stop()


def sandbox_project(root: Path, sandboxes: list[Sandbox], clients: int = 4, **api: Any) -> Project:
    orgs = generated_orgs(clients)
    sandbox = Sandbox(list(orgs.values()), client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    sandboxes.append(sandbox.start())
    keys = {client: org["apiKey"] for client, org in orgs.items()}
    return Project(root, sandbox, keys, api=api)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("tok-one\r\nX-Injected: 1", "a line break (CR or LF)"),
        ("tok-\ud800-surrogate", "U+D800, a lone surrogate"),
        ("tok-\x01-control", "a control character (U+0001)"),
        ("tok-caf\u00e9", "a character that is not ASCII (U+00E9)"),
        ("tok with space", "a space"),
    ],
    ids=["crlf", "surrogate", "control", "non-ascii", "space"],
)
def test_a_token_that_cannot_be_a_header_is_exit_3_without_retries(
    tmp_path, hostile_api, token, reason
):
    # Sent as JSON escapes (json.dumps), as a server would: "\r\n", "\ud800", "\u0001".
    answer = {"access_token": token, "token_type": "Bearer", "expires_in": 60}
    hostile_api.token = text_reply(json.dumps(answer))
    config = make_config(tmp_path, hostile_api.base_url, CLIENTS)
    result = cli(config, "build", env=project_env(CLIENTS))
    assert result.exit_code == 3, result.output
    assert (
        f"error: token response: the access token contains {reason}, which an HTTP header "
        "cannot carry; not using it\n" in result.stderr
    )
    assert dict(hostile_api.requests) == {"token": 1}  # not retried, nothing else asked
    assert not (tmp_path / "build").exists()


def test_a_token_that_expires_at_once_serves_a_request_and_refreshes_are_bounded(
    tmp_path, sandboxes
):
    # Every token lives 60 ns. One client at a time: each request finds the last token sent
    # and expired, so would fetch a token each; after three refreshes in a minute the run
    # stops asking, and the fifth client fails with the reason.
    project = sandbox_project(tmp_path, sandboxes, clients=5, concurrency=1)
    project.sandbox.script_token([Answer.replace("expires_in", 1e-9)] * 10)
    run = project.run("build")
    assert run.code == 3, run.stderr
    stats = project.sandbox.stats
    assert stats.token_requests == 4  # the first token and three refreshes
    assert sum(stats.org_requests.values()) == 4  # each token served a request
    assert stats.unauthorized == 0
    reason = (
        "no access token: the token endpoint issues tokens that expire at once (4 tokens "
        "within 60 s, expires_in = 1e-09 minutes); not asking for more"
    )
    failed = [c for c in project.keys if f"error: client {c}: {reason}\n" in run.stderr]
    assert len(failed) == 1
    written = sorted(p.name for p in project.out.iterdir())
    assert written == sorted(set(project.keys) - set(failed))


def test_a_token_that_expires_at_once_still_serves_requests_in_flight(tmp_path, sandboxes):
    project = sandbox_project(tmp_path, sandboxes, clients=3, concurrency=1)
    project.sandbox.script_token([Answer.replace("expires_in", 1e-9)] * 3)
    run = project.run("build")
    assert run.code == 0, run.stderr
    stats = project.sandbox.stats
    # Three requests, three tokens: never more tokens than requests.
    assert (stats.token_requests, sum(stats.org_requests.values())) == (3, 3)


# -- secrets echoed back ---------------------------------------------------------------------

# A 68-character API key with characters that percent-encoding changes, and a 39-character
# token: the sizes of the report.
KEY68 = "ak_live/7Qm+Zr81=xVw3Lp9Tn5Ks2Hd6Jf4Gb8Yc1Ue0Ri7Wo3Pa9Sx5Nv2Mq6Ek4Bt"
TOKEN39 = "Tk4fW9qZ2mLx7Rv3Np8Hs1Jd6Gc5Yb0Ue4Ia9Oz"
assert (len(KEY68), len(TOKEN39)) == (68, 39)


def b64_piece(value: str, start: int, end: int, offset: int) -> str:
    """``value[start:end]`` base64-encoded after ``offset`` bytes of other text (an alignment)."""
    return base64.b64encode(b"u:x"[:offset] + value[start:end].encode()).decode()


def leaked_pieces(blob: str, secrets: Iterable[str], width: int = 8) -> list[str]:
    """Every ``width``-character run of a secret in ``blob``: as it is, percent-decoded, and in
    any run of base64 characters decoded at each of the four character offsets."""
    views = [blob, urllib.parse.unquote(blob), urllib.parse.unquote_plus(blob)]
    for run_match in __import__("re").finditer(r"[A-Za-z0-9+/_-]{11,}", blob):
        text = run_match.group().replace("-", "+").replace("_", "/")
        for offset in range(4):
            chunk = text[offset:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            views.append(base64.b64decode(chunk).decode("latin-1"))
    found = []
    for value in secrets:
        for i in range(len(value) - width + 1):
            piece = value[i : i + width]
            if any(piece in view for view in views):
                found.append(piece)
    return found


def echo_project(root: Path, sandboxes: list[Sandbox]) -> Project:
    orgs = generated_orgs(3)
    orgs["cu-03"]["apiKey"] = KEY68
    sandbox = Sandbox(list(orgs.values()), client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    sandboxes.append(sandbox.start())
    keys = {client: org["apiKey"] for client, org in orgs.items()}
    return Project(root, sandbox, keys)


ECHOES: dict[str, Callable[[Sandbox], str]] = {}


def echo(name: str) -> Callable[[Callable[[Sandbox], str]], Callable[[Sandbox], str]]:
    def register(script: Callable[[Sandbox], str]) -> Callable[[Sandbox], str]:
        ECHOES[name] = script
        return script

    return register


@echo("key-40-in-error-code")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.status(400, body={"error": KEY68[14:54]})])
    return "cu-03"


@echo("key-percent-encoded")
def _(sandbox: Sandbox) -> str:
    piece = urllib.parse.quote(KEY68[2:30], safe="")
    sandbox.script(KEY68, [Answer.status(400, body={"error": piece})])
    return "cu-03"


@echo("key-base64-0")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.status(400, body={"error": b64_piece(KEY68, 3, 31, 0)})])
    return "cu-03"


@echo("key-base64-1")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.status(400, body={"error": b64_piece(KEY68, 3, 30, 1)})])
    return "cu-03"


@echo("key-base64-2")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.status(400, body={"error": b64_piece(KEY68, 3, 29, 2)})])
    return "cu-03"


@echo("key-not-json")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.malformed(KEY68[20:60] + " is not JSON")])
    return "cu-03"


@echo("key-in-organization")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.replace("name", "Bank " + KEY68[10:50])])
    return "cu-03"


@echo("key-base64-in-organization")
def _(sandbox: Sandbox) -> str:
    piece = b64_piece(KEY68, 5, 45, 1)
    sandbox.script(KEY68, [Answer.replace("messaging.backgroundNotificationText", piece)])
    return "cu-03"


@echo("key-in-a-field-name")
def _(sandbox: Sandbox) -> str:
    sandbox.script(KEY68, [Answer.replace("features." + KEY68[30:60].replace("/", "_"), 1)])
    return "cu-03"


@echo("token-32-of-39")
def _(sandbox: Sandbox) -> str:
    # The token endpoint issues the 39-character token; the API refuses it (and the next) for
    # one client, each time echoing 32 of its characters in the error code.
    sandbox.script_token([Answer.replace("access_token", TOKEN39)])
    refused = Answer.status(401, body={"error": TOKEN39[4:36]})
    sandbox.script(KEY68, [refused, refused])
    return "cu-03"


@echo("client-secret-from-the-token-endpoint")
def _(sandbox: Sandbox) -> str:
    body = {"error": CLIENT_SECRET[1:25], "error_description": CLIENT_SECRET}
    sandbox.script_token([Answer.status(400, body=body)])
    return "*"


def test_the_echo_checker_sees_each_encoding():
    # The scan below must be able to fail: each encoded piece is found by it.
    assert leaked_pieces(f"x {KEY68[14:54]} y", [KEY68])
    assert leaked_pieces(urllib.parse.quote(KEY68[2:30], safe=""), [KEY68])
    for offset in range(3):
        assert leaked_pieces(b64_piece(KEY68, 3, 31 - offset, offset), [KEY68])
    assert not leaked_pieces("nothing to see " * 10, [KEY68, TOKEN39])


@pytest.mark.parametrize("name", list(ECHOES))
@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose-github"])
def test_no_piece_of_a_secret_a_server_echoes_reaches_any_output(
    tmp_path, sandboxes, name, verbose
):
    project = echo_project(tmp_path, sandboxes)
    failing = ECHOES[name](project.sandbox)
    run = project.run("build", verbose=verbose, github=verbose)
    failed = {"": set(), "*": set(project.keys)}.get(failing, {failing})
    assert run.code == (3 if failed else 0), run.stderr
    written = sorted(p.name for p in project.out.iterdir()) if project.out.exists() else []
    assert written == sorted(set(project.keys) - failed)
    issued = project.sandbox.stats.issued_tokens
    secrets = [KEY68, TOKEN39, CLIENT_SECRET, *issued]
    for where, blob in run_blobs(project):
        text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
        found = leaked_pieces(visible_text(text), secrets)
        assert not found, f"{where}: {found[:3]}"
    if verbose:
        assert (tmp_path / "github-summary.md").exists()


def test_an_organization_echoing_a_secret_is_refused_naming_only_the_field(tmp_path, sandboxes):
    project = echo_project(tmp_path, sandboxes)
    ECHOES["key-in-organization"](project.sandbox)
    run = project.run("build")
    assert run.code == 3
    assert (
        "error: client cu-03: organization field name: holds a secret or part of one (an API "
        "key, the client secret or a token) that the server echoed; not using this answer\n"
        in run.stderr
    )
    assert "[clients.cu-03]" not in project.lockfile.read_text()


def test_any_8_character_piece_is_redacted_in_every_encoding(monkeypatch):
    # A registry of this test's own: its random secrets stay out of every other test.
    monkeypatch.setattr(secret, "_known", set())
    monkeypatch.setattr(secret, "_index", None)
    rng = __import__("random").Random(13)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+=-_.~%: "
    for _ in range(100):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(12, 70)))
        secret._known.clear()
        secret.register(value)
        start = rng.randint(0, len(value) - 8)
        piece = value[start : start + rng.randint(8, len(value) - start)]
        prefix = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 5)))
        forms = [
            piece,
            urllib.parse.quote(piece, safe=""),
            urllib.parse.quote_plus(piece),
            *(base64.b64encode(prefix[:k].encode() + piece.encode()).decode() for k in range(3)),
            base64.urlsafe_b64encode(prefix[:1].encode() + piece.encode()).decode(),
        ]
        for form in forms:
            shown = secret.redact(f"error: {prefix}{form} (quoted)")
            assert not leaked_pieces(shown, [value]), (value, form, shown)


def test_redaction_leaves_public_names_and_short_matches_alone(monkeypatch):
    monkeypatch.setattr(secret, "_known", set())
    monkeypatch.setattr(secret, "_public", set())
    monkeypatch.setattr(secret, "_index", None)
    secret.register("sbx-redaction-bank-Zq7")
    secret.declare_public(["redaction-bank"])
    assert secret.redact("client redaction-bank: ok") == "client redaction-bank: ok"
    # The runs that are not also in the public name go; what is left is the name's.
    assert secret.redact("key sbx-redaction-b") == "key ***on-b"
    assert secret.redact("seven c: -bank-Z") == "seven c: -bank-Z"  # 7 characters: no leak


# -- lockfiles and journals that are not what nudge-build wrote ---------------------------------


@pytest.fixture
def built(tmp_path, hostile_api) -> Path:
    """A project built once against healthy answers: a lockfile and files to tamper with."""
    config = make_config(tmp_path, hostile_api.base_url, CLIENTS)
    result = cli(config, "build", env=project_env(CLIENTS))
    assert result.exit_code == 0, result.output
    (tmp_path / "victim.txt").write_text("keep me\n")
    return config


def lock_of(config: Path) -> Path:
    return config.parent / "nudge-build.lock"


LOCK_RECOVERY = "restore the lockfile from version control or delete it and run `nudge-build fetch`"
TAMPERED_LOCKS: dict[str, tuple[str, str]] = {
    # name: (text appended to a valid lockfile, or a replacement; what the error says)
    "deep-inline-array": (
        '\n[clients.gone]\ndigest = "x"\norganization = { a = '
        + "[" * 100_000
        + "]" * 100_000
        + " }\n",
        "lockfile nests arrays or tables too deep to read; " + LOCK_RECOVERY,
    ),
    "deep-tables": (
        '\n[clients.gone]\ndigest = "x"\n[clients.gone.organization' + ".a" * 100 + "]\nb = 1\n",
        "[clients.gone.organization]: expected organization data, not nested deeper than 64 "
        "levels; " + LOCK_RECOVERY,
    ),
    "date-in-organization": (
        '\n[clients.gone]\ndigest = "x"\n[clients.gone.organization]\nupdatedAt = 2026-10-01\n',
        "[clients.gone.organization]: expected organization data, with no dates or times (an "
        "API answer has none); " + LOCK_RECOVERY,
    ),
    "clients-not-a-table": ("REPLACE:version = 1\nclients = 5\n", "[clients]: expected"),
    "organization-a-string": (
        '\n[clients.gone]\ndigest = "x"\norganization = "evil"\n',
        "[clients.gone.organization]: expected a table; " + LOCK_RECOVERY,
    ),
    "bad-client-id": (
        '\n[clients."::warning::x"]\ndigest = "x"\norganization = {}\n',
        "[clients]: expected client ids like a config's, not '::warning::x'; " + LOCK_RECOVERY,
    ),
    "absolute-path": (
        '\n[clients.gone]\ndigest = "x"\norganization = {}\n[clients.gone.files]\n'
        '"/etc/passwd" = "sha256:0"\n',
        "[clients.gone.files]: '/etc/passwd': not a plain relative path under the output root "
        "(recorded for client gone by an earlier run); " + LOCK_RECOVERY,
    ),
    "dotdot-path": (
        '\n[clients.gone]\ndigest = "x"\norganization = {}\n[clients.gone.files]\n'
        '"gone/../../victim.txt" = "sha256:0"\n',
        "[clients.gone.files]: 'gone/../../victim.txt': not a plain relative path under the "
        "output root (recorded for client gone by an earlier run); " + LOCK_RECOVERY,
    ),
    "not-utf8": ("BYTES", "lockfile is not valid TOML ("),
}


@pytest.mark.parametrize("name", list(TAMPERED_LOCKS))
@pytest.mark.parametrize("command", ["render", "build --offline", "check"])
def test_a_tampered_lockfile_is_exit_2_naming_it(built, name, command):
    lock = lock_of(built)
    addition, message = TAMPERED_LOCKS[name]
    if addition == "BYTES":
        lock.write_bytes(lock.read_bytes() + b"\n# caf\xe9\n")
    elif addition.startswith("REPLACE:"):
        lock.write_text(addition.removeprefix("REPLACE:"))
    else:
        lock.write_text(lock.read_text() + addition)
    before = {p: p.read_bytes() for p in built.parent.rglob("*") if p.is_file()}
    result = cli(built, *command.split())
    assert result.exit_code == 2, result.output
    assert f"error: {lock}: {message}" in result.stderr
    assert "internal error" not in result.stderr
    after = {p: p.read_bytes() for p in built.parent.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing removed, the victim untouched


def test_a_config_nested_too_deep_is_exit_2_naming_it(tmp_path):
    config = tmp_path / "nudge-build.toml"
    config.write_text("[api]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = cli(config, "render")
    assert result.exit_code == 2
    assert (
        f"error: {config}: invalid TOML: arrays or tables nested too deep to read\n"
        in result.stderr
    )


JOURNALS: dict[str, tuple[bytes, str]] = {
    "deep": (b"[" * 100_000 + b"]" * 100_000, "it is not JSON of at most four levels"),
    "not-json": (b"{not json", "it is not JSON of at most four levels"),
    "not-utf8": (b'{"clients": {"caf\xe9": {}}}', "it is not JSON of at most four levels"),
    "no-clients": (b'{"version": 1}', 'it has no "clients" object'),
    "bad-client": (b'{"clients": {"::error::x": {}}}', "'::error::x' is not a client id"),
    "files-not-object": (
        b'{"clients": {"cu-01": []}}',
        "the entry of client cu-01 is not an object",
    ),
    "dotdot": (
        b'{"clients": {"cu-01": {"cu-01/../../victim.txt": ["sha256:0"]}}}',
        "'cu-01/../../victim.txt' is not a path relative to output.root",
    ),
    "absolute": (
        b'{"clients": {"cu-01": {"/etc/passwd": ["sha256:0"]}}}',
        "'/etc/passwd' is not a path relative to output.root",
    ),
    "digests": (
        b'{"clients": {"cu-01": {"cu-01/x.txt": [1]}}}',
        "the digests of 'cu-01/x.txt' are not a list of strings",
    ),
}


@pytest.mark.parametrize("name", list(JOURNALS))
def test_a_journal_that_nudge_build_did_not_write_is_exit_2_naming_it(built, name):
    data, why = JOURNALS[name]
    journal = built.parent / ".nudge-build.lock.journal"
    journal.write_bytes(data)
    before = {p: p.read_bytes() for p in built.parent.rglob("*") if p.is_file()}
    result = cli(built, "build", "--offline")
    assert result.exit_code == 2, result.output
    assert (
        f"error: {journal}: not a journal nudge-build wrote ({why}). It only lists the files "
        "an interrupted run was about to write: delete it and run the build again"
    ) in result.stderr
    after = {p: p.read_bytes() for p in built.parent.rglob("*") if p.is_file()}
    assert after == before
    journal.unlink()  # the recovery the message names
    assert cli(built, "build", "--offline").exit_code == 0


# -- a lockfile entry that cannot be written fails before any file is ---------------------------


def test_an_entry_the_lockfile_cannot_hold_fails_before_any_write(tmp_path, hostile_api):
    # A partner template whose file name is not UTF-8: the file could be written, the
    # lockfile (UTF-8 TOML) could not record it. Found before the first write: nothing is
    # written, the lockfile stays as it was, and the next run (template renamed) recovers.
    templates = tmp_path / "templates"
    (templates / "odd").mkdir(parents=True)
    odd = templates / "odd" / os.fsdecode(b"caf\xe9.txt.j2")  # a surrogate escape in the name
    odd.write_text("{{ org.name }}\n")
    stock = {"dir": "templates", "stock": ["ios", "odd"]}
    config = make_config(tmp_path, hostile_api.base_url, CLIENTS, templates=stock)
    result = cli(config, "build", env=project_env(CLIENTS))
    assert result.exit_code == 4, result.output
    for client in CLIENTS:
        assert (
            f"error: client {client}: its lockfile entry cannot be written (UnicodeEncodeError); "
            "none of its files were written\n" in result.stderr
        )
    assert not (tmp_path / "build").exists()
    assert not (tmp_path / ".nudge-build.lock.journal").exists()
    odd.rename(templates / "odd" / "cafe.txt.j2")
    again = cli(config, "build", env=project_env(CLIENTS))
    assert again.exit_code == 0, again.output
