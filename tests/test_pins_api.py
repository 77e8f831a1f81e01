"""The API client's small rules, each pinned in-process so that a changed rule fails a test.

``test_api_rules.py`` and ``test_reliability.py`` drive the whole client against the sandbox;
these call the token bookkeeping (``TokenAuth``) and the helpers that read headers, error
bodies and tokens directly, and check the exact words a user sees when they refuse.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from nudge_build import api
from nudge_build.api import (
    MAX_REFUSED_IN_A_ROW,
    FetchResult,
    NudgeApi,
    TokenAuth,
    _error_code,
    _header_problem,
    _host,
    _proxy_in_environment,
    _Reply,
    _retry_after,
    _Token,
    backoff_delay,
    fetch_organizations,
)
from nudge_build.config import ApiConfig
from nudge_build.credentials import Credentials
from nudge_build.errors import ApiError
from nudge_build.sandbox import Answer, Sandbox
from nudge_build.secret import Secret

# -- backoff and Retry-After ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tries", "base", "bound"),
    [(1, 0.5, 0.5), (2, 0.5, 1.0), (3, 0.5, 2.0), (4, 1.0, 8.0), (9, 1.0, 30.0)],
)
def test_backoff_draws_from_zero_to_base_times_two_to_the_tries_minus_one(
    monkeypatch, tries, base, bound
):
    drawn: list[tuple[float, float]] = []
    monkeypatch.setattr(api.random, "uniform", lambda low, high: drawn.append((low, high)) or high)
    assert backoff_delay(tries, base) == bound
    assert drawn == [(0, bound)]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("7", 7.0), (" 12 ", 12.0), ("0", 0.0), ("1.5", None), ("-3", None)],
)
def test_retry_after_in_seconds_is_a_plain_ascii_number(header, seconds):
    assert _retry_after(header) == seconds


def test_retry_after_with_non_ascii_digits_is_ignored():
    assert _retry_after("\u0663") is None  # ARABIC-INDIC DIGIT THREE: isdigit(), not ASCII


def test_an_http_date_retry_after_counts_from_now_and_a_past_one_means_now():
    ahead = email.utils.formatdate(time.time() + 100, usegmt=True)
    assert 95 <= (_retry_after(ahead) or 0) <= 101
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("header", ["soon", "", "Wed, 21 Oct 2015 07:28:00 -0000"])
def test_an_unreadable_or_zoneless_retry_after_is_ignored(header):
    # "-0000" is RFC 5322's "zone unknown": parsedate_to_datetime gives a naive time.
    assert _retry_after(header) is None


# -- tokens ---------------------------------------------------------------------------------


def test_a_token_is_fresh_until_a_minute_before_expiry():
    token = _Token("t", expires_at=1000.0, lifetime=3600.0)
    assert token.fresh(939.9)
    assert not token.fresh(940.0)


def test_a_short_lived_token_is_fresh_until_a_quarter_of_its_life_before_expiry():
    token = _Token("t", expires_at=10.0, lifetime=8.0)
    assert token.fresh(7.99)
    assert not token.fresh(8.0)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("ab\ncd", "a line break (CR or LF)"),
        ("ab\rcd", "a line break (CR or LF)"),
        ("ab cd", "a space"),
        ("ab\udc80", "U+DC80, a lone surrogate"),
        ("ab\ud800", "U+D800, a lone surrogate"),
        ("ab\udfff", "U+DFFF, a lone surrogate"),
        ("ab\ue000", "a character that is not ASCII (U+E000)"),
        ("ab\x1f", "a control character (U+001F)"),
        ("ab\x00", "a control character (U+0000)"),
        ("ab\x7f", "a control character (U+007F)"),
        ("ab\x80", "a character that is not ASCII (U+0080)"),
        ("ab\xe9", "a character that is not ASCII (U+00E9)"),
    ],
)
def test_a_token_no_header_can_carry_is_named_by_code_point(token, problem):
    assert _header_problem(token) == problem


def test_every_printable_ascii_character_but_space_may_be_in_a_token():
    assert _header_problem("".join(chr(c) for c in range(0x21, 0x7F))) is None


def reply(body: bytes) -> _Reply:
    return _Reply(400, httpx.Headers(), body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<html>", "no JSON error body"),
        (b"[" * 200 + b"]" * 200, "no JSON error body"),  # too deep to decode
        (b'{"error": "invalid_grant"}', "invalid_grant"),
        (b'{"error": "a.b%2B/c=d-e_F9"}', "a.b%2B/c=d-e_F9"),
        (b'{"error": "bad code:\\n::warning::x"}', "bad?code????warning??x"),
        (b'{"error": "' + b"x" * 50 + b'"}', "x" * 40),
        (b'{"error": ""}', "no error code"),
        (b'{"error": 5}', "no error code"),
        (b'{"code": "x"}', "no error code"),
        (b'["error"]', "no error code"),
    ],
)
def test_an_error_code_keeps_only_code_characters_and_never_more_than_40(body, code):
    assert _error_code(reply(body)) == code


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@api.example:8443/v1", "api.example:8443"),
        ("https://api.example/", "api.example"),
        (None, "the API"),
        ("", "the API"),
    ],
)
def test_a_host_is_named_without_its_userinfo(url, shown):
    assert _host(url) == shown


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_variable_hands_the_run_to_httpx_transport(monkeypatch, variable):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    assert not _proxy_in_environment()
    monkeypatch.setenv(variable, "http://proxy.example:3128")
    assert _proxy_in_environment()


# -- TokenAuth --------------------------------------------------------------------------------


class Issuer:
    """Hands out tokens ``t1``, ``t2`` … (each already past its expiry when ``stale``)."""

    def __init__(self, *, stale: bool = False, delay: float = 0.0) -> None:
        self.count = 0
        self.stale = stale
        self.delay = delay
        self.failure: ApiError | None = None

    async def __call__(self) -> _Token:
        self.count += 1
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        now = time.monotonic()
        if self.stale:
            return _Token(f"t{self.count}", now - 1.0, 0.6)
        return _Token(f"t{self.count}", now + 3600.0, 3600.0)


async def exchange(auth: TokenAuth, status: int) -> str:
    """One request through the auth flow, answered ``status``; the token it carried."""
    flow = auth.async_auth_flow(httpx.Request("POST", "http://api.example/GetOrganization"))
    request = await flow.__anext__()
    with pytest.raises(StopAsyncIteration):
        await flow.asend(httpx.Response(status, request=request))
    return request.headers["Authorization"]


def test_requests_waiting_for_the_first_token_share_one_fetch():
    issuer = Issuer(delay=0.05)
    heard: list[str] = []
    auth = TokenAuth(issuer, heard.append)

    async def run() -> list[_Token]:
        return list(await asyncio.gather(*(auth.current() for _ in range(20))))

    tokens = asyncio.run(run())
    assert issuer.count == 1
    assert {t.value for t in tokens} == {"t1"}
    assert heard == ["t1"]


def test_a_failed_fetch_is_reported_to_every_waiter_without_asking_again():
    issuer = Issuer(delay=0.05)
    issuer.failure = api.CredentialsError("refused: check the secret")
    auth = TokenAuth(issuer)

    async def run() -> list[BaseException | _Token]:
        return list(
            await asyncio.gather(*(auth.current() for _ in range(5)), return_exceptions=True)
        )

    outcomes = asyncio.run(run())
    assert issuer.count == 1
    assert all(type(o) is api.CredentialsError for o in outcomes)
    assert {str(o) for o in outcomes} == {"refused: check the secret"}


def test_a_token_is_sent_as_a_bearer_header_and_kept_while_fresh():
    issuer = Issuer()
    auth = TokenAuth(issuer)

    async def run() -> list[str]:
        return [await exchange(auth, 200) for _ in range(3)]

    assert asyncio.run(run()) == ["Bearer t1"] * 3
    assert issuer.count == 1


def test_an_expired_token_serves_one_request_then_is_refreshed():
    issuer = Issuer(stale=True)
    auth = TokenAuth(issuer)

    async def run() -> list[str]:
        return [await exchange(auth, 200) for _ in range(3)]

    assert asyncio.run(run()) == ["Bearer t1", "Bearer t2", "Bearer t3"]


def test_tokens_that_expire_at_once_end_the_run_at_the_fourth_refresh():
    issuer = Issuer(stale=True)
    auth = TokenAuth(issuer)

    async def run() -> list[str]:
        sent = []
        with pytest.raises(ApiError) as caught:
            while True:
                sent.append(await exchange(auth, 200))
        sent.append(str(caught.value))
        return sent

    *sent, message = asyncio.run(run())
    assert sent == ["Bearer t1", "Bearer t2", "Bearer t3", "Bearer t4"]
    assert message == (
        "the token endpoint issues tokens that expire at once (4 tokens within 60 s, "
        "expires_in = 0.01 minutes); not asking for more"
    )


def test_a_401_sets_the_token_aside_and_the_next_request_gets_a_new_one():
    issuer = Issuer()
    auth = TokenAuth(issuer)

    async def run() -> list[str]:
        return [await exchange(auth, 401), await exchange(auth, 200), await exchange(auth, 200)]

    assert asyncio.run(run()) == ["Bearer t1", "Bearer t2", "Bearer t2"]


def test_a_401_for_a_token_already_replaced_changes_nothing():
    issuer = Issuer()
    auth = TokenAuth(issuer)

    async def run() -> tuple[int, str]:
        first = await auth.current()
        auth.refuse(first)
        second = await auth.current()
        auth.refuse(first)  # a late answer for the old token
        third = await auth.current()
        return issuer.count, f"{second.value} {third.value}"

    assert asyncio.run(run()) == (2, "t2 t2")


def test_an_api_that_accepts_no_token_ends_the_run_after_ten_refused_in_a_row():
    issuer = Issuer()
    auth = TokenAuth(issuer)

    async def run() -> str:
        with pytest.raises(ApiError) as caught:
            while True:
                await exchange(auth, 401)
        return str(caught.value)

    message = asyncio.run(run())
    assert issuer.count == MAX_REFUSED_IN_A_ROW
    assert message == (
        f"the API refused {MAX_REFUSED_IN_A_ROW} fresh tokens in a row (401) without "
        "accepting any; not asking the token endpoint for more"
    )


def test_a_token_accepted_once_restarts_the_count_of_refusals():
    issuer = Issuer()
    auth = TokenAuth(issuer)

    async def run() -> int:
        for _ in range(MAX_REFUSED_IN_A_ROW - 1):
            await exchange(auth, 401)
        await exchange(auth, 200)  # this token was accepted …
        for _ in range(MAX_REFUSED_IN_A_ROW):  # … so these refusals count from zero: 0 to 9
            await exchange(auth, 401)
        await exchange(auth, 200)
        return issuer.count

    assert asyncio.run(run()) == 2 * MAX_REFUSED_IN_A_ROW


def test_the_sync_flow_is_refused():
    with pytest.raises(RuntimeError) as caught:
        TokenAuth(Issuer()).sync_auth_flow(httpx.Request("GET", "http://api.example/"))
    assert str(caught.value) == "TokenAuth is for the async client only"


# -- NudgeApi's own words -------------------------------------------------------------------

CREDENTIALS = Credentials("pins-client", Secret("pins-secret-value"))


def session(**settings: object) -> NudgeApi:
    config = ApiConfig(**{"base_url": "http://127.0.0.1:9/api/v2", **settings})  # type: ignore[arg-type]
    return NudgeApi(config, CREDENTIALS)


def test_no_base_url_is_refused_with_where_to_set_it():
    with pytest.raises(ApiError) as caught:
        NudgeApi(ApiConfig(base_url=None), CREDENTIALS)
    assert str(caught.value) == "no API URL: set [api].base_url in the config or NUDGE_API_URL"


def test_calls_are_named_by_method_and_path_under_the_base_url():
    async def run() -> tuple[str, str]:
        async with session() as client:
            return client._token_call, client._org_call

    assert asyncio.run(run()) == ("POST /api/v2/oauth2/token", "POST /api/v2/GetOrganization")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError(), "no complete answer within 2.5 s ([api].timeout)"),
        (httpx.ReadTimeout("x"), "no complete answer within 2.5 s ([api].timeout)"),
        (httpx.ConnectError("x"), "cannot connect to 127.0.0.1:9"),
        (httpx.RemoteProtocolError("x"), "connection closed or reset mid-answer"),
        (httpx.ReadError("x"), "connection closed or reset mid-answer"),
        (httpx.WriteError("x"), "connection closed or reset mid-answer"),
        (httpx.DecodingError("x"), "an answer whose content encoding does not decode"),
        (httpx.UnsupportedProtocol("x"), "network error (UnsupportedProtocol)"),
    ],
)
def test_a_transport_failure_is_named_by_its_kind_only(exc, reason):
    async def run() -> str:
        async with session(timeout=2.5) as client:
            return client._transport_reason(exc)

    assert asyncio.run(run()) == reason


def test_a_wait_past_the_deadline_is_refused_with_the_time_left():
    async def run() -> str:
        async with session(deadline=5.0) as client:
            with pytest.raises(api._GiveUp) as caught:
                await client._sleep(30.0, what="client c: POST /x", reason="HTTP 503")
            return str(caught.value)

    message = asyncio.run(run())
    assert message.startswith(
        "client c: POST /x: HTTP 503; a retry in 30.0 s would pass the run's deadline "
        "([api].deadline = 5 s, "
    )
    assert message.endswith(" s left); not waiting")
    left = float(message.split(", ")[-1].split(" s left")[0])
    assert 4.0 <= left <= 5.0


def test_a_wait_longer_than_the_time_left_is_refused_and_a_shorter_one_is_taken():
    async def run() -> tuple[str, float]:
        async with session(deadline=0.3) as client:
            with pytest.raises(api._GiveUp) as caught:
                await client._sleep(client.remaining() + 0.01, what="w", reason="r")
            started = time.monotonic()
            await client._sleep(0.05, what="w", reason="r")
            return str(caught.value), time.monotonic() - started

    # A handler on the module's own logger: CLI tests elsewhere may stop it propagating.
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("nudge_build.api")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        message, waited = asyncio.run(run())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert waited >= 0.05
    assert float(message.split(", ")[-1].split(" s left")[0]) < 0.5
    assert [r.getMessage() for r in records] == ["w: r; retrying in 0.05 s"]


def test_the_deadline_message_names_the_setting():
    async def run() -> str:
        async with session(deadline=12.5) as client:
            return client._deadline_passed("client c: POST /GetOrganization")

    assert asyncio.run(run()) == (
        "client c: POST /GetOrganization: the run's deadline of 12.5 s ([api].deadline) "
        "passed before it finished"
    )


# -- whole requests against the sandbox, in this process ------------------------------------

SUMMIT_KEY = "sbx-summit-cu"


@pytest.fixture(scope="module")
def live() -> Iterator[Sandbox]:
    with Sandbox(client_id="pins-client", client_secret="pins-secret-value") as running:
        yield running


def fetch(live: Sandbox, **settings: object) -> FetchResult:
    live.reset_stats()
    config = ApiConfig(
        **{"base_url": live.base_url, "retry_backoff": 0.001, "deadline": 20.0, **settings}  # type: ignore[arg-type]
    )
    results = fetch_organizations(config, CREDENTIALS, [("summit-cu", SUMMIT_KEY)])
    assert [r.client for r in results] == ["summit-cu"]
    return results[0]


def fetch_error(live: Sandbox, **settings: object) -> str:
    result = fetch(live, **settings)
    assert result.organization is None and result.error is not None
    return result.error


def test_an_api_key_may_be_given_as_a_secret(live):
    config = ApiConfig(base_url=live.base_url)
    [result] = fetch_organizations(config, CREDENTIALS, [("summit-cu", Secret(SUMMIT_KEY))])
    assert result.error is None and result.organization is not None


def test_an_answer_cut_inside_a_character_is_quoted_with_a_replacement(live):
    live.script(SUMMIT_KEY, [Answer.malformed("x" * 39 + "é and more text after it")])
    assert fetch_error(live).endswith(f"; it starts '{'x' * 39}\ufffd')")


def test_an_organization_is_fetched_with_either_way_of_sending_the_secret(live):
    for token_auth in ("body", "basic"):
        result = fetch(live, token_auth=token_auth)
        assert result.error is None and result.organization is not None
        assert live.stats.token_requests == 1


def test_progress_hears_of_every_client_as_it_finishes(live):
    heard: list[FetchResult] = []
    config = ApiConfig(base_url=live.base_url)
    keys = [("summit-cu", SUMMIT_KEY), ("nobody", "sbx-nobody")]
    results = fetch_organizations(config, CREDENTIALS, keys, progress=heard.append)
    assert sorted(r.client for r in heard) == ["nobody", "summit-cu"]
    assert sorted(heard, key=lambda r: r.client) == sorted(results, key=lambda r: r.client)


def test_an_unknown_organization_is_named_as_not_found(live):
    live.script(SUMMIT_KEY, [Answer.status(404)])
    assert fetch_error(live) == (
        "client summit-cu: organization not found (POST /GetOrganization answered 404)"
    )


def test_a_second_401_fails_the_client_naming_the_error_code(live):
    live.script(SUMMIT_KEY, [Answer.status(401, body={"error": "expired"})] * 2)
    assert fetch_error(live) == (
        "client summit-cu: POST /GetOrganization answered 401 again after a fresh token (expired)"
    )
    assert live.stats.token_requests == 2


def test_another_status_is_named_with_its_error_code(live):
    live.script(SUMMIT_KEY, [Answer.status(418, body={"error": "teapot"})])
    assert fetch_error(live) == "client summit-cu: POST /GetOrganization answered 418 (teapot)"


def test_a_server_error_is_retried_until_the_retries_run_out(live):
    live.script(SUMMIT_KEY, [Answer.status(500)] * 3)
    assert fetch_error(live, max_retries=2) == (
        "client summit-cu: POST /GetOrganization: HTTP 500 (gave up after 3 attempts)"
    )
    assert live.stats.org_requests == {SUMMIT_KEY: 3}


@pytest.mark.parametrize("status", [400, 409, 499, 600 - 1])
def test_a_client_error_is_final_and_a_5xx_is_retried(live, status):
    live.script(SUMMIT_KEY, [Answer.status(status)])
    result = fetch(live, max_retries=1)
    retried = status >= 500
    assert (result.error is None) == retried
    assert live.stats.org_requests == {SUMMIT_KEY: 2 if retried else 1}


def test_a_retry_after_longer_than_allowed_is_not_waited_for(live):
    live.script(SUMMIT_KEY, [Answer.status(429, retry_after="120")])
    assert fetch_error(live, max_retry_after=60.0) == (
        "client summit-cu: POST /GetOrganization: HTTP 429 asks to retry after 120 s, longer "
        "than [api].max_retry_after (60 s); not waiting"
    )


def test_a_retry_after_as_long_as_allowed_is_waited_for(live):
    live.script(SUMMIT_KEY, [Answer.status(503, retry_after="1")])
    assert fetch(live, max_retry_after=1.0).error is None


def test_an_answer_that_is_not_json_is_named_with_its_first_characters(live):
    live.script(SUMMIT_KEY, [Answer.malformed("<html>\nbusy</html>")])
    error = fetch_error(live)
    assert error.startswith("client summit-cu: POST /GetOrganization: the answer is not JSON (")
    assert error.endswith("; it starts '<html> busy</html>')")


def test_a_lost_connection_is_retried_then_named(live):
    live.script(SUMMIT_KEY, [Answer.reset_before()] * 2)
    assert fetch_error(live, max_retries=1) == (
        "client summit-cu: POST /GetOrganization: connection closed or reset mid-answer "
        "(gave up after 2 attempts)"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer.status(403, body={"error": "nope"}), "POST /oauth2/token answered 403 (nope)"),
        (Answer.malformed("not json"), "POST /oauth2/token: the answer is not JSON"),
        (Answer.replace("token_type", "mac"), "token response: token_type is not Bearer"),
        (
            Answer.replace("access_token", ""),
            "token response: access_token is missing or not a string",
        ),
        (
            Answer.replace("expires_in", 0),
            "token response: expires_in (minutes) is missing or not a positive number",
        ),
        (
            Answer.replace("expires_in", True),
            "token response: expires_in (minutes) is missing or not a positive number",
        ),
        (
            Answer.replace("access_token", "a b"),
            "token response: the access token contains a space, which an HTTP header cannot "
            "carry; not using it",
        ),
        (Answer.malformed("[1]"), "POST /oauth2/token: the answer is not a JSON object"),
    ],
)
def test_a_token_answer_that_cannot_be_used_fails_the_run(live, answer, message):
    live.script_token([answer])
    with pytest.raises(ApiError) as caught:
        fetch(live)
    assert str(caught.value) == message
    assert type(caught.value) is ApiError


@pytest.mark.parametrize(
    "answer", [Answer.status(401), Answer.status(400, body={"error": "invalid_client"})]
)
def test_refused_credentials_name_where_they_came_from(live, answer):
    live.script_token([answer])
    with pytest.raises(api.CredentialsError) as caught:
        fetch(live)
    assert str(caught.value).startswith("POST /oauth2/token refused the client credentials (")
    assert str(caught.value).endswith("): check the client id and secret")


def test_a_token_endpoint_that_keeps_failing_is_retried_then_named(live):
    live.script_token([Answer.status(503)] * 2)
    with pytest.raises(ApiError) as caught:
        fetch(live, max_retries=1)
    assert str(caught.value) == "POST /oauth2/token: HTTP 503 (gave up after 2 attempts)"


@pytest.mark.parametrize(
    "answer",
    [
        Answer.replace("token_type", "bearer"),
        Answer.without("token_type"),
        Answer.replace("expires_in", 1),
        Answer.replace("expires_in", 0.5),
    ],
)
def test_a_usable_token_answer_is_used(live, answer):
    live.script_token([answer])
    assert fetch(live).error is None


def test_a_token_answer_nested_too_deep_is_not_decoded(live):
    live.script_token([Answer.malformed("[" * 300 + "]" * 300)])
    with pytest.raises(ApiError) as caught:
        fetch(live)
    assert str(caught.value).startswith("POST /oauth2/token: answer nested deeper than ")


# -- what goes out with the token request ----------------------------------------------------


def token_request(token_auth: str) -> tuple[httpx.Request, _Token, float, float]:
    """One token fetch through a transport that keeps the request and answers 2 minutes."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # A stream, not content: the client reads answers chunk by chunk.
        body = b'{"access_token": "pins-token", "token_type": "Bearer", "expires_in": 2}'
        return httpx.Response(200, stream=httpx.ByteStream(body))

    config = ApiConfig(base_url="http://127.0.0.1:9/api/v2", token_auth=token_auth)  # type: ignore[arg-type]

    async def go() -> tuple[_Token, float, float]:
        transport = httpx.MockTransport(answer)
        async with NudgeApi(config, CREDENTIALS, transport=transport) as client:
            before = time.monotonic()
            token = await client._fetch_token()
            return token, before, time.monotonic()

    token, before, after = asyncio.run(go())
    [request] = seen
    return request, token, before, after


def test_the_secret_goes_as_basic_auth_or_in_the_body_as_configured():
    request, _, _, _ = token_request("basic")
    basic = httpx.BasicAuth("pins-client", "pins-secret-value")
    [signed] = basic.auth_flow(httpx.Request("POST", request.url))
    assert request.headers["Authorization"] == signed.headers["Authorization"]
    assert dict(httpx.QueryParams(request.content.decode())) == {"grant_type": "client_credentials"}
    request, _, _, _ = token_request("body")
    assert "Authorization" not in request.headers
    assert dict(httpx.QueryParams(request.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": "pins-client",
        "client_secret": "pins-secret-value",
    }


def test_requests_name_the_tool_and_ask_only_for_codings_it_can_inflate():
    request, _, _, _ = token_request("body")
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/api/v2/oauth2/token"
    assert request.headers["User-Agent"] == f"nudge-build/{api.__version__}"
    assert request.headers["Accept-Encoding"] == api.ACCEPT_ENCODING
    # Nothing else: httpx's own Accept-Encoding can equal ours (no brotli, no zstd installed),
    # so only the exact set of names shows that ours replaced it.
    assert sorted(request.headers.keys()) == [
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
    ]


def test_expires_in_is_minutes_counted_from_when_the_token_was_asked_for():
    _, token, before, after = token_request("body")
    assert token.value == "pins-token"
    assert token.lifetime == 120.0
    assert before + 120.0 <= token.expires_at <= after + 120.0


def test_the_run_token_is_handed_to_on_token_once_so_it_can_be_masked(live):
    seen: list[str] = []
    config = ApiConfig(base_url=live.base_url)
    [result] = fetch_organizations(
        config, CREDENTIALS, [("summit-cu", SUMMIT_KEY)], on_token=seen.append
    )
    assert result.error is None and result.organization is not None
    assert len(seen) == 1 and seen[0]


# -- caps, waits and timeouts, against the sandbox --------------------------------------------


def test_an_answer_over_the_size_cap_fails_the_client_naming_the_setting(live):
    live.script(SUMMIT_KEY, [Answer.malformed("x" * 2000)])
    assert fetch_error(live, max_response_bytes=1024) == (
        "client summit-cu: POST /GetOrganization: answer larger than 1024 bytes "
        "([api].max_response_bytes); not reading the rest"
    )


def test_an_organization_answer_nested_too_deep_is_named_with_the_call(live):
    live.script(SUMMIT_KEY, [Answer.malformed("[" * 300 + "]" * 300)])
    assert fetch_error(live) == (
        "client summit-cu: POST /GetOrganization: answer nested deeper than 64 levels; "
        "not decoding it"
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer.reset_before(), "connection closed or reset mid-answer"),
        (Answer.status(500), "HTTP 500"),
    ],
    ids=["transport", "status"],
)
def test_a_backoff_past_the_deadline_names_the_call_and_what_failed(
    live, monkeypatch, answer, reason
):
    monkeypatch.setattr(api.random, "uniform", lambda low, high: high)  # the longest wait
    live.script(SUMMIT_KEY, [answer])
    error = fetch_error(live, retry_backoff=100.0, deadline=20.0)
    assert error.startswith(
        f"client summit-cu: POST /GetOrganization: {reason}; a retry in 30.0 s would pass the "
        "run's deadline ([api].deadline = 20 s, "
    )
    assert error.endswith(" s left); not waiting")


def test_a_trickling_token_answer_is_cut_off_by_the_timeout(live):
    # Each byte comes well within the timeout: only a bound on the whole attempt stops it.
    live.script_token([Answer.trickle(interval_s=0.02)])
    with pytest.raises(ApiError) as caught:
        fetch(live, timeout=0.3, max_retries=0)
    assert str(caught.value) == (
        "POST /oauth2/token: no complete answer within 0.3 s ([api].timeout) "
        "(gave up after 1 attempts)"
    )


def test_a_trickling_organization_answer_is_cut_off_by_the_timeout(live):
    live.script(SUMMIT_KEY, [Answer.trickle(interval_s=0.02)])
    assert fetch_error(live, timeout=0.3, max_retries=0) == (
        "client summit-cu: POST /GetOrganization: no complete answer within 0.3 s "
        "([api].timeout) (gave up after 1 attempts)"
    )


# -- answers the sandbox cannot give, through a transport in this process -------------------

TOKEN_BODY = b'{"access_token": "pins-token", "token_type": "Bearer", "expires_in": 2}'


def mock_fetch(org: Callable[[httpx.Request], httpx.Response], **settings: object) -> str:
    """GetOrganization for one client through ``org`` (the token is always given); its error."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            return httpx.Response(200, stream=httpx.ByteStream(TOKEN_BODY))
        return org(request)

    config = ApiConfig(
        **{"base_url": "http://127.0.0.1:9/api/v2", "retry_backoff": 0.001, **settings}  # type: ignore[arg-type]
    )

    async def go() -> list[FetchResult]:
        async with NudgeApi(config, CREDENTIALS, transport=httpx.MockTransport(answer)) as client:
            return await client.fetch_many([("c", "k")])

    [result] = asyncio.run(go())
    assert result.error is not None
    return result.error


def test_a_status_past_599_is_final_not_retried():
    seen: list[httpx.Request] = []

    def org(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(600, stream=httpx.ByteStream(b""))

    assert mock_fetch(org, max_retries=1) == (
        "client c: POST /api/v2/GetOrganization answered 600 (no JSON error body)"
    )
    assert len(seen) == 1


def test_a_redirect_is_an_answer_and_is_not_followed():
    # Following it would send the API key to wherever the Location points.
    seen: list[str] = []

    def org(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        headers = {"Location": "http://127.0.0.1:9/elsewhere"}
        return httpx.Response(302, headers=headers, stream=httpx.ByteStream(b""))

    assert mock_fetch(org) == (
        "client c: POST /api/v2/GetOrganization answered 302 (no JSON error body)"
    )
    assert seen == ["/api/v2/GetOrganization"]


# -- how the session is set up ----------------------------------------------------------------


def test_the_session_uses_its_own_pool_and_the_configured_timeout(monkeypatch):
    # Reads httpx's and httpcore's private attributes on purpose: seeing the pool bound or the
    # 5 s default through behaviour costs seconds per run, and these tests run once per mutant.
    # An httpx upgrade that renames them fails here, which is the moment to look again.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)

    async def run() -> tuple[object, httpx.Timeout]:
        async with session(concurrency=3, timeout=7.5) as client:
            return client._client._transport, client._client.timeout

    transport, timeout = asyncio.run(run())
    # One connection per concurrent request, and one spare for the token endpoint.
    assert isinstance(transport, api.PoolTransport)
    assert transport._max_connections == 4
    assert timeout == httpx.Timeout(7.5)


def test_behind_a_proxy_httpx_pool_is_bounded_like_the_runs_own(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")

    async def run() -> tuple[int, int]:
        async with session(concurrency=30) as client:
            transport = client._client._transport
            assert isinstance(transport, httpx.AsyncHTTPTransport)
            pool = transport._pool
            return pool._max_connections, pool._max_keepalive_connections

    assert asyncio.run(run()) == (31, 31)  # not httpx's 100 connections, 20 kept alive


def test_a_hung_token_endpoint_ends_the_run_at_the_deadline(live):
    live.script_token([Answer.hang()])
    with pytest.raises(ApiError) as caught:
        fetch(live, deadline=0.5, timeout=3.0, max_retries=0)
    assert str(caught.value) == (
        "POST /oauth2/token: the run's deadline of 0.5 s ([api].deadline) passed before it finished"
    )


def test_a_hung_organization_answer_fails_the_client_at_the_deadline(live):
    live.script(SUMMIT_KEY, [Answer.hang()])
    assert fetch_error(live, deadline=0.5, timeout=3.0, max_retries=0) == (
        "client summit-cu: POST /GetOrganization: the run's deadline of 0.5 s ([api].deadline) "
        "passed before it finished"
    )
