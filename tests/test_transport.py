"""PoolTransport, the run's connection pool, against real servers on loopback.

The server here is a small HTTP/1.1 server written for these tests rather than the sandbox: the
sandbox counts requests, and what is under test is connections (how many are open, which one
served a request, who closed which). Each test runs client and server in one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from click.testing import CliRunner

from nudge_build.api import NudgeApi
from nudge_build.cli import main
from nudge_build.config import ApiConfig
from nudge_build.credentials import Credentials
from nudge_build.sandbox import Sandbox
from nudge_build.secret import Secret
from nudge_build.transport import PoolTransport
from tests.helpers import CLIENT_ID, CLIENT_SECRET, project_env, write_project

TLS = Path(__file__).parent / "tls"
T = TypeVar("T")


@dataclass
class Conn:
    number: int
    requests: int = 0
    closed_by_client: bool = False  # EOF from the client between requests


@dataclass
class Server:
    """Answers ``GET <path>`` with JSON naming the connection; some paths misbehave on purpose:

    /slow   answers after ``delay`` seconds
    /hang   never answers (and notices when the client closes)
    /close  answers with ``Connection: close``, then closes
    /drop   closes without answering
    /later  answers, then closes the (idle, kept-alive) connection a moment later
    /short  promises 100 bytes of body, sends 10, then closes
    /part   promises 100 bytes of body, sends 10, then waits (and notices the client's close)
    """

    url: str = ""
    delay: float = 0.02
    conns: list[Conn] = field(default_factory=list)
    open_now: int = 0
    max_open: int = 0
    idle_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(len(self.conns) + 1)
        self.conns.append(conn)
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as exc:
                    conn.closed_by_client = not exc.partial
                    return
                except ConnectionError:
                    conn.closed_by_client = True
                    return
                conn.requests += 1
                path = head.split(b" ", 2)[1].decode()
                if not await self.answer(path, conn, reader, writer):
                    return
        finally:
            self.open_now -= 1
            writer.close()

    async def answer(
        self, path: str, conn: Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False to close the connection."""
        if path == "/drop":
            return False
        if path == "/hang":
            with contextlib.suppress(ConnectionError):
                await reader.read()  # returns at the client's EOF
            conn.closed_by_client = True
            return False
        if path == "/slow":
            await asyncio.sleep(self.delay)
        if path in ("/short", "/part"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            await writer.drain()
            if path == "/part":
                with contextlib.suppress(ConnectionError):
                    await reader.read()
                conn.closed_by_client = True
            return False
        body = json.dumps({"connection": conn.number, "path": path}).encode()
        extra = b"Connection: close\r\n" if path == "/close" else b""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + extra
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )
        await writer.drain()
        if path == "/later":
            await asyncio.sleep(0.01)
            writer.close()
            self.idle_closed.set()
            return False
        return path != "/close"


@contextlib.asynccontextmanager
async def serving(tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield server
    finally:
        listener.close()


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=20))


def client(server: Server, max_connections: int = 4, **kwargs: Any) -> httpx.AsyncClient:
    transport = PoolTransport(max_connections=max_connections, **kwargs)
    return httpx.AsyncClient(base_url=server.url, transport=transport, timeout=5)


async def connection_of(http: httpx.AsyncClient, path: str = "/") -> int:
    response = await http.get(path)
    assert response.status_code == 200
    number: int = response.json()["connection"]
    return number


async def until(condition: Callable[[], bool]) -> None:
    """Wait (briefly) for the server to notice what the client did."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the server never saw it")


# -- reuse and bound ------------------------------------------------------------------------


def test_requests_one_after_another_share_one_kept_alive_connection():
    async def scenario() -> list[int]:
        async with serving() as server, client(server) as http:
            used = [await connection_of(http) for _ in range(5)]
            assert len(server.conns) == 1 and server.conns[0].requests == 5
            return used

    assert run(scenario) == [1] * 5


def test_never_more_connections_open_than_its_bound():
    async def scenario() -> None:
        async with serving() as server, client(server, max_connections=4) as http:
            server.delay = 0.03
            answers = await asyncio.gather(*(http.get("/slow") for _ in range(30)))
            assert [a.status_code for a in answers] == [200] * 30
            assert server.max_open == 4
            assert len(server.conns) == 4  # the waiting requests reused them
            assert sum(c.requests for c in server.conns) == 30

    run(scenario)


# -- connections that must not be reused ---------------------------------------------------


def test_an_idle_connection_the_server_closed_is_replaced_without_an_error():
    async def scenario() -> None:
        async with serving() as server, client(server) as http:
            assert await connection_of(http, "/later") == 1
            await server.idle_closed.wait()
            await asyncio.sleep(0.02)  # the FIN reaches the client's socket
            assert await connection_of(http) == 2

    run(scenario)


def test_a_connection_idle_past_keepalive_expiry_is_closed_and_replaced():
    async def scenario() -> None:
        async with serving() as server, client(server, keepalive_expiry=0.5) as http:
            assert await connection_of(http) == 1
            assert await connection_of(http) == 1  # within the expiry
            await asyncio.sleep(0.6)
            assert await connection_of(http) == 2
            await until(lambda: server.conns[0].closed_by_client)

    run(scenario)


def test_a_connection_the_server_asked_to_close_is_not_reused():
    async def scenario() -> None:
        async with serving() as server, client(server) as http:
            assert await connection_of(http, "/close") == 1
            assert await connection_of(http) == 2
            assert await connection_of(http) == 2

    run(scenario)


def test_a_response_closed_unread_closes_its_connection_and_frees_its_slot():
    async def scenario() -> None:
        async with serving() as server, client(server, max_connections=1) as http:
            async with http.stream("GET", "/"):
                pass  # closed without reading the body: the connection cannot be reused
            assert await connection_of(http) == 2
            await until(lambda: server.conns[0].closed_by_client)

    run(scenario)


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/hang", "/part"])  # before its answer, halfway through its body
def test_a_cancelled_request_frees_its_slot_and_closes_its_connection(path):
    async def scenario() -> None:
        async with serving() as server, client(server, max_connections=1) as http:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    async with http.stream("GET", path) as response:
                        await response.aread()
            assert await connection_of(http) == 2  # the one slot is free again
            await until(lambda: server.conns[0].closed_by_client)

    run(scenario)


def test_a_request_cancelled_while_waiting_for_a_slot_takes_none():
    async def scenario() -> None:
        async with serving() as server, client(server, max_connections=1) as http:
            async with http.stream("GET", "/") as held:
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await http.get("/")
                await held.aread()
            # Had the cancelled waiter kept a slot, none would be left for these.
            answers = await asyncio.gather(*(connection_of(http) for _ in range(3)))
            assert answers == [1, 1, 1]

    run(scenario)


def test_a_request_waiting_past_the_pool_timeout_gets_pool_timeout():
    async def scenario() -> None:
        async with serving() as server, client(server, max_connections=1) as http:
            async with http.stream("GET", "/") as held:
                with pytest.raises(httpx.PoolTimeout):
                    await http.get("/", timeout=httpx.Timeout(5, pool=0.05))
                await held.aread()
            assert await connection_of(http) == 1  # given back once the body was read
            assert len(server.conns) == 1

    run(scenario)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_failures_arrive_as_httpx_errors_and_leave_the_pool_usable():
    async def scenario() -> None:
        async with serving() as server, client(server, max_connections=1) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{closed_port()}/")
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/drop")
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/hang", timeout=0.1)
            with pytest.raises(httpx.RemoteProtocolError):  # while reading the body
                await http.get("/short")
            with pytest.raises(httpx.UnsupportedProtocol):
                await http.get("ftp://127.0.0.1/")
            # Each failure gave its slot back: the one connection allowed is free.
            assert await connection_of(http) == 4

    run(scenario)


def test_closing_the_client_closes_its_idle_connections():
    async def scenario() -> None:
        async with serving() as server:
            async with client(server) as http:
                await asyncio.gather(*(http.get("/slow") for _ in range(3)))
                assert server.open_now == 3
            await until(lambda: server.open_now == 0)
            assert all(c.closed_by_client for c in server.conns)

    run(scenario)


# -- TLS ----------------------------------------------------------------------------------------


def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "server.pem", TLS / "server-key.pem")
    return context


def test_https_refuses_a_certificate_it_cannot_verify(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    async def scenario() -> None:
        async with serving(server_tls()) as server, client(server) as http:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get("/")

    run(scenario)


def test_https_accepts_a_certificate_from_the_ca_in_ssl_cert_file(monkeypatch):
    # SSL_CERT_FILE is how a partner behind a TLS-inspecting gateway trusts its CA; httpx's own
    # transport honours it, and so must this one.
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "ca.pem"))

    async def scenario() -> None:
        async with serving(server_tls()) as server, client(server) as http:
            response = await http.get("/")
            assert response.json() == {"connection": 1, "path": "/"}
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("ssl_object") is not None
            assert await connection_of(http) == 1  # kept alive over TLS too

    run(scenario)


# -- the CLI: proxies -----------------------------------------------------------------------


def test_a_proxy_named_in_the_environment_carries_the_fetch(tmp_path):
    # The API URL is a closed port: the fetch can only succeed through the proxy, here the
    # sandbox itself, which accepts the absolute-form request line that a proxy receives.
    write_project(tmp_path, f"http://127.0.0.1:{closed_port()}")
    runner = CliRunner()
    fetch = ["--config", str(tmp_path / "nudge-build.toml"), "fetch"]
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        result = runner.invoke(main, fetch, env=project_env())
        assert result.exit_code == 3, result.output
        assert "cannot connect" in result.output

        proxied: dict[str, str | None] = {**project_env(), "HTTP_PROXY": sandbox.base_url}
        proxied.update(NO_PROXY=None, no_proxy=None)
        result = runner.invoke(main, fetch, env=proxied)
        assert result.exit_code == 0, result.output
        assert sum(sandbox.stats.org_requests.values()) == 5


# -- trio -------------------------------------------------------------------------------------


def test_httpcore_is_imported_without_trio_and_trio_stays_importable(tmp_path):
    # A stand-in trio first on the path, so that the test does not depend on whether the real
    # one is installed: importing the API module must not import it, and `import trio` must
    # still work afterwards (the mark that hid it is gone).
    (tmp_path / "trio").mkdir()
    (tmp_path / "trio" / "__init__.py").write_text("STAND_IN = True\n")
    code = (
        "import sys, nudge_build.api\n"
        "print('trio' in sys.modules)\n"
        "import trio\n"
        "print(trio.STAND_IN)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


# -- which transport a run uses ------------------------------------------------------------


def api_settings() -> ApiConfig:
    return ApiConfig(base_url="http://127.0.0.1:9")


@pytest.mark.parametrize("proxy", [None, "HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_run_uses_this_pool_unless_a_proxy_is_set(monkeypatch, proxy):
    if proxy is not None:
        monkeypatch.setenv(proxy, "http://127.0.0.1:3128")
    credentials = Credentials(CLIENT_ID, Secret(CLIENT_SECRET))

    async def transport_type() -> type:
        async with NudgeApi(api_settings(), credentials) as api:
            # Private, but the only place the choice is visible short of a proxy on the wire
            # (test_a_proxy_named_in_the_environment_carries_the_fetch covers that side).
            return type(api._client._transport)

    used = asyncio.run(transport_type())
    assert (used is PoolTransport) == (proxy is None)
