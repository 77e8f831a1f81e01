"""The sandbox over real HTTP, with stdlib clients only (never nudge_build's own client)."""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from nudge_build.errors import ConfigError
from nudge_build.sandbox import (
    SAMPLE_JOBS,
    SAMPLE_ORGS,
    Answer,
    Sandbox,
    load_faults,
    load_orgs,
)

SECRET = "sandbox-secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# No proxies: an http_proxy in the environment must not intercept loopback calls.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Remote:
    """A sandbox in another process, known by its URL."""

    base_url: str


Server = Sandbox | Remote


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    sandbox: Server,
    path: str,
    body: bytes | None = b"",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Response:
    request = urllib.request.Request(
        sandbox.base_url + path, data=body, headers=headers or {}, method=method
    )
    try:
        with OPENER.open(request, timeout=5) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read())


def request_token(
    sandbox: Server, headers: dict[str, str] | None = None, **fields: str
) -> Response:
    return call(
        sandbox,
        "/oauth2/token",
        urllib.parse.urlencode(fields).encode(),
        {**FORM, **(headers or {})},
    )


def token_of(sandbox: Server) -> str:
    response = request_token(
        sandbox, grant_type="client_credentials", client_id="sandbox-client", client_secret=SECRET
    )
    assert response.status == 200, response.body
    token: str = response.json()["access_token"]
    return token


def get_org(sandbox: Server, api_key: Any, token: str | None) -> Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return call(sandbox, "/GetOrganization", json.dumps({"apiKey": api_key}).encode(), headers)


def connect(sandbox: Server, timeout: float = 5) -> http.client.HTTPConnection:
    address = urllib.parse.urlsplit(sandbox.base_url)
    assert address.hostname is not None and address.port is not None
    return http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)


def raw_socket(sandbox: Server, timeout: float = 5) -> socket.socket:
    address = urllib.parse.urlsplit(sandbox.base_url)
    assert address.hostname is not None and address.port is not None
    return socket.create_connection((address.hostname, address.port), timeout=timeout)


def raw_org_request(token: str, api_key: str) -> bytes:
    body = json.dumps({"apiKey": api_key}).encode()
    head = (
        "POST /GetOrganization HTTP/1.1\r\nHost: sandbox\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def read_until_error(sock: socket.socket) -> tuple[bytes, OSError | None]:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError as exc:
        return received, exc
    return received, None


def public_org(api_key: str) -> dict[str, Any]:
    org = next(org for org in SAMPLE_ORGS if org["apiKey"] == api_key)
    return {key: value for key, value in org.items() if key != "apiKey"}


# -- /oauth2/token ---------------------------------------------------------------------------


def test_token_with_credentials_in_the_body(sandbox: Sandbox) -> None:
    response = request_token(
        sandbox, grant_type="client_credentials", client_id="sandbox-client", client_secret=SECRET
    )
    assert response.status == 200
    payload = response.json()
    assert payload["token_type"] == "Bearer"
    assert payload["expires_in"] == 60 and isinstance(payload["expires_in"], int)
    assert len(payload["access_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    assert get_org(sandbox, "sbx-summit-cu", payload["access_token"]).status == 200


def test_token_with_basic_auth_and_grant_type_alone(sandbox: Sandbox) -> None:
    basic = base64.b64encode(f"sandbox-client:{SECRET}".encode()).decode()
    response = request_token(
        sandbox, {"Authorization": f"Basic {basic}"}, grant_type="client_credentials"
    )
    assert response.status == 200
    assert get_org(sandbox, "sbx-summit-cu", response.json()["access_token"]).status == 200


@pytest.mark.parametrize(
    ("headers", "fields"),
    [
        ({}, {"client_id": "sandbox-client", "client_secret": "wrong-secret"}),
        ({}, {"client_id": "someone-else", "client_secret": SECRET}),
        ({}, {}),
        (
            {"Authorization": "Basic " + base64.b64encode(b"sandbox-client:wrong-secret").decode()},
            {},
        ),
        ({"Authorization": "Basic not-base64!"}, {}),
    ],
    ids=["wrong-secret", "wrong-id", "no-credentials", "basic-wrong-secret", "basic-garbled"],
)
def test_token_wrong_credentials_are_401_invalid_client_without_the_secret(
    sandbox: Sandbox, headers: dict[str, str], fields: dict[str, str]
) -> None:
    response = request_token(sandbox, headers, grant_type="client_credentials", **fields)
    assert response.status == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    shown = response.body + str(response.headers).encode()
    assert SECRET.encode() not in shown
    assert b"wrong-secret" not in shown
    assert sandbox.stats.tokens_issued == 0


@pytest.mark.parametrize("grant", [None, "password", ""])
def test_token_missing_or_other_grant_type_is_unsupported_grant_type(
    sandbox: Sandbox, grant: str | None
) -> None:
    fields = {"client_id": "sandbox-client", "client_secret": SECRET}
    if grant is not None:
        fields["grant_type"] = grant
    response = request_token(sandbox, **fields)
    assert response.status == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"grant_type": "client_credentials"}', {"Content-Type": "application/json"}),
        (b"grant_type=client_credentials&grant_type=client_credentials", FORM),
        (b"grant_type=client_credentials&&&=", FORM),
        (
            f"grant_type=client_credentials&client_secret={SECRET}".encode(),
            {**FORM, "Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
        ),
    ],
    ids=["json-body", "repeated-parameter", "garbled-form", "basic-and-body-secret"],
)
def test_token_malformed_request_is_invalid_request(
    sandbox: Sandbox, body: bytes, headers: dict[str, str]
) -> None:
    response = call(sandbox, "/oauth2/token", body, headers)
    assert response.status == 400
    assert response.json()["error"] == "invalid_request"


def test_token_expires_after_the_ttl() -> None:
    with Sandbox(token_ttl_minutes=0.004) as sandbox:  # 0.24 s
        response = request_token(
            sandbox,
            grant_type="client_credentials",
            client_id="sandbox-client",
            client_secret=SECRET,
        )
        assert response.json()["expires_in"] == 0.004
        token = response.json()["access_token"]
        assert get_org(sandbox, "sbx-summit-cu", token).status == 200
        time.sleep(0.3)
        expired = get_org(sandbox, "sbx-summit-cu", token)
        assert expired.status == 401
        assert expired.json() == {"error": "invalid_token", "error_description": "token expired"}


def test_revoke_tokens_makes_every_issued_token_invalid(sandbox: Sandbox) -> None:
    tokens = [token_of(sandbox), token_of(sandbox)]
    sandbox.revoke_tokens()
    for token in tokens:
        response = get_org(sandbox, "sbx-summit-cu", token)
        assert response.status == 401
        assert response.json()["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert get_org(sandbox, "sbx-summit-cu", token_of(sandbox)).status == 200


# -- /GetOrganization and /GetJobInfo --------------------------------------------------------


def test_get_organization_returns_each_sample_without_its_api_key(sandbox: Sandbox) -> None:
    token = token_of(sandbox)
    for org in SAMPLE_ORGS:
        response = get_org(sandbox, org["apiKey"], token)
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == public_org(org["apiKey"])
        assert b"apiKey" not in response.body


def test_get_organization_unknown_key_is_404(sandbox: Sandbox) -> None:
    response = get_org(sandbox, "sbx-nobody", token_of(sandbox))
    assert response.status == 404
    assert response.json() == {"error": "organization_not_found"}


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc", "Bearer "])
def test_get_organization_without_a_valid_token_is_401(
    sandbox: Sandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = call(sandbox, "/GetOrganization", b'{"apiKey": "sbx-summit-cu"}', headers)
    assert response.status == 401
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"apiKey": 7}', b'{"apiKey": ""}', b""]
)
def test_get_organization_bad_body_is_400_invalid_request(sandbox: Sandbox, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {token_of(sandbox)}"}
    response = call(sandbox, "/GetOrganization", body, headers)
    assert response.status == 400
    assert response.json()["error"] == "invalid_request"


def test_get_job_info_known_unknown_and_unauthorized(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {token_of(sandbox)}"}
    assert len(SAMPLE_JOBS) >= 2
    for job in SAMPLE_JOBS:
        response = call(
            sandbox, "/GetJobInfo", json.dumps({"jobId": job["jobId"]}).encode(), headers
        )
        assert response.status == 200
        assert response.json() == job
        assert job["status"] in {"pending", "running", "completed", "failed"}
    unknown = call(sandbox, "/GetJobInfo", b'{"jobId": "job_nope"}', headers)
    assert (unknown.status, unknown.json()) == (404, {"error": "job_not_found"})
    assert call(sandbox, "/GetJobInfo", b'{"jobId": "job_7c1e90"}').status == 401


def test_latency_ms_delays_every_get_organization() -> None:
    with Sandbox(latency_ms=200) as sandbox:
        token = token_of(sandbox)
        started = time.monotonic()
        assert get_org(sandbox, "sbx-nobody", token).status == 404
        assert get_org(sandbox, "sbx-summit-cu", token).status == 200
        assert time.monotonic() - started >= 0.4


def test_unknown_path_is_404_and_wrong_method_is_405(sandbox: Sandbox) -> None:
    missing = call(sandbox, "/GetEverything", b"{}")
    assert (missing.status, missing.json()["error"]) == (404, "not_found")
    wrong = call(sandbox, "/GetOrganization", None, method="GET")
    assert (wrong.status, wrong.json()["error"]) == (405, "method_not_allowed")
    assert wrong.headers["Allow"] == "POST"
    assert call(sandbox, "/oauth2/token", b"", method="BREW").status == 405


# -- scripted answers ------------------------------------------------------------------------


def test_scripted_status_sends_retry_after_seconds_and_http_date(sandbox: Sandbox) -> None:
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    sandbox.script(
        "sbx-summit-cu",
        [
            Answer.status(429, retry_after="1"),
            Answer.status(503, retry_after=later, body={"error": "maintenance"}),
            Answer.status(500),
        ],
    )
    token = token_of(sandbox)
    first, second, third = (get_org(sandbox, "sbx-summit-cu", token) for _ in range(3))
    assert (first.status, first.headers["Retry-After"]) == (429, "1")
    assert first.json() == {"error": "too_many_requests"}
    assert (second.status, second.headers["Retry-After"]) == (503, later)
    assert second.json() == {"error": "maintenance"}
    assert (third.status, third.headers["Retry-After"]) == (500, None)


def test_scripted_reset_before_closes_with_rst_and_no_answer(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", [Answer.reset_before()])
    token = token_of(sandbox)
    with raw_socket(sandbox) as sock:
        sock.sendall(raw_org_request(token, "sbx-summit-cu"))
        received, error = read_until_error(sock)
    assert received == b""
    assert isinstance(error, ConnectionResetError)


def test_scripted_close_ends_the_connection_cleanly_without_an_answer(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", [Answer.close()])
    token = token_of(sandbox)
    with raw_socket(sandbox) as sock:
        sock.sendall(raw_org_request(token, "sbx-summit-cu"))
        received, error = read_until_error(sock)
    assert (received, error) == (b"", None)  # a FIN, not a reset
    assert get_org(sandbox, "sbx-summit-cu", token).status == 200


def test_scripted_reset_during_sends_full_length_head_and_part_of_the_body(
    sandbox: Sandbox,
) -> None:
    sandbox.script("sbx-summit-cu", [Answer.reset_during()])
    token = token_of(sandbox)
    with raw_socket(sandbox) as sock:
        sock.sendall(raw_org_request(token, "sbx-summit-cu"))
        received, error = read_until_error(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    full = json.dumps(public_org("sbx-summit-cu"), separators=(",", ":")).encode()
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"Content-Length: {len(full)}".encode() in head
    assert 0 < len(body) < len(full) and full.startswith(body)
    assert isinstance(error, ConnectionResetError)


def test_scripted_resets_raise_connection_errors_in_http_client(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", [Answer.reset_before(), Answer.reset_during()])
    token = token_of(sandbox)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(2):
        connection = connect(sandbox)
        try:
            connection.request("POST", "/GetOrganization", '{"apiKey": "sbx-summit-cu"}', headers)
            with pytest.raises(ConnectionResetError):
                with connection.getresponse() as response:
                    response.read()
        finally:
            connection.close()
    assert get_org(sandbox, "sbx-summit-cu", token).status == 200


def test_scripted_delay_waits_then_answers_normally(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", [Answer.delay(0.3)])
    token = token_of(sandbox)
    started = time.monotonic()
    response = get_org(sandbox, "sbx-summit-cu", token)
    assert time.monotonic() - started >= 0.3
    assert (response.status, response.json()) == (200, public_org("sbx-summit-cu"))


def test_scripted_trickle_delivers_the_body_one_byte_per_interval(sandbox: Sandbox) -> None:
    interval = 0.002
    sandbox.script("sbx-ridgeline-trust", [Answer.trickle(interval)])
    token = token_of(sandbox)
    started = time.monotonic()
    response = get_org(sandbox, "sbx-ridgeline-trust", token)
    elapsed = time.monotonic() - started
    assert (response.status, response.json()) == (200, public_org("sbx-ridgeline-trust"))
    assert elapsed >= len(response.body) * interval


def test_scripted_hang_answers_nothing_and_stop_still_returns_promptly() -> None:
    sandbox = Sandbox().start()
    try:
        sandbox.script("sbx-summit-cu", [Answer.hang()])
        token = token_of(sandbox)
        with raw_socket(sandbox, timeout=0.3) as sock:
            sock.sendall(raw_org_request(token, "sbx-summit-cu"))
            with pytest.raises(TimeoutError):
                sock.recv(1)
            started = time.monotonic()
            sandbox.stop()
            # Far below the 10 s a handler would otherwise hold on, with room for a loaded CI box.
            assert time.monotonic() - started < 5.0
            assert sock.recv(1) == b""  # the hung handler let go of the connection
    finally:
        sandbox.stop()


def test_stop_releases_a_trickling_handler_promptly() -> None:
    sandbox = Sandbox().start()
    try:
        sandbox.script("sbx-summit-cu", [Answer.trickle(10)])
        token = token_of(sandbox)
        with raw_socket(sandbox, timeout=2) as sock:
            sock.sendall(raw_org_request(token, "sbx-summit-cu"))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            started = time.monotonic()
            sandbox.stop()
            # Far below the 10 s a handler would otherwise hold on, with room for a loaded CI box.
            assert time.monotonic() - started < 5.0
    finally:
        sandbox.stop()


def test_scripted_malformed_is_200_with_a_body_that_is_not_json(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", [Answer.malformed(), Answer.malformed("<html>oops</html>")])
    token = token_of(sandbox)
    for expected_text in (None, b"<html>oops</html>"):
        response = get_org(sandbox, "sbx-summit-cu", token)
        assert response.status == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()
        if expected_text is not None:
            assert response.body == expected_text


def test_scripted_without_and_replace_change_one_field(sandbox: Sandbox) -> None:
    sandbox.script(
        "sbx-prairie-fcu",
        [
            Answer.without("features.locationBasedNudges"),
            Answer.replace("features.locationBasedNudges", "yes"),
            {"kind": "without", "path": "name"},
        ],
    )
    token = token_of(sandbox)
    normal = public_org("sbx-prairie-fcu")
    without = get_org(sandbox, "sbx-prairie-fcu", token).json()
    assert "locationBasedNudges" not in without["features"]
    assert without["features"]["geofenceCount"] == 12
    replaced = get_org(sandbox, "sbx-prairie-fcu", token).json()
    assert replaced["features"]["locationBasedNudges"] == "yes"
    assert {k: v for k, v in replaced.items() if k != "features"} == {
        k: v for k, v in normal.items() if k != "features"
    }
    assert "name" not in get_org(sandbox, "sbx-prairie-fcu", token).json()


def test_scripts_are_consumed_in_order_then_normal(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", ["503", {"kind": "status", "status": 500}, "ok", 502])
    token = token_of(sandbox)
    statuses = [get_org(sandbox, "sbx-summit-cu", token).status for _ in range(6)]
    assert statuses == [503, 500, 200, 502, 200, 200]
    assert get_org(sandbox, "sbx-harbor-bank", token).status == 200  # other keys unaffected


def test_scripted_answers_apply_after_the_auth_check(sandbox: Sandbox) -> None:
    sandbox.script("sbx-summit-cu", [Answer.status(503)])
    assert get_org(sandbox, "sbx-summit-cu", "bogus").status == 401
    token = token_of(sandbox)
    assert get_org(sandbox, "sbx-summit-cu", token).status == 503
    assert get_org(sandbox, "sbx-summit-cu", token).status == 200


def test_script_token_answers_then_issues_tokens(sandbox: Sandbox) -> None:
    sandbox.script_token([Answer.status(503, retry_after="1"), Answer.without("expires_in")])
    fields = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client",
        "client_secret": SECRET,
    }
    failed = request_token(sandbox, **fields)
    assert (failed.status, failed.headers["Retry-After"]) == (503, "1")
    assert "expires_in" not in request_token(sandbox, **fields).json()
    assert request_token(sandbox, **fields).json()["expires_in"] == 60
    assert sandbox.stats.tokens_issued == 2  # the 503 issued none


def test_bad_answers_are_refused_with_their_position(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="answer 2: .*kind"):
        sandbox.script("sbx-summit-cu", ["ok", {"kind": "boom"}])
    with pytest.raises(ValueError, match="status must be an integer from 200 to 599"):
        sandbox.script("sbx-summit-cu", [99])
    with pytest.raises(ValueError, match="single-line"):
        Answer.status(503, retry_after="1\r\nX-Injected: yes")


def test_answer_json_forms_round_trip() -> None:
    answers = [
        Answer.ok(),
        Answer.status(429, retry_after="1", body={"error": "slow_down"}),
        Answer.reset_before(),
        Answer.reset_during(),
        Answer.close(),
        Answer.delay(1.5),
        Answer.hang(),
        Answer.trickle(0.25),
        Answer.malformed(),
        Answer.malformed("nope"),
        Answer.without("features.locationBasedNudges"),
        Answer.replace("features.geofenceCount", None),
    ]
    for answer in answers:
        assert Answer.from_json(json.loads(json.dumps(answer.to_json()))) == answer
    assert Answer.from_json({"kind": "status", "status": 503, "retry_after": 2}).retry_after == "2"
    assert Answer.from_json("hang") == Answer.hang()
    assert Answer.from_json("429") == Answer.status(429)


# -- stats and admin endpoints ---------------------------------------------------------------


def test_stats_count_requests_and_reset(sandbox: Sandbox) -> None:
    request_token(sandbox, grant_type="client_credentials", client_id="x", client_secret="y")
    token = token_of(sandbox)
    before = time.monotonic()
    get_org(sandbox, "sbx-summit-cu", token)
    get_org(sandbox, "sbx-summit-cu", None)
    get_org(sandbox, "sbx-harbor-bank", token)
    after = time.monotonic()
    stats = sandbox.stats
    assert (stats.token_requests, stats.tokens_issued, stats.total_requests) == (2, 1, 5)
    assert stats.org_requests == {"sbx-summit-cu": 2, "sbx-harbor-bank": 1}
    assert all(before <= t <= after for t in stats.org_request_times["sbx-summit-cu"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.tokens_issued = 5  # type: ignore[misc]
    get_org(sandbox, "sbx-summit-cu", token)
    assert stats.org_requests["sbx-summit-cu"] == 2  # a snapshot, not a live view
    sandbox.reset_stats()
    assert sandbox.stats.total_requests == 0 and sandbox.stats.org_requests == {}


def test_stats_list_issued_tokens_token_request_times_and_refusals(sandbox: Sandbox) -> None:
    before = time.monotonic()
    request_token(sandbox, grant_type="client_credentials", client_id="x", client_secret="y")
    tokens = [token_of(sandbox), token_of(sandbox)]
    after = time.monotonic()
    get_org(sandbox, "sbx-summit-cu", None)
    get_org(sandbox, "sbx-summit-cu", "not-a-token")
    sandbox.revoke_tokens()
    get_org(sandbox, "sbx-summit-cu", tokens[0])
    get_org(sandbox, "sbx-summit-cu", token_of(sandbox))
    stats = sandbox.stats
    assert stats.issued_tokens[:2] == tokens and len(stats.issued_tokens) == 3
    assert len(stats.token_request_times) == 4
    assert all(before <= t <= after for t in stats.token_request_times[:3])
    assert stats.unauthorized == 3
    assert set(stats.to_json()) >= {"issued_tokens", "token_request_times", "unauthorized"}


def test_admin_endpoints_script_revoke_and_report(sandbox: Sandbox) -> None:
    def admin(path: str, payload: Any) -> Response:
        return call(
            sandbox, path, json.dumps(payload).encode(), {"Content-Type": "application/json"}
        )

    def stats() -> Any:
        return call(sandbox, "/_sandbox/stats", None, method="GET").json()

    scripted = admin(
        "/_sandbox/script",
        {
            "apiKey": "sbx-summit-cu",
            "answers": [{"kind": "status", "status": 429, "retry_after": "1"}],
        },
    )
    assert scripted.json() == {"queued": 1}
    assert admin("/_sandbox/script-token", {"answers": ["503"]}).json() == {"queued": 1}
    fields = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client",
        "client_secret": SECRET,
    }
    assert request_token(sandbox, **fields).status == 503
    token = token_of(sandbox)
    assert get_org(sandbox, "sbx-summit-cu", token).status == 429
    counted = stats()
    assert counted["token_requests"] == 2 and counted["org_requests"] == {"sbx-summit-cu": 1}
    assert counted["total_requests"] == 3  # admin calls are not counted
    assert admin("/_sandbox/revoke", {}).json() == {"revoked": 1}
    assert get_org(sandbox, "sbx-summit-cu", token).status == 401
    assert admin("/_sandbox/reset-stats", {}).json() == {"reset": True}
    assert stats()["total_requests"] == 0


@pytest.mark.parametrize(
    "payload",
    [{"answers": ["ok"]}, {"apiKey": "k", "answers": [{"kind": "boom"}]}, {"apiKey": "k"}],
    ids=["no-key", "bad-answer", "no-answers"],
)
def test_admin_script_rejects_bad_requests(sandbox: Sandbox, payload: dict[str, Any]) -> None:
    response = call(sandbox, "/_sandbox/script", json.dumps(payload).encode())
    assert (response.status, response.json()["error"]) == (400, "invalid_request")


# -- files, host, transport ------------------------------------------------------------------


def test_sample_orgs_are_the_five_demo_clients() -> None:
    keys = [org["apiKey"] for org in SAMPLE_ORGS]
    assert keys == [
        "sbx-prairie-fcu",
        "sbx-harbor-bank",
        "sbx-summit-cu",
        "sbx-lakeside-savings",
        "sbx-ridgeline-trust",
    ]
    prairie, harbor, summit, lakeside, ridgeline = SAMPLE_ORGS
    assert prairie["features"]["backgroundLocation"] is True
    assert harbor["features"]["backgroundLocation"] is False
    assert summit["features"]["locationBasedNudges"] is False and "messaging" not in summit
    assert lakeside["status"] == "suspended"
    assert ridgeline["features"] == {"locationBasedNudges": True}
    assert ridgeline["brandColor"] == "#1F6F4A" and "apps" not in ridgeline


def test_load_orgs_reads_a_valid_file_and_serves_it(tmp_path: Path) -> None:
    path = tmp_path / "orgs.json"
    path.write_text(json.dumps([{"apiKey": "k1", "organizationId": "org_1", "name": "One"}]))
    orgs = load_orgs(path)
    with Sandbox(orgs) as sandbox:
        response = get_org(sandbox, "k1", token_of(sandbox))
        assert response.json() == {"organizationId": "org_1", "name": "One"}
        assert get_org(sandbox, "sbx-summit-cu", token_of(sandbox)).status == 404


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[{",
            "not valid JSON: Expecting property name enclosed in double quotes (line 1 column 3)",
        ),
        ('{"apiKey": "k"}', "expected a JSON list of organizations, got an object"),
        (
            '[{"apiKey": "a"}, {"apiKey": "b"}, {"name": "x"}]',
            'item 3: "apiKey" must be a non-empty string',
        ),
        ('[{"apiKey": "a"}, ["b"]]', "item 2: expected an organization object, got a list"),
        ('[{"apiKey": "a"}, {"apiKey": "a"}]', 'item 2: "apiKey" repeats the one of item 1'),
        ('[{"apiKey": ""}]', 'item 1: "apiKey" must be a non-empty string'),
    ],
)
def test_load_orgs_errors_name_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "orgs.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_orgs(path)
    assert str(caught.value) == f"{path}: {problem}"
    assert caught.value.exit_code == 2 and caught.value.file == str(path)


def test_load_orgs_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: cannot read: No such file"):
        load_orgs(path)


def test_load_faults_parses_every_form(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(
        json.dumps(
            {
                "organizations": {
                    "sbx-summit-cu": [503, "reset_during", {"kind": "delay", "seconds": 0.1}],
                },
                "token": [{"kind": "status", "status": 429, "retry_after": "1"}],
            }
        )
    )
    faults = load_faults(path)
    assert faults["organizations"] == {
        "sbx-summit-cu": [Answer.status(503), Answer.reset_during(), Answer.delay(0.1)]
    }
    assert faults["token"] == [Answer.status(429, retry_after="1")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ("[]", 'expected a JSON object with "organizations" and/or "token"'),
        ('{"tokens": []}', 'expected a JSON object with "organizations" and/or "token"'),
        ('{"organizations": []}', '"organizations" must map apiKey to answers'),
        ('{"organizations": {"k": "ok"}}', '"organizations" entry 1: expected a list of answers'),
        ('{"token": [{"kind": "boom"}]}', '"token": answer 1: "kind" must be one of'),
        ('{"token": [{"kind": "status", "status": 700}]}', "answer 1: status must be an integer"),
        ('{"token": [{"kind": "delay"}]}', 'answer 1: kind "delay" needs "seconds"'),
        ('{"token": [{"kind": "hang", "seconds": 1}]}', 'answer 1: unknown key "seconds"'),
    ],
)
def test_load_faults_errors_name_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "faults.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_faults(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com", "::"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="not a loopback address"):
        Sandbox(host=host)


def test_loopback_names_and_explicit_remote_are_accepted() -> None:
    with Sandbox(host="localhost") as sandbox:
        assert sandbox.base_url.startswith("http://127.0.0.1:")
        assert token_of(sandbox)
    # Constructed only: binding every interface in a test would expose the port.
    assert isinstance(Sandbox(host="0.0.0.0", allow_remote=True), Sandbox)


def test_a_port_in_use_is_a_config_error(sandbox: Sandbox) -> None:
    port = urllib.parse.urlsplit(sandbox.base_url).port
    assert port is not None
    with pytest.raises(ConfigError, match=f"^sandbox: cannot listen on 127.0.0.1:{port}: "):
        Sandbox(port=port).start()


def test_keep_alive_serves_two_requests_on_one_connection(sandbox: Sandbox) -> None:
    token = token_of(sandbox)
    connection = connect(sandbox)
    try:
        sockets = []
        for key in ("sbx-summit-cu", "sbx-harbor-bank"):
            connection.request(
                "POST",
                "/GetOrganization",
                json.dumps({"apiKey": key}),
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Connection") is None
            assert json.loads(response.read()) == public_org(key)
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets[0] is sockets[1]
    finally:
        connection.close()


def test_200_concurrent_requests_all_succeed(sandbox: Sandbox) -> None:
    token = token_of(sandbox)
    count = 200
    barrier = threading.Barrier(count)

    def fetch(index: int) -> int:
        key = SAMPLE_ORGS[index % len(SAMPLE_ORGS)]["apiKey"]
        connection = connect(sandbox, timeout=10)
        try:
            barrier.wait()
            connection.request(
                "POST",
                "/GetOrganization",
                json.dumps({"apiKey": key}),
                {"Authorization": f"Bearer {token}"},
            )
            response = connection.getresponse()
            assert json.loads(response.read()) == public_org(key)
            return response.status
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        statuses = list(pool.map(fetch, range(count)))
    assert statuses == [200] * count
    assert time.monotonic() - started < 5  # no 1 s SYN retries from an overflowing backlog
    assert sum(sandbox.stats.org_requests.values()) == count


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_announces_the_url_serves_faults_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    orgs = tmp_path / "orgs.json"
    orgs.write_text(json.dumps([{"apiKey": "k1", "organizationId": "org_1", "name": "One"}]))
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"token": [{"kind": "status", "status": 503}]}))
    code = (
        "from nudge_build.sandbox import serve; "
        f"serve(host='127.0.0.1', port=0, orgs_file={str(orgs)!r}, faults_file={str(faults)!r}, "
        "latency_ms=0, token_ttl_minutes=60, client_id='ci-client', client_secret='hush-hush')"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            prefix = "nudge sandbox listening on http://127.0.0.1:"
            assert line.startswith(prefix) and line.endswith(" (client id: ci-client)\n"), line
            port = int(line[len(prefix) :].split(" ")[0])
            base = f"http://127.0.0.1:{port}"
            fields = {
                "grant_type": "client_credentials",
                "client_id": "ci-client",
                "client_secret": "hush-hush",
            }
            remote = Remote(base)
            assert request_token(remote, **fields).status == 503
            token = request_token(remote, **fields).json()["access_token"]
            assert get_org(remote, "k1", token).json() == {"organizationId": "org_1", "name": "One"}
        finally:
            process.send_signal(stop)
            out, err = process.communicate(timeout=5)
    assert process.returncode == 0
    assert out == "" and err == ""
    assert "hush-hush" not in line + out + err


def test_serve_stops_on_a_signal_the_kernel_delivered_to_another_thread(tmp_path: Path) -> None:
    """A process-directed signal may land on any thread; the CI job that stops the sandbox must
    not depend on it landing on the main one (it once hung a CI run this way)."""
    code = (
        "import signal, threading, time\n"
        "from nudge_build.sandbox import Sandbox\n"
        "def poke():\n"
        "    time.sleep(0.5)\n"
        "    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)\n"
        "threading.Thread(target=poke).start()\n"
        "Sandbox().serve_forever(on_ready=lambda url: print(url, flush=True))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        out, err = process.communicate(timeout=30)  # without the fix it never returns
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.startswith(b"http://127.0.0.1:")
