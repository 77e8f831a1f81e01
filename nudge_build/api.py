"""The nudge API client: OAuth2 token, GetOrganization for many clients, retries, deadlines.

Every wire detail of the (partly assumed) API contract lives in this module, so adapting to the
real reference is a one-module change. One ``httpx.AsyncClient`` and one token serve the run.

Time is bounded three ways: ``[api].timeout`` bounds each attempt (the whole exchange, so a
server trickling bytes cannot reset it with every byte, as it would httpx's per-read timeout);
retries wait with backoff or as ``Retry-After`` asks, up to ``[api].max_retries``; and
``[api].deadline`` bounds the whole run, waits and token refreshes included.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import httpx

from nudge_build import __version__
from nudge_build.answer import ACCEPT_ENCODING, AnswerRefused, decode_json, read_body
from nudge_build.config import ApiConfig
from nudge_build.credentials import Credentials
from nudge_build.errors import ApiError
from nudge_build.heap import frozen_heap
from nudge_build.org import Organization, OrganizationError, parse_organization
from nudge_build.secret import Secret, declare_public, register
from nudge_build.transport import PoolTransport

log = logging.getLogger("nudge_build.api")

# Refresh this long before expiry, so that no request leaves with a token about to lapse.
TOKEN_REFRESH_MARGIN = 60.0
# A token endpoint whose tokens expire at once would have the run ask for a token per request:
# more refreshes for expiry than this within the window fail the run instead.
MAX_REFRESHES = 3
REFRESH_WINDOW = 60.0
# An API that answers 401 to every token would do the same: this many fresh tokens refused in
# a row, none of them accepted even once, fail the run. (Higher than MAX_REFRESHES: clients
# whose first requests are all refused each refuse one token before any retry comes back.)
MAX_REFUSED_IN_A_ROW = 10
RETRY_AFTER_STATUSES = (429, 503)
MAX_BACKOFF = 30.0
# Kept in an error code besides letters and digits: '%', '+', '/' and '=' too, so that a
# percent- or base64-encoded echo of a secret stays recognisable to the redaction.
_ERROR_CODE_JUNK = re.compile(r"[^A-Za-z0-9_.%+/=\-]")


class CredentialsError(ApiError):
    """The token endpoint refused our client id/secret: fatal for the run, never retried."""


@dataclass(frozen=True)
class FetchResult:
    client: str
    organization: Organization | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Reply:
    """A final answer, its body read within ``[api].max_response_bytes``."""

    status_code: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic(), counted from when the token was requested
    lifetime: float

    def fresh(self, now: float) -> bool:
        # Short-lived tokens (sandboxes, tests) would always count as expiring with the full
        # margin: they get a quarter of their lifetime instead.
        margin = min(TOKEN_REFRESH_MARGIN, self.lifetime / 4)
        return now < self.expires_at - margin


class _GiveUp(Exception):
    """Stop retrying this request; the message is the user-facing reason."""


class TokenAuth(httpx.Auth):
    """The run's one Bearer token: fetched once, refreshed before expiry or after a 401.

    However many requests are in flight, a token that is expiring or was refused causes one
    refresh: whoever takes the lock first fetches a new token, the others find it fresh when
    they get the lock. A refresh that failed is not repeated by each waiter: they all get its
    error, so a dead token endpoint costs one round of retries, not one per client.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[_Token]],
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._on_token = on_token
        self._token: _Token | None = None
        self._refused: _Token | None = None
        self._sent = False  # whether the current token has gone out with a request
        self._accepted = False  # whether it has had an answer other than 401
        self._refreshes: list[float] = []  # when recent refreshes for expiry began
        self._refused_in_a_row = 0
        self._failure: tuple[_Token | None, ApiError] | None = None
        self._lock = asyncio.Lock()

    def _usable(self) -> _Token | None:
        token = self._token
        if token is None or token is self._refused:
            return None
        # A token serves at least one request however short its life, or tokens that expire
        # at once would cost one token request per API call.
        if not self._sent or token.fresh(time.monotonic()):
            return token
        return None

    async def current(self) -> _Token:
        """A token to send now, fetching a new one (once for everybody) when needed."""
        token = self._usable()
        if token is not None:
            return token
        async with self._lock:
            token = self._usable()
            if token is not None:
                return token  # someone else refreshed while we waited for the lock
            if self._failure is not None and self._failure[0] is self._token:
                failed = self._failure[1]
                raise type(failed)(str(failed))
            stale = self._token
            try:
                if stale is not None:
                    self._count_refresh(stale)
                token = await self._fetch()
            except ApiError as exc:
                self._failure = (stale, exc)
                raise
            register(token.value)  # redacted, and masked in GitHub Actions, before any use
            if self._on_token is not None:
                self._on_token(token.value)
            self._token = token
            self._sent = self._accepted = False
            return token

    def _count_refresh(self, stale: _Token) -> None:
        """Note a refresh of ``stale``; ApiError when the bound on refreshes is reached."""
        if stale is self._refused:
            # Refreshes after a 401 are bounded by the clients (each gets one); an API that
            # accepts no token at all ends the run sooner than that.
            self._refused_in_a_row = 0 if self._accepted else self._refused_in_a_row + 1
            if self._refused_in_a_row >= MAX_REFUSED_IN_A_ROW:
                raise ApiError(
                    f"the API refused {self._refused_in_a_row} fresh tokens in a row (401) "
                    "without accepting any; not asking the token endpoint for more"
                )
            return
        now = time.monotonic()
        self._refreshes = [t for t in self._refreshes if now - t < REFRESH_WINDOW]
        if len(self._refreshes) >= MAX_REFRESHES:
            count = len(self._refreshes) + 1
            raise ApiError(
                f"the token endpoint issues tokens that expire at once ({count} tokens within "
                f"{REFRESH_WINDOW:g} s, expires_in = {stale.lifetime / 60:g} minutes); not "
                "asking for more"
            )
        self._refreshes.append(now)

    def refuse(self, token: _Token) -> None:
        """The server answered 401 to ``token``: the next ``current()`` fetches a new one.

        A 401 for a token that has already been replaced changes nothing, so a revoked token
        causes one refresh however many requests carried it."""
        if token is self._token:
            self._refused = token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.current()
        request.headers["Authorization"] = f"Bearer {token.value}"
        if token is self._token:
            self._sent = True
        response = yield request
        if response.status_code == 401:
            # The retry is the caller's: it happens outside this request's timeout and slot,
            # after this answer has been read and its connection given back to the pool.
            self.refuse(token)
        elif token is self._token:
            self._accepted = True

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("TokenAuth is for the async client only")


class NudgeApi:
    """A session against one nudge API: use as ``async with NudgeApi(...) as api``."""

    def __init__(
        self,
        settings: ApiConfig,
        credentials: Credentials,
        *,
        on_token: Callable[[str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if settings.base_url is None:
            raise ApiError("no API URL: set [api].base_url in the config or NUDGE_API_URL")
        self.settings = settings
        self._credentials = credentials
        self._deadline_at = time.monotonic() + settings.deadline
        # One spare connection for the token endpoint while every slot is busy.
        connections = settings.concurrency + 1
        if transport is None and not _proxy_in_environment():
            transport = PoolTransport(max_connections=connections)
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            # Only the codings answer.py can inflate step by step, whatever httpx could decode.
            headers={
                "User-Agent": f"nudge-build/{__version__}",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            transport=transport,
            follow_redirects=False,
        )
        self.auth = TokenAuth(self._fetch_token, on_token)
        self._slots = asyncio.Semaphore(settings.concurrency)
        # Joined with base_url once: httpx would parse and join a relative path per request.
        self._token_url = self._client.build_request("POST", "/oauth2/token").url
        self._org_url = self._client.build_request("POST", "/GetOrganization").url
        # How messages name a call: method and path, never the host's userinfo, a key or a token.
        self._token_call = f"POST {self._token_url.path}"
        self._org_call = f"POST {self._org_url.path}"

    async def __aenter__(self) -> NudgeApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def remaining(self) -> float:
        return self._deadline_at - time.monotonic()

    def _deadline_passed(self, what: str) -> str:
        return (
            f"{what}: the run's deadline of {self.settings.deadline:g} s ([api].deadline) "
            "passed before it finished"
        )

    # -- token -----------------------------------------------------------------------------

    async def _fetch_token(self) -> _Token:
        secret: Secret = self._credentials.client_secret
        data = {"grant_type": "client_credentials"}
        auth: tuple[str, str] | None = None
        if self.settings.token_auth == "basic":
            auth = (self._credentials.client_id, secret.reveal())
        else:
            data["client_id"] = self._credentials.client_id
            data["client_secret"] = secret.reveal()

        async def send() -> httpx.Response:
            request = self._client.build_request("POST", self._token_url, data=data)
            return await self._client.send(
                request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True
            )

        requested = time.monotonic()
        try:
            response = await self._with_retries(send, what=self._token_call, authorized=False)
        except _GiveUp as exc:
            raise ApiError(str(exc)) from None
        status = response.status_code
        code = _error_code(response)
        if status == 401 or code == "invalid_client":
            raise CredentialsError(
                f"{self._token_call} refused the client credentials ({status} {code}): "
                f"check {self._credentials.source}"
            )
        if status != 200:
            raise ApiError(f"{self._token_call} answered {status} ({code})")
        # Never quote this body in a message: it is where the token is.
        try:
            body = decode_json(response.body)
        except AnswerRefused as exc:
            raise ApiError(f"{self._token_call}: {exc}") from None
        except ValueError:
            raise ApiError(f"{self._token_call}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(f"{self._token_call}: the answer is not a JSON object")
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise ApiError("token response: access_token is missing or not a string")
        problem = _header_problem(token)
        if problem is not None:
            # Refused here, not retried: httpx would fail on it as if the network had.
            raise ApiError(
                f"token response: the access token contains {problem}, which an HTTP header "
                "cannot carry; not using it"
            )
        if str(body.get("token_type", "Bearer")).lower() != "bearer":
            # Not quoted: a confused server might put the token there.
            raise ApiError("token response: token_type is not Bearer")
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not expires_in > 0
        ):
            raise ApiError(
                "token response: expires_in (minutes) is missing or not a positive number"
            )
        # The contract gives the lifetime in minutes, not the OAuth2-usual seconds.
        lifetime = float(expires_in) * 60.0
        return _Token(token, requested + lifetime, lifetime)

    async def ensure_token(self) -> None:
        """Fetch the run's token up front: bad credentials fail the run before any client."""
        try:
            async with asyncio.timeout_at(self._loop_deadline()):
                await self.auth.current()
        except TimeoutError:
            raise ApiError(self._deadline_passed(self._token_call)) from None

    # -- GetOrganization -------------------------------------------------------------------

    async def get_organization(self, client: str, api_key: Secret | str) -> Organization:
        key = api_key.reveal() if isinstance(api_key, Secret) else api_key
        what = f"client {client}: {self._org_call}"

        async def send() -> httpx.Response:
            request = self._client.build_request("POST", self._org_url, json={"apiKey": key})
            return await self._client.send(request, auth=self.auth, stream=True)

        try:
            response = await self._with_retries(send, what=what, authorized=True)
        except _GiveUp as exc:
            raise ApiError(str(exc)) from None
        except ApiError as exc:  # from the token endpoint, during a refresh
            raise ApiError(f"client {client}: no access token: {exc}") from None
        status = response.status_code
        if status == 404:
            raise ApiError(
                f"client {client}: organization not found ({self._org_call} answered 404)"
            )
        if status == 401:
            raise ApiError(
                f"{what} answered 401 again after a fresh token ({_error_code(response)})"
            )
        if status != 200:
            raise ApiError(f"{what} answered {status} ({_error_code(response)})")
        try:
            body = decode_json(response.body)
        except AnswerRefused as exc:
            raise ApiError(f"{what}: {exc}") from None
        except ValueError as exc:
            snippet = response.body[:40].decode("utf-8", "replace").replace("\n", " ")
            raise OrganizationError(
                f"{what}: the answer is not JSON ({exc}; it starts {snippet!r})"
            ) from None
        return parse_organization(body, client=client)

    async def fetch_many(
        self,
        keys: Sequence[tuple[str, Secret | str]],
        progress: Callable[[FetchResult], None] | None = None,
    ) -> list[FetchResult]:
        """GetOrganization for every client; a failure is that client's alone."""
        # Not secrets, and printed: a piece of a key that is also in one of them is no leak.
        declare_public([self._credentials.client_id, *(client for client, _ in keys)])
        await self.ensure_token()

        async def one(client: str, key: Secret | str) -> FetchResult:
            try:
                async with asyncio.timeout_at(self._loop_deadline()):
                    org = await self.get_organization(client, key)
                result = FetchResult(client, organization=org)
            except TimeoutError:
                result = FetchResult(
                    client, error=self._deadline_passed(f"client {client}: {self._org_call}")
                )
            except ApiError as exc:
                result = FetchResult(client, error=str(exc))
            if progress is not None:
                progress(result)
            return result

        return list(await asyncio.gather(*(one(client, key) for client, key in keys)))

    def _loop_deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.remaining()

    # -- retries ---------------------------------------------------------------------------

    async def _with_retries(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        what: str,
        authorized: bool,
    ) -> _Reply:
        """Call ``send`` until it gives a final answer; raise _GiveUp with the reason.

        ``authorized`` requests take a concurrency slot and the run's token; the token request
        takes neither, since it is made while GetOrganization requests hold every slot.
        """
        settings = self.settings
        tries = 0
        refreshed = False
        while True:
            tries += 1
            last_try = tries > settings.max_retries
            try:
                response = await self._attempt(send, authorized)
            except AnswerRefused as exc:  # the same server would send the same again
                raise _GiveUp(f"{what}: {exc}") from None
            except (httpx.RequestError, TimeoutError) as exc:
                reason = self._transport_reason(exc)
                if last_try:
                    raise _GiveUp(f"{what}: {reason} (gave up after {tries} attempts)") from None
                await self._sleep(
                    backoff_delay(tries, settings.retry_backoff), what=what, reason=reason
                )
                continue
            status = response.status_code
            if status == 401 and authorized and not refreshed:
                # TokenAuth has set the token aside: the next attempt carries a new one. Only
                # once: a 401 for the new token too fails this client.
                refreshed = True
                tries -= 1  # not a failure of the server's
                continue
            if status not in RETRY_AFTER_STATUSES and not 500 <= status <= 599:
                return response
            reason = f"HTTP {status}"
            if last_try:
                raise _GiveUp(f"{what}: {reason} (gave up after {tries} attempts)")
            delay = backoff_delay(tries, settings.retry_backoff)
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if status in RETRY_AFTER_STATUSES and retry_after is not None:
                if retry_after > settings.max_retry_after:
                    raise _GiveUp(
                        f"{what}: {reason} asks to retry after {retry_after:.0f} s, longer than "
                        f"[api].max_retry_after ({settings.max_retry_after:g} s); not waiting"
                    )
                delay = retry_after
            await self._sleep(delay, what=what, reason=reason)

    async def _attempt(
        self, send: Callable[[], Awaitable[httpx.Response]], authorized: bool
    ) -> _Reply:
        if not authorized:
            async with asyncio.timeout(self.settings.timeout):
                return await self._exchange(send)
        # Neither the wait for a slot nor a token refresh (which has its own timeouts and
        # retries) counts against this request's timeout: only the exchange itself does.
        async with self._slots:
            await self.auth.current()
            async with asyncio.timeout(self.settings.timeout):
                return await self._exchange(send)

    async def _exchange(self, send: Callable[[], Awaitable[httpx.Response]]) -> _Reply:
        """One request and its whole answer, read within ``[api].max_response_bytes``."""
        response = await send()
        try:
            body = await read_body(response, self.settings.max_response_bytes)
        finally:
            # Unread, the connection cannot be reused: closing it is what bounds the read.
            await response.aclose()
        return _Reply(response.status_code, response.headers, body)

    async def _sleep(self, delay: float, *, what: str, reason: str) -> None:
        remaining = self.remaining()
        if delay >= remaining:
            raise _GiveUp(
                f"{what}: {reason}; a retry in {delay:.1f} s would pass the run's deadline "
                f"([api].deadline = {self.settings.deadline:g} s, {max(remaining, 0):.1f} s "
                "left); not waiting"
            )
        log.debug("%s: %s; retrying in %.2f s", what, reason, delay)
        await asyncio.sleep(delay)

    def _transport_reason(self, exc: BaseException) -> str:
        # Built from the exception's type only: httpx's messages are not ours to vouch for.
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return f"no complete answer within {self.settings.timeout:g} s ([api].timeout)"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {_host(self.settings.base_url)}"
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return "connection closed or reset mid-answer"
        if isinstance(exc, httpx.DecodingError):
            return "an answer whose content encoding does not decode"
        return f"network error ({type(exc).__name__})"


def backoff_delay(tries: int, base: float) -> float:
    """The wait after failed attempt number ``tries``: exponential with full jitter.

    Anywhere from 0 to ``base * 2**(tries - 1)`` (at most MAX_BACKOFF): a herd of clients that
    failed together spreads out instead of retrying in step."""
    return random.uniform(0, min(MAX_BACKOFF, base * 2 ** (tries - 1)))


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    A date in the past means now; anything unreadable is ignored (the backoff applies)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _proxy_in_environment() -> bool:
    """Whether a proxy is configured where httpx looks for one: urllib's ``getproxies()``, that
    is HTTP_PROXY, HTTPS_PROXY or ALL_PROXY (any case), and on macOS and Windows the system's
    proxy settings.

    PoolTransport does not speak to proxies, so then httpx's own transport serves the run and
    finds the proxy, and NO_PROXY, as it always has. (httpx ignores them once it is given a
    transport, so a proxy would otherwise be bypassed without a word.)"""
    return any(scheme in getproxies() for scheme in ("http", "https", "all"))


def _host(base_url: str | None) -> str:
    parts = urlsplit(base_url or "")
    # Never the userinfo part of a URL: it may hold credentials.
    host = parts.hostname or "the API"
    return f"{host}:{parts.port}" if parts.port else host


def _header_problem(token: str) -> str | None:
    """What keeps ``token`` out of an ``Authorization: Bearer`` header, if anything.

    Printable ASCII without spaces only, as RFC 6750's b64token and more: a line break would
    end the header, anything else httpx or the server could not encode or parse. The
    character is named by its code point only, never shown."""
    for char in token:
        if char in "\r\n":
            return "a line break (CR or LF)"
        if char == " ":
            return "a space"
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"U+{code:04X}, a lone surrogate"
        if code < 0x20 or code == 0x7F:
            return f"a control character (U+{code:04X})"
        if code > 0x7E:
            return f"a character that is not ASCII (U+{code:04X})"
    return None


def _error_code(response: _Reply) -> str:
    """The OAuth2-style ``error`` code of an error answer; never its free-text description.

    Only the characters an error code is made of are kept (RFC 6749 5.2 allows printable ASCII;
    we keep fewer: no ':', no space), so a server cannot put line breaks or workflow commands
    into our output."""
    try:
        body = decode_json(response.body)
    except (ValueError, AnswerRefused):
        return "no JSON error body"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = _ERROR_CODE_JUNK.sub("?", body["error"])[:40]
        return code or "no error code"
    return "no error code"


def fetch_organizations(
    settings: ApiConfig,
    credentials: Credentials,
    keys: Sequence[tuple[str, Secret | str]],
    *,
    on_token: Callable[[str], None] | None = None,
    progress: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Synchronous entry point: one event loop, one connection pool, one token for the run."""

    async def run() -> list[FetchResult]:
        async with NudgeApi(settings, credentials, on_token=on_token) as api:
            return await api.fetch_many(keys, progress)

    with frozen_heap():
        return asyncio.run(run())
