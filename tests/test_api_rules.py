"""The API client's token and retry rules, each pinned so that a program without it fails.

Real HTTP to a sandbox on loopback through the real CLI, as in ``test_reliability.py``, whose
project factory (with its scan of every run for secrets) and wait recorder these tests share.
Waits are asserted on what the client chose (exact), the server's clock only for "at least".
"""

from __future__ import annotations

import email.utils
import math
import os
import time
from collections.abc import Callable, Iterator

import pytest

from nudge_build.sandbox import Answer
from tests.helpers import SAMPLE_KEYS
from tests.reliability_helpers import generated_orgs
from tests.test_reliability import MakeProject, Waits, project_factory, spy_on_waits

SUMMIT = SAMPLE_KEYS["summit-cu"]


@pytest.fixture
def make_project(tmp_path) -> Iterator[MakeProject]:
    with project_factory(tmp_path) as make:
        yield make


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    return spy_on_waits(monkeypatch)


# -- the token -----------------------------------------------------------------------------------


def test_requests_after_the_token_expired_share_one_refresh(make_project):
    # Tokens live 2 s. Every client's first answer sends it back after 3 s, when the token has
    # expired: twenty requests need a new one at once. The refresh is slow (0.5 s), so all of
    # them are waiting for it; each must find the new token when its turn comes, not fetch
    # another (which is what it would do without the second look inside the lock).
    orgs = generated_orgs(20)
    project = make_project(orgs=orgs, token_ttl_minutes=2 / 60, api={"concurrency": 20})
    project.sandbox.script_token([Answer.ok(), Answer.delay(0.5)])
    for org in orgs.values():
        project.sandbox.script(org["apiKey"], [Answer.status(503, retry_after="3")])
    run = project.run("build")
    assert run.code == 0, run.stderr
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.tokens_issued) == (2, 2)  # one refresh for twenty
    assert stats.unauthorized == 0  # nobody sent the expired token
    assert set(stats.org_requests.values()) == {2}
    first_token, refresh = stats.token_request_times
    assert refresh - first_token >= 3.0  # the refresh came when the retries did
    assert min(times[1] for times in stats.org_request_times.values()) > refresh


def test_expires_in_counts_minutes_not_seconds(make_project, waits):
    # expires_in = 1: a token good for a minute. Read as seconds it would be stale after the
    # one-second wait below, and a second token would be fetched.
    project = make_project(token_ttl_minutes=1)
    project.sandbox.script(SUMMIT, [Answer.status(503, retry_after="1")])
    run = project.run("build")
    assert run.code == 0, run.stderr
    assert waits.of("summit-cu") == [1.0]
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.tokens_issued, stats.unauthorized) == (1, 1, 0)


@pytest.mark.parametrize(
    "answer",
    [
        Answer.replace("expires_in", 0),
        Answer.replace("expires_in", -5),
        Answer.replace("expires_in", "60"),
        Answer.replace("expires_in", True),
        Answer.without("expires_in"),
    ],
    ids=["zero", "negative", "text", "boolean", "missing"],
)
def test_a_token_without_a_positive_lifetime_is_refused(make_project, answer):
    project = make_project()
    project.sandbox.script_token([answer])
    run = project.run("build")
    assert run.code == 3
    assert (
        "error: token response: expires_in (minutes) is missing or not a positive number"
        in run.stderr
    )
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.org_requests) == (1, {})
    assert not project.out.exists()


def test_400_invalid_client_is_a_credentials_error(make_project):
    # RFC 6749 5.2 lets a token endpoint answer a bad client with 400 as well as 401: the code
    # decides, and it is fatal for the run, not retried.
    project = make_project()
    project.sandbox.script_token([Answer.status(400, body={"error": "invalid_client"})])
    run = project.run("build")
    assert run.code == 3
    assert (
        "error: POST /oauth2/token refused the client credentials (400 invalid_client): check "
        "the client id and secret in NUDGE_CLIENT_ID and NUDGE_CLIENT_SECRET" in run.stderr
    )
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.org_requests) == (1, {})


def test_400_with_another_code_is_not_called_a_credentials_error(make_project):
    project = make_project()
    project.sandbox.script_token([Answer.status(400, body={"error": "invalid_request"})])
    run = project.run("build")
    assert run.code == 3
    assert "error: POST /oauth2/token answered 400 (invalid_request)" in run.stderr
    assert "refused the client credentials" not in run.stderr
    assert project.sandbox.stats.token_requests == 1


def test_a_401_and_its_refresh_do_not_use_up_a_retry(make_project, waits):
    # One retry allowed: the 401 is answered by a new token, the 500 by the one retry.
    project = make_project(api={"max_retries": 1})
    project.sandbox.script(SUMMIT, [Answer.status(401), Answer.status(500)])
    run = project.run("build")
    assert run.code == 0, run.stderr
    stats = project.sandbox.stats
    assert stats.org_requests[SUMMIT] == 3
    assert stats.tokens_issued == 2
    assert [(tries, base) for tries, base, _ in waits.drawn] == [(1, 0.05)]


# -- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_on_429_and_503(make_project, waits, status):
    project = make_project()
    project.sandbox.script(SUMMIT, [Answer.status(status, retry_after="1")])
    run = project.run("build")
    assert run.code == 0, run.stderr
    assert waits.of("summit-cu") == [1.0]
    assert waits.drawn[0][:2] == (1, 0.05)  # drawn, then overruled by the server's word
    first, second = project.sandbox.stats.org_request_times[SUMMIT]
    assert second - first >= 1.0


@pytest.mark.parametrize("status", [500, 502, 504])
def test_retry_after_on_other_statuses_is_ignored_for_the_backoff(make_project, waits, status):
    # Were it honoured, 30 s would pass the 20 s deadline and fail the client at once.
    project = make_project(api={"deadline": 20.0})
    project.sandbox.script(SUMMIT, [Answer.status(status, retry_after="30")])
    run = project.run("build")
    assert run.code == 0, run.stderr
    [(tries, base, drawn)] = waits.drawn
    assert (tries, base) == (1, 0.05) and 0 <= drawn <= 0.05
    assert waits.of("summit-cu") == [drawn]


@pytest.fixture
def local_time_zone() -> Iterator[Callable[[str], None]]:
    """``local_time_zone(zone)`` sets TZ for the process (a POSIX spelling needs no tz
    database); the zone the tests started with is back afterwards."""
    before = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("zone", ["JST-9", "HST10"], ids=["utc+9", "utc-10"])
def test_an_http_date_retry_after_is_read_as_utc_whatever_the_local_zone(
    make_project, waits, local_time_zone, zone
):
    # Read as local time, the date would lie 9 hours in the past (no wait at all) or 10 hours
    # ahead (past max_retry_after: the client fails).
    local_time_zone(zone)
    assert time.localtime().tm_gmtoff != 0
    project = make_project()
    when = math.ceil(time.time()) + 2  # an HTTP-date has whole seconds
    wall_minus_monotonic = time.time() - time.monotonic()
    retry_after = email.utils.formatdate(when, usegmt=True)
    assert retry_after.endswith(" GMT")
    project.sandbox.script(SUMMIT, [Answer.status(503, retry_after=retry_after)])
    started = time.time()
    run = project.run("build")
    assert run.code == 0, run.stderr
    [delay] = waits.of("summit-cu")
    assert 0 < delay <= when - started
    _, second = project.sandbox.stats.org_request_times[SUMMIT]
    assert second + wall_minus_monotonic >= when - 0.02  # it waited until then
