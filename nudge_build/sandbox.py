"""A local stand-in for the nudge API over real HTTP, standard library only.

It serves the wire contract assumed in DESIGN.md (``/oauth2/token``, ``/GetOrganization``,
``/GetJobInfo``) for the demo, partners' CI dry runs and our tests, and can be scripted to fail
the ways a real server does (see :mod:`nudge_build.sandbox_faults`). A sandbox running as a
separate process is scripted through the ``/_sandbox/...`` admin endpoints.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from nudge_build.errors import ConfigError
from nudge_build.sandbox_faults import (
    Answer,
    AnswerHandler,
    AnswerLike,
    AnswerServer,
    Faults,
    Refusal,
    Reply,
    bad_request,
    coerce_answers,
    error_reply,
    json_reply,
    load_faults,
    read_json_file,
)

__all__ = [
    "SAMPLE_JOBS",
    "SAMPLE_ORGS",
    "Answer",
    "Faults",
    "Sandbox",
    "SandboxStats",
    "load_faults",
    "load_orgs",
    "serve",
]

SAMPLE_JOBS: tuple[dict[str, str], ...] = (
    {
        "jobId": "job_7c1e90",
        "status": "completed",
        "message": "Organization configuration published.",
    },
    {"jobId": "job_3f5a12", "status": "running", "message": "Importing geofences (7 of 12)."},
    {
        "jobId": "job_b2d844",
        "status": "failed",
        "message": "Geofence import failed: 2 rows lack coordinates.",
    },
)
JOB_STATUSES = frozenset({"pending", "running", "completed", "failed"})
# RFC 6749 5.1: token responses must not be cached.
_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
_INVALID_TOKEN = (("WWW-Authenticate", 'Bearer error="invalid_token"'),)
_INVALID_CLIENT = (("WWW-Authenticate", 'Basic realm="nudge sandbox"'),)

log = logging.getLogger("nudge_build.sandbox")


def load_orgs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON list of Organization objects, each with its ``apiKey``.

    Only ``apiKey`` is checked: the sandbox must be able to serve broken organizations too.
    """
    name = os.fspath(path)
    return _validated_orgs(read_json_file(name), name, file=name)


def _validated_orgs(data: object, source: str, *, file: str | None) -> list[dict[str, Any]]:
    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source}: {problem}", file=file)

    if not isinstance(data, list):
        raise fail(f"expected a JSON list of organizations, got {_json_type(data)}")
    first_seen: dict[str, int] = {}
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise fail(f"item {number}: expected an organization object, got {_json_type(item)}")
        key = item.get("apiKey")
        if not isinstance(key, str) or not key:
            raise fail(f'item {number}: "apiKey" must be a non-empty string')
        # Name the earlier item, not the key: API keys may be secret.
        if key in first_seen:
            raise fail(f'item {number}: "apiKey" repeats the one of item {first_seen[key]}')
        first_seen[key] = number
    return data


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


SAMPLE_ORGS: list[dict[str, Any]] = _validated_orgs(
    json.loads((files("nudge_build") / "data" / "sample_orgs.json").read_text(encoding="utf-8")),
    "sample_orgs.json",
    file=None,
)


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot of what the sandbox has seen; ``/_sandbox/...`` admin calls are not counted.

    Times are ``time.monotonic()`` at arrival. ``issued_tokens`` lists every access token
    handed out, so that a test can look for them in everything a client printed or wrote;
    ``unauthorized`` counts requests refused for a missing, unknown, revoked or expired token.
    """

    token_requests: int = 0
    tokens_issued: int = 0
    org_requests: dict[str, int] = field(default_factory=dict)
    org_request_times: dict[str, list[float]] = field(default_factory=dict)
    total_requests: int = 0
    token_request_times: list[float] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    unauthorized: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "token_requests": self.token_requests,
            "tokens_issued": self.tokens_issued,
            "org_requests": self.org_requests,
            "org_request_times": self.org_request_times,
            "total_requests": self.total_requests,
            "token_request_times": self.token_request_times,
            "issued_tokens": self.issued_tokens,
            "unauthorized": self.unauthorized,
        }


class _State:
    """What the request handlers share; the lock is held only for quick updates."""

    def __init__(
        self,
        orgs: Sequence[Mapping[str, Any]],
        jobs: Sequence[Mapping[str, Any]],
        credentials: tuple[str, str],
        token_ttl_minutes: float,
        latency_ms: float,
    ) -> None:
        self.lock = threading.Lock()
        self.orgs = {o["apiKey"]: {k: v for k, v in o.items() if k != "apiKey"} for o in orgs}
        self.jobs = {job["jobId"]: dict(job) for job in jobs}
        self.credentials = credentials
        self.token_ttl_minutes = token_ttl_minutes
        self.latency_s = latency_ms / 1000
        self.tokens: dict[str, float] = {}
        self.token_script: deque[Answer] = deque()
        self.org_scripts: dict[str, deque[Answer]] = {}
        self.counters = _Counters()

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl_minutes * 60
            self.counters.tokens_issued += 1
            self.counters.issued_tokens.append(token)
        return token

    def token_problem(self, token: str) -> str | None:
        """Why ``token`` is not acceptable, or None when it is."""
        with self.lock:
            expires = self.tokens.get(token)
        if expires is None:
            return "unknown or revoked token"
        return "token expired" if time.monotonic() >= expires else None

    def next_answer(self, api_key: str | None) -> Answer:
        """The next scripted answer for an organization key (or the token endpoint for None)."""
        with self.lock:
            queue = self.token_script if api_key is None else self.org_scripts.get(api_key)
            return queue.popleft() if queue else Answer.ok()

    def count(self, path: str) -> None:
        arrived = time.monotonic()
        with self.lock:
            self.counters.total_requests += 1
            if path == "/oauth2/token":
                self.counters.token_requests += 1
                self.counters.token_request_times.append(arrived)

    def count_unauthorized(self) -> None:
        with self.lock:
            self.counters.unauthorized += 1

    def count_org_request(self, api_key: str, arrived: float) -> None:
        with self.lock:
            counters = self.counters
            counters.org_requests[api_key] = counters.org_requests.get(api_key, 0) + 1
            counters.org_request_times.setdefault(api_key, []).append(arrived)

    def snapshot(self) -> SandboxStats:
        with self.lock:
            counters = self.counters
            # Copy the containers so that the snapshot does not move under the caller.
            return SandboxStats(
                counters.token_requests,
                counters.tokens_issued,
                dict(counters.org_requests),
                {key: list(times) for key, times in counters.org_request_times.items()},
                counters.total_requests,
                list(counters.token_request_times),
                list(counters.issued_tokens),
                counters.unauthorized,
            )

    def reset_stats(self) -> None:
        with self.lock:
            self.counters = _Counters()


@dataclass
class _Counters:
    token_requests: int = 0
    tokens_issued: int = 0
    org_requests: dict[str, int] = field(default_factory=dict)
    org_request_times: dict[str, list[float]] = field(default_factory=dict)
    total_requests: int = 0
    token_request_times: list[float] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    unauthorized: int = 0


class _Handler(AnswerHandler):
    """The nudge API's endpoints (and the admin ones) on top of the fault-aware transport."""

    server: _Server

    def route(self, path: str, body: bytes) -> None:
        if not path.startswith("/_sandbox/"):
            self.server.state.count(path)
        if path not in _ROUTES:
            raise Refusal(error_reply(404, "not_found", "no such endpoint"))
        method, endpoint = _ROUTES[path]
        if self.method != method:
            allow = (("Allow", method),)
            raise Refusal(error_reply(405, "method_not_allowed", f"use {method}", allow))
        endpoint(self, body)

    # -- endpoints ---------------------------------------------------------------------------

    def token_endpoint(self, body: bytes) -> None:
        """``POST /oauth2/token``. Scripted answers apply only to requests that would succeed,
        as for GetOrganization, so wrong credentials are always a plain 401."""
        state = self.server.state
        params = self._form(body)
        self._authenticate_client(params)
        if params.get("grant_type") != "client_credentials":
            raise Refusal(error_reply(400, "unsupported_grant_type", "use client_credentials"))
        self.deliver(state.next_answer(None), self._token_reply)

    def _form(self, body: bytes) -> dict[str, str]:
        if self.headers.get_content_type() != "application/x-www-form-urlencoded":
            raise bad_request("the body must be application/x-www-form-urlencoded")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            raise bad_request("malformed form body") from None
        if any(len(values) > 1 for values in form.values()):
            raise bad_request("a parameter is repeated")
        return {name: values[0] for name, values in form.items()}

    def _authenticate_client(self, params: Mapping[str, str]) -> None:
        header = self.headers.get("Authorization")
        if header is not None and "client_secret" in params:
            raise bad_request("send the client credentials either as Basic or in the body")
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if header is not None:
            client_id, secret = _basic_credentials(header)
        expected_id, expected_secret = self.server.state.credentials
        # Compare both in constant time, and never say which one was wrong.
        valid = (
            client_id is not None
            and secret is not None
            and hmac.compare_digest(client_id.encode(), expected_id.encode())
            & hmac.compare_digest(secret.encode(), expected_secret.encode())
        )
        if not valid:
            description = "unknown client or wrong client secret"
            raise Refusal(error_reply(401, "invalid_client", description, _INVALID_CLIENT))

    def _token_reply(self) -> Reply:
        state = self.server.state
        minutes = state.token_ttl_minutes
        payload = {
            "access_token": state.issue_token(),
            "token_type": "Bearer",
            "expires_in": int(minutes) if float(minutes).is_integer() else minutes,
        }
        return json_reply(200, payload, _NO_STORE)

    def organization_endpoint(self, body: bytes) -> None:
        """``POST /GetOrganization``.

        Order: latency, then the Bearer check, then the body, then a scripted answer for the key,
        then the lookup. Scripted answers model the server failing after it accepted the
        request, so a bad token is still a 401 and does not consume a scripted answer.
        """
        arrived = time.monotonic()
        state = self.server.state
        request = _json_object(body)
        api_key = request.get("apiKey") if request is not None else None
        if isinstance(api_key, str):
            state.count_org_request(api_key, arrived)
        if not self.pause(state.latency_s):
            return
        self._require_bearer()
        if request is None:
            raise bad_request("the body must be a JSON object")
        if not isinstance(api_key, str) or not api_key:
            raise bad_request('"apiKey" must be a non-empty string')
        self.deliver(state.next_answer(api_key), lambda: _organization_reply(state, api_key))

    def job_endpoint(self, body: bytes) -> None:
        self._require_bearer()
        request = _json_object(body)
        job_id = request.get("jobId") if request is not None else None
        if not isinstance(job_id, str) or not job_id:
            raise bad_request('the body must be a JSON object with a "jobId" string')
        job = self.server.state.jobs.get(job_id)
        if job is None:
            raise Refusal(error_reply(404, "job_not_found"))
        self.send_reply(json_reply(200, job))

    def _require_bearer(self) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            problem: str | None = "a Bearer token is required"
        else:
            problem = self.server.state.token_problem(token.strip())
        if problem is not None:
            self.server.state.count_unauthorized()
            raise Refusal(error_reply(401, "invalid_token", problem, _INVALID_TOKEN))

    # -- admin endpoints ---------------------------------------------------------------------

    def admin_script(self, body: bytes) -> None:
        request = _admin_request(body)
        api_key = request.get("apiKey")
        if not isinstance(api_key, str) or not api_key:
            raise bad_request('"apiKey" must be a non-empty string')
        self.send_reply(json_reply(200, {"queued": _script(self.server.state, api_key, request)}))

    def admin_script_token(self, body: bytes) -> None:
        queued = _script(self.server.state, None, _admin_request(body))
        self.send_reply(json_reply(200, {"queued": queued}))

    def admin_revoke(self, body: bytes) -> None:
        self.send_reply(json_reply(200, {"revoked": _revoke(self.server.state)}))

    def admin_stats(self, body: bytes) -> None:
        self.send_reply(json_reply(200, self.server.state.snapshot().to_json()))

    def admin_reset_stats(self, body: bytes) -> None:
        self.server.state.reset_stats()
        self.send_reply(json_reply(200, {"reset": True}))


_ROUTES: dict[str, tuple[str, Callable[[_Handler, bytes], None]]] = {
    "/oauth2/token": ("POST", _Handler.token_endpoint),
    "/GetOrganization": ("POST", _Handler.organization_endpoint),
    "/GetJobInfo": ("POST", _Handler.job_endpoint),
    "/_sandbox/script": ("POST", _Handler.admin_script),
    "/_sandbox/script-token": ("POST", _Handler.admin_script_token),
    "/_sandbox/revoke": ("POST", _Handler.admin_revoke),
    "/_sandbox/stats": ("GET", _Handler.admin_stats),
    "/_sandbox/reset-stats": ("POST", _Handler.admin_reset_stats),
}


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else (None, None)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _organization_reply(state: _State, api_key: str) -> Reply:
    org = state.orgs.get(api_key)
    return error_reply(404, "organization_not_found") if org is None else json_reply(200, org)


def _admin_request(body: bytes) -> dict[str, Any]:
    request = _json_object(body)
    if request is None:
        raise bad_request("the body must be a JSON object")
    return request


def _script(state: _State, api_key: str | None, request: Mapping[str, Any]) -> int:
    try:
        answers = coerce_answers(request.get("answers", ""))
    except ValueError as exc:
        raise bad_request(f'"answers": {exc}') from None
    _queue(state, api_key, answers)
    return len(answers)


def _queue(state: _State, api_key: str | None, answers: list[Answer]) -> None:
    with state.lock:
        if api_key is None:
            state.token_script.extend(answers)
        else:
            state.org_scripts.setdefault(api_key, deque()).extend(answers)


def _revoke(state: _State) -> int:
    with state.lock:
        revoked = len(state.tokens)
        state.tokens.clear()
    return revoked


class _Server(AnswerServer):
    def __init__(self, address: tuple[str, int], family: socket.AddressFamily, state: _State):
        self.state = state
        super().__init__(address, _Handler, family)


class Sandbox:
    """The sandbox server; ``with Sandbox() as sandbox:`` serves on an ephemeral loopback port."""

    def __init__(
        self,
        orgs: Sequence[Mapping[str, Any]] | None = None,
        *,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        token_ttl_minutes: float = 60,
        jobs: Sequence[Mapping[str, Any]] | None = None,
        allow_remote: bool = False,
    ) -> None:
        _check_host(host, allow_remote)
        for name, value in (("client_id", client_id), ("client_secret", client_secret)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"sandbox: {name} must be a non-empty string")
        _check_number("latency_ms", latency_ms, allow_zero=True)
        _check_number("token_ttl_minutes", token_ttl_minutes, allow_zero=False)
        org_list = _validated_orgs(
            copy.deepcopy(list(SAMPLE_ORGS if orgs is None else orgs)), "orgs", file=None
        )
        job_list = _validated_jobs(copy.deepcopy(list(SAMPLE_JOBS if jobs is None else jobs)))
        credentials = (client_id, client_secret)
        self._state = _State(org_list, job_list, credentials, token_ttl_minutes, latency_ms)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` with the port actually bound."""
        if self._base_url is None:
            raise RuntimeError("the sandbox is not started")
        return self._base_url

    def start(self) -> Sandbox:
        """Serve in a background daemon thread."""
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_until_stopped, name="nudge-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self, *, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the foreground until Ctrl-C or SIGTERM (how CI scripts stop a background
        job); ``on_ready`` gets the base URL once bound. Either signal stops it cleanly."""
        server = self._bind()
        previous = _stop_on_sigterm()
        try:
            if on_ready is not None:
                on_ready(self.base_url)
            server.serve_until_stopped()
        except KeyboardInterrupt:
            log.debug("interrupted; stopping")
        finally:
            self.stop()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def stop(self) -> None:
        """Stop serving and release hung, delayed and trickling handlers; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop_serving()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        server.release_handlers(timeout=2.0)
        server.server_close()

    def __enter__(self) -> Sandbox:
        return self if self._server is not None else self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def script(self, api_key: str, answers: Iterable[AnswerLike]) -> None:
        """Queue answers for GetOrganization of ``api_key``: one per request, then normal."""
        _queue(self._state, api_key, coerce_answers(answers))

    def script_token(self, answers: Iterable[AnswerLike]) -> None:
        """Queue answers for ``/oauth2/token``: one per request, then normal."""
        _queue(self._state, None, coerce_answers(answers))

    def apply_faults(self, faults: Faults) -> None:
        """Queue everything a :func:`load_faults` file asks for."""
        for api_key, answers in faults["organizations"].items():
            self.script(api_key, answers)
        self.script_token(faults["token"])

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (each then gets 401 invalid_token)."""
        _revoke(self._state)

    @property
    def stats(self) -> SandboxStats:
        """A frozen snapshot of the counters."""
        return self._state.snapshot()

    def reset_stats(self) -> None:
        self._state.reset_stats()

    def _bind(self) -> _Server:
        if self._server is not None:
            raise RuntimeError("the sandbox is already serving")
        host, port = self._address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            server = _Server((host, port), family, self._state)
        except OSError as exc:
            raise ConfigError(
                f"sandbox: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        bound_host, bound_port = server.server_name, server.server_port
        shown = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
        self._base_url = f"http://{shown}:{bound_port}"
        self._server = server
        return server


def _stop_on_sigterm() -> Any:
    """Make SIGTERM end serving the way Ctrl-C does; the previous handler, to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set signal handlers

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _check_host(host: str, allow_remote: bool) -> None:
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"sandbox: refusing to listen on {host!r}, which is not a loopback address: "
            "the sandbox accepts its test credentials and scripted faults from anyone who can "
            "reach it; use 127.0.0.1 (Sandbox(allow_remote=True) overrides this)"
        )


def _check_number(name: str, value: object, *, allow_zero: bool) -> None:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    # "not >=" also refuses NaN.
    if number is None or not number >= 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"sandbox: {name} must be a number {bound}, got {value!r}")


def _validated_jobs(jobs: list[Any]) -> list[dict[str, Any]]:
    for number, job in enumerate(jobs, start=1):
        valid = (
            isinstance(job, dict)
            and isinstance(job.get("jobId"), str)
            and job.get("status") in JOB_STATUSES
            and isinstance(job.get("message"), str)
        )
        if not valid:
            raise ConfigError(
                f'sandbox: jobs: item {number}: expected {{"jobId", "status", "message"}} with a '
                f"status in {', '.join(sorted(JOB_STATUSES))}"
            )
    return jobs


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    orgs_file: str | os.PathLike[str] | None = None,
    faults_file: str | os.PathLike[str] | None = None,
    latency_ms: float = 0,
    token_ttl_minutes: float = 60,
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",
    allow_remote: bool = False,
) -> None:
    """What ``nudge-build sandbox`` runs: announce the URL on stdout, serve until Ctrl-C."""
    orgs = load_orgs(orgs_file) if orgs_file is not None else SAMPLE_ORGS
    faults = load_faults(faults_file) if faults_file is not None else None
    sandbox = Sandbox(
        orgs,
        client_id=client_id,
        client_secret=client_secret,
        host=host,
        port=port,
        latency_ms=latency_ms,
        token_ttl_minutes=token_ttl_minutes,
        allow_remote=allow_remote,
    )
    if faults is not None:
        sandbox.apply_faults(faults)

    def announce(base_url: str) -> None:
        # The client id helps people configure a client; the secret is never printed.
        print(f"nudge sandbox listening on {base_url} (client id: {client_id})", flush=True)

    sandbox.serve_forever(on_ready=announce)
