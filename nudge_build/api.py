"""The nudge API client: OAuth2 token, GetOrganization for many clients, retries, deadlines.

Every wire detail of the (partly assumed) API contract lives in this module, so adapting to the
real reference is a one-module change. One ``httpx.AsyncClient`` and one token serve the run.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from nudge_build import __version__
from nudge_build.config import ApiConfig
from nudge_build.credentials import Credentials
from nudge_build.errors import ApiError
from nudge_build.org import Organization, OrganizationError, parse_organization
from nudge_build.secret import Secret, register

log = logging.getLogger("nudge_build.api")

# Refresh this long before expiry so that a request never leaves with a token about to lapse.
TOKEN_REFRESH_MARGIN = 60.0
RETRY_STATUSES_WITH_RETRY_AFTER = (429, 503)


class CredentialsError(ApiError):
    """The token endpoint refused our client id/secret: fatal for the run, never retried."""


@dataclass(frozen=True)
class FetchResult:
    client: str
    organization: Organization | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()
    generation: int

    def usable(self, now: float, margin: float) -> bool:
        return now < self.expires_at - margin


class _GiveUp(Exception):
    """Stop retrying this request; the message is the user-facing reason."""


class TokenAuth(httpx.Auth):
    """Bearer auth with one token per run, refreshed under a lock before it expires.

    However many requests are in flight, an expired or revoked token causes one refresh: a
    request that got a 401 only refreshes if nobody refreshed since its token was issued.
    """

    def __init__(self, fetch: Callable[[], Any], on_token: Callable[[str], None] | None) -> None:
        self._fetch = fetch
        self._on_token = on_token
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._generation = 0
        self.refreshes = 0

    async def current(self) -> _Token:
        token = self._token
        if token is not None and token.usable(time.monotonic(), self._margin(token)):
            return token
        return await self._refresh(stale=token)

    async def _refresh(self, stale: _Token | None) -> _Token:
        async with self._lock:
            # Someone else refreshed while we waited for the lock: use theirs.
            if self._token is not None and self._token is not stale:
                return self._token
            value, ttl = await self._fetch()
            register(value)
            if self._on_token is not None:
                self._on_token(value)
            self._generation += 1
            self.refreshes += 1
            self._token = _Token(value, time.monotonic() + ttl, self._generation)
            self._ttl = ttl
            return self._token

    def _margin(self, token: _Token) -> float:
        # Short-lived tokens (tests, sandboxes) would otherwise always count as expiring.
        return min(TOKEN_REFRESH_MARGIN, getattr(self, "_ttl", 0.0) / 4)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.current()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code == 401:
            log.debug("401 from %s; refreshing the token once", request.url.path)
            # Hand the connection back to the pool first: with every slot holding a 401, the
            # token request would otherwise wait for a connection that never frees up.
            await response.aread()
            token = await self._refresh(stale=token)
            request.headers["Authorization"] = f"Bearer {token.value}"
            yield request

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
        self._started = time.monotonic()
        self._deadline_at = self._started + settings.deadline
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(
                # One spare connection for the token endpoint while every slot is busy.
                max_connections=settings.concurrency + 1,
                max_keepalive_connections=settings.concurrency + 1,
            ),
            headers={"User-Agent": f"nudge-build/{__version__}"},
            transport=transport,
            follow_redirects=False,
        )
        self.auth = TokenAuth(self._fetch_token, on_token)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self.token_requests = 0

    async def __aenter__(self) -> NudgeApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def remaining(self) -> float:
        return self._deadline_at - time.monotonic()

    # -- token -----------------------------------------------------------------------------

    async def _fetch_token(self) -> tuple[str, float]:
        secret: Secret = self._credentials.client_secret
        data = {"grant_type": "client_credentials"}
        auth: tuple[str, str] | None = None
        if self.settings.token_auth == "basic":
            auth = (self._credentials.client_id, secret.reveal())
        else:
            data["client_id"] = self._credentials.client_id
            data["client_secret"] = secret.reveal()

        async def attempt() -> httpx.Response:
            self.token_requests += 1
            return await self._client.post(
                "/oauth2/token", data=data, auth=auth or httpx.USE_CLIENT_DEFAULT
            )

        response = await self._with_retries(attempt, what="token request", token_endpoint=True)
        body = _json_object(response, what="token response")
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise ApiError("token response: access_token is missing or not a string")
        if str(body.get("token_type", "Bearer")).lower() != "bearer":
            raise ApiError(
                f"token response: token_type {body.get('token_type')!r}, expected Bearer"
            )
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in <= 0
        ):
            raise ApiError(
                "token response: expires_in (minutes) is missing or not a positive number"
            )
        # The contract gives the lifetime in minutes, not the OAuth2-usual seconds.
        return token, float(expires_in) * 60.0

    async def ensure_token(self) -> None:
        """Fetch the run's token up front: bad credentials fail the run before any client."""
        try:
            await asyncio.wait_for(self.auth.current(), timeout=max(self.remaining(), 0.001))
        except TimeoutError:
            raise ApiError(
                f"token request did not finish within the run's deadline "
                f"({self.settings.deadline:g} s, [api].deadline)"
            ) from None
        except _GiveUp as exc:
            raise ApiError(str(exc)) from None

    # -- GetOrganization -------------------------------------------------------------------

    async def get_organization(self, client: str, api_key: Secret | str) -> Organization:
        key = api_key.reveal() if isinstance(api_key, Secret) else api_key

        async def attempt() -> httpx.Response:
            return await self._client.post("/GetOrganization", json={"apiKey": key}, auth=self.auth)

        try:
            response = await self._with_retries(attempt, what=f"client {client}: GetOrganization")
        except _GiveUp as exc:
            raise ApiError(str(exc)) from None
        if response.status_code == 404:
            raise ApiError(f"client {client}: organization not found (404 from GetOrganization)")
        if response.status_code == 401:
            raise ApiError(
                f"client {client}: GetOrganization answered 401 again after a fresh token "
                f"({_error_code(response)})"
            )
        if response.status_code != 200:
            raise ApiError(
                f"client {client}: GetOrganization answered {response.status_code} "
                f"({_error_code(response)})"
            )
        body = _json_body(response, what=f"client {client}: GetOrganization response")
        return parse_organization(body, client=client)

    async def fetch_many(
        self,
        keys: Sequence[tuple[str, Secret | str]],
        progress: Callable[[FetchResult], None] | None = None,
    ) -> list[FetchResult]:
        """GetOrganization for every client; a failure is that client's alone."""
        await self.ensure_token()

        async def one(client: str, key: Secret | str) -> FetchResult:
            try:
                async with asyncio.timeout_at(self._loop_deadline()):
                    org = await self.get_organization(client, key)
                result = FetchResult(client, organization=org)
            except TimeoutError:
                result = FetchResult(
                    client,
                    error=f"client {client}: the run's deadline of {self.settings.deadline:g} s "
                    "([api].deadline) passed before GetOrganization finished",
                )
            except (ApiError, OrganizationError) as exc:
                result = FetchResult(client, error=str(exc))
            if progress is not None:
                progress(result)
            return result

        return list(await asyncio.gather(*(one(client, key) for client, key in keys)))

    def _loop_deadline(self) -> float:
        loop = asyncio.get_running_loop()
        return loop.time() + self.remaining()

    # -- retries ---------------------------------------------------------------------------

    async def _with_retries(
        self,
        attempt: Callable[[], Any],
        *,
        what: str,
        token_endpoint: bool = False,
    ) -> httpx.Response:
        """Run ``attempt`` until it gives a final answer; raise _GiveUp with the reason."""
        settings = self.settings
        tries = 0
        while True:
            tries += 1
            last_try = tries > settings.max_retries
            try:
                # Bounds a server that trickles bytes: httpx's timeouts are per read. The token
                # endpoint takes no slot: it is called while GetOrganization requests hold them.
                async with asyncio.timeout(settings.timeout):
                    if token_endpoint:
                        response: httpx.Response = await attempt()
                    else:
                        async with self._slots:
                            response = await attempt()
            except (httpx.TransportError, TimeoutError) as exc:
                reason = _transport_reason(exc, settings.timeout)
                if last_try:
                    raise _GiveUp(f"{what}: {reason} (gave up after {tries} attempts)") from None
                await self._sleep(self._backoff(tries), what=what, reason=reason)
                continue
            status = response.status_code
            if token_endpoint and status in (400, 401):
                code = _error_code(response)
                raise CredentialsError(
                    f"the token endpoint refused the client credentials ({status} {code}); "
                    "check the client id and secret variables"
                )
            if status in RETRY_STATUSES_WITH_RETRY_AFTER or 500 <= status <= 599:
                reason = f"HTTP {status}"
                if last_try:
                    raise _GiveUp(f"{what}: {reason} (gave up after {tries} attempts)")
                delay = self._backoff(tries)
                retry_after = _retry_after(response.headers.get("Retry-After"))
                if status in RETRY_STATUSES_WITH_RETRY_AFTER and retry_after is not None:
                    if retry_after > settings.max_retry_after:
                        raise _GiveUp(
                            f"{what}: HTTP {status} asks to retry after {retry_after:.0f} s, "
                            f"more than [api].max_retry_after ({settings.max_retry_after:g} s)"
                        )
                    delay = retry_after
                await self._sleep(delay, what=what, reason=reason)
                continue
            return response

    def _backoff(self, tries: int) -> float:
        # Full jitter: spreads a herd of retrying clients instead of synchronising them.
        ceiling = min(30.0, self.settings.retry_backoff * 2 ** (tries - 1))
        return random.uniform(0, ceiling)

    async def _sleep(self, delay: float, *, what: str, reason: str) -> None:
        if delay >= self.remaining():
            raise _GiveUp(
                f"{what}: {reason}; the retry would come after {delay:.1f} s, past the run's "
                f"deadline ({max(self.remaining(), 0):.1f} s left of {self.settings.deadline:g} s)"
            )
        log.debug("%s: %s; retrying in %.2f s", what, reason, delay)
        await asyncio.sleep(delay)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _transport_reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no complete answer within {timeout:g} s ([api].timeout)"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "connection closed or reset mid-answer"
    return f"network error ({type(exc).__name__})"


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "no JSON error body"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:80]
    return "no error code"


def _json_body(response: httpx.Response, *, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        snippet = response.text[:40].replace("\n", " ")
        raise ApiError(f"{what} is not JSON ({exc}; starts {snippet!r})") from None


def _json_object(response: httpx.Response, *, what: str) -> dict[str, Any]:
    body = _json_body(response, what=what)
    if not isinstance(body, dict):
        raise ApiError(f"{what} is not a JSON object")
    return body


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

    return asyncio.run(run())
