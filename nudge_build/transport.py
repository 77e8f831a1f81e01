"""The run's connection pool: an httpx transport with little bookkeeping per request.

Why not httpx's own pool: on every request and every response, httpcore's pool walks all its
connections and all queued requests, and asks each idle connection whether its socket is readable
(a poll() through anyio). At concurrency 16 that bookkeeping was most of a fetch's CPU time
(``python bench/run.py``), more than the 20 ms of API latency it waits on. The run needs less:
at most ``max_connections`` requests at once, HTTP/1.1, nearly always one origin. So this pool
keeps each origin's idle keep-alive connections on a stack and checks only the one it takes.

The protocol stays httpcore's: each connection is an ``httpcore.AsyncHTTPConnection`` (h11, TLS,
connect/read/write timeouts), and its errors reach the caller as the httpx exceptions httpx's own
transport raises. Proxies are not handled here: ``api.py`` keeps httpx's transport when the
environment names one.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx

# httpcore imports trio, when it is installed, for programs that run under trio's event loop.
# nudge-build runs asyncio only, and importing trio is ~50 ms, a quarter of a fetch's start-up.
# While httpcore is imported, trio (if nothing has imported it yet) is marked as absent: httpcore
# then takes it for not installed, and the mark is removed again so that trio stays importable.
# The cost: httpx in this process cannot run under trio. (With httpx 0.27, which imports httpcore
# itself, httpcore is already imported here and this changes nothing.)
_HIDE_TRIO = "trio" not in sys.modules
if _HIDE_TRIO:
    sys.modules["trio"] = None  # type: ignore[assignment]
try:
    import httpcore
finally:
    if _HIDE_TRIO:
        del sys.modules["trio"]

# httpcore's errors and the httpx ones httpx's transport turns them into (most specific first).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class PoolTransport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` connections in use; idle ones kept alive for reuse.

    A request beyond the bound waits for a connection to come back (up to the request's pool
    timeout, then ``httpx.PoolTimeout``). A connection comes back when its response is closed,
    which httpx does once it has read the body. An idle connection is dropped when it has been
    idle longer than ``keepalive_expiry`` or the server has closed it.
    """

    def __init__(self, *, max_connections: int, keepalive_expiry: float = 5.0) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        # Bounded: a slot given back twice would raise rather than quietly raise the limit.
        self._slots = asyncio.BoundedSemaphore(max_connections)
        # Keyed by (scheme, host, port): httpcore.Origin is not hashable.
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTPConnection]] = {}
        self._ssl_context: ssl.SSLContext | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport has been closed")
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("PoolTransport sends async request bodies only")
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise httpx.UnsupportedProtocol(f"cannot send a request to {url.scheme}://{url.host}")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        origin = core_request.url.origin
        await self._acquire(request.extensions.get("timeout", {}).get("pool"))
        try:
            connection = await self._check_out(origin)
        except BaseException:
            self._slots.release()
            raise
        try:
            with _httpx_errors():
                response = await connection.handle_async_request(core_request)
        except BaseException:
            await self._drop(connection)
            raise
        if not isinstance(response.stream, AsyncIterable):  # pragma: no cover
            await self._drop(connection)
            raise TypeError("httpcore gave a response without an async body")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream, lambda: self._check_in(connection, origin)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        idle = [connection for stack in self._idle.values() for connection in stack]
        self._idle.clear()
        for connection in idle:
            await connection.aclose()

    # -- connections -----------------------------------------------------------------------

    async def _acquire(self, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(
                f"no connection free within {timeout:g} s (at most {self._max_connections})"
            ) from None

    async def _check_out(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        """The most recently used idle connection that is still good, or a new one."""
        stack = self._idle.get(_key(origin), [])
        while stack:
            connection = stack.pop()
            # has_expired: idle past keepalive_expiry, or the socket is readable while idle,
            # which means the server has closed it (or sent what it should not have).
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return httpcore.AsyncHTTPConnection(
            origin=origin,
            ssl_context=self._ssl() if origin.scheme == b"https" else None,
            keepalive_expiry=self._keepalive_expiry,
        )

    async def _check_in(
        self, connection: httpcore.AsyncHTTPConnection, origin: httpcore.Origin
    ) -> None:
        """Take a connection back after its response was closed.

        httpcore has already closed a connection that cannot be reused (the server asked to
        close it, or the body was not read to its end)."""
        self._slots.release()
        stack = self._idle.setdefault(_key(origin), [])
        if connection.is_idle() and not self._closed and len(stack) < self._max_connections:
            stack.append(connection)
        else:
            await connection.aclose()

    async def _drop(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """A request failed or was cancelled on ``connection``: free its slot, then close it
        (its state is unknown). The slot first, so that a second cancellation arriving during
        the close cannot keep it."""
        self._slots.release()
        await connection.aclose()

    def _ssl(self) -> ssl.SSLContext:
        # Built on the first https request only: loading the CA bundle costs ~20 ms. As in
        # httpx's own transport: verification on, SSL_CERT_FILE/SSL_CERT_DIR honoured.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context


def _key(origin: httpcore.Origin) -> tuple[bytes, bytes, int]:
    return (origin.scheme, origin.host, origin.port)


class _Body(httpx.AsyncByteStream):
    """A response body that gives its connection back to the pool when it is closed."""

    def __init__(
        self,
        stream: AsyncIterable[bytes],
        check_in: Callable[[], Awaitable[None]],
    ) -> None:
        self._stream = stream
        self._check_in = check_in
        self._returned = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        try:
            with _httpx_errors():
                close = getattr(self._stream, "aclose", None)
                if close is not None:
                    await close()
        finally:
            if not self._returned:
                self._returned = True
                await self._check_in()
