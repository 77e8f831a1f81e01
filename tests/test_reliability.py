"""The API client against a misbehaving server: retries, rate limits, tokens, deadlines, partial
failure (DESIGN.md "Reliability rules", RELIABILITY.md rows 1-13).

Everything goes over real HTTP to a sandbox on loopback, through the real CLI. Every test's runs
are also scanned for secrets when it ends (the ``project`` fixture).
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import statistics
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nudge_build import api as api_module
from nudge_build.api import NudgeApi, backoff_delay
from nudge_build.sandbox import Answer, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS
from tests.reliability_helpers import (
    Project,
    generated_orgs,
    leaks,
    lock_section,
    run_blobs,
    secrets_of,
)

SUMMIT = SAMPLE_KEYS["summit-cu"]
MakeProject = Callable[..., Project]


@contextlib.contextmanager
def project_factory(tmp_path: Path) -> Iterator[MakeProject]:
    """``make(orgs=…, latency_ms=…, api={…}, …)``: a sandbox and a project using it.

    When the block ends, every stream and file of its runs is scanned for the client secret,
    the API keys and every token the sandbox issued.
    """
    made: list[Project] = []
    sandboxes: list[Sandbox] = []

    def make(
        *,
        orgs: dict[str, dict[str, Any]] | None = None,
        keys: dict[str, str] | None = None,
        api: dict[str, Any] | None = None,
        stock: tuple[str, ...] = ("ios",),
        **sandbox_options: Any,
    ) -> Project:
        org_list = None if orgs is None else list(orgs.values())
        sandbox = Sandbox(
            org_list, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **sandbox_options
        ).start()
        sandboxes.append(sandbox)
        if keys is None:
            keys = dict(SAMPLE_KEYS) if orgs is None else {c: o["apiKey"] for c, o in orgs.items()}
        root = tmp_path / f"project{len(made) + 1}"
        root.mkdir()
        project = Project(root, sandbox, keys, api=api or {}, stock=stock)
        made.append(project)
        return project

    try:
        yield make
        for project in made:
            found = list(leaks(run_blobs(project), *secrets_of(project)))
            assert not found, f"secrets leaked: {found}"
    finally:
        for sandbox in sandboxes:
            sandbox.stop()


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[MakeProject]:
    with project_factory(tmp_path) as make:
        yield make


@dataclass(frozen=True)
class Wait:
    what: str  # e.g. "client summit-cu: POST /GetOrganization"
    reason: str  # e.g. "HTTP 503"
    delay: float


@dataclass
class Waits:
    """What the API client chose to wait, and what ``backoff_delay`` drew, in order."""

    slept: list[Wait] = field(default_factory=list)
    drawn: list[tuple[int, float, float]] = field(default_factory=list)  # (tries, base, delay)

    def of(self, client: str) -> list[float]:
        return [w.delay for w in self.slept if w.what == f"client {client}: POST /GetOrganization"]


def spy_on_waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    """Record every wait the client takes and every backoff it draws; both still happen.

    These are spies, not mocks: the real ``backoff_delay`` draws and the real ``_sleep``
    waits. Seen from the server, a wait is mixed with the machine's load (which only ever adds
    to it); the chosen delay is exact, so tests assert on it and use the server's clock only
    for "waited at least this long".
    """
    waits = Waits()
    draw, sleep = api_module.backoff_delay, NudgeApi._sleep

    def drawing(tries: int, base: float) -> float:
        delay = draw(tries, base)
        waits.drawn.append((tries, base, delay))
        return delay

    async def sleeping(self: NudgeApi, delay: float, *, what: str, reason: str) -> None:
        await sleep(self, delay, what=what, reason=reason)  # raises if it would not wait
        waits.slept.append(Wait(what, reason, delay))

    monkeypatch.setattr(api_module, "backoff_delay", drawing)
    monkeypatch.setattr(NudgeApi, "_sleep", sleeping)
    return waits


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    return spy_on_waits(monkeypatch)


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def failed_clients(stdout: str) -> str:
    """The summary line naming the failed clients (each failure's own line is on stderr)."""
    return next(line for line in stdout.splitlines() if "client(s) failed" in line)


# -- retries: Retry-After, backoff, what is not retried ---------------------------------------


def test_429_with_retry_after_seconds_waits_at_least_that_long_then_succeeds(make_project, waits):
    project = make_project()
    project.sandbox.script(SUMMIT, [Answer.status(429, retry_after="1")])
    run = project.run("build")
    assert run.code == 0, run.stderr
    assert waits.of("summit-cu") == [1.0]  # what the server asked, not a backoff
    times = project.sandbox.stats.org_request_times[SUMMIT]
    assert len(times) == 2
    assert times[1] - times[0] >= 1.0
    assert (project.out / "summit-cu" / "ios" / "Nudge.xcconfig").is_file()


def test_429_with_retry_after_as_an_http_date_waits_until_then(make_project):
    project = make_project()
    # One to two seconds ahead, on a whole second: an HTTP-date has no fractions.
    when = math.ceil(time.time()) + 1
    wall_minus_monotonic = time.time() - time.monotonic()
    project.sandbox.script(
        SUMMIT, [Answer.status(429, retry_after=email.utils.formatdate(when, usegmt=True))]
    )
    run = project.run("build")
    assert run.code == 0, run.stderr
    first, second = project.sandbox.stats.org_request_times[SUMMIT]
    assert second + wall_minus_monotonic >= when - 0.02
    assert second - first > 0.0


def test_retry_after_as_a_date_in_the_past_means_now(make_project, waits):
    project = make_project()
    project.sandbox.script(
        SUMMIT, [Answer.status(503, retry_after="Thu, 01 Jan 1970 00:00:00 GMT")]
    )
    run = project.run("build")
    assert run.code == 0, run.stderr
    assert waits.of("summit-cu") == [0.0]


@pytest.mark.parametrize(
    "value",
    ["soon", "-1", "1.5", "\u00b2", "Mon, 99 Foo 2026", "Thu, 01 Jan 2099 00:00:00 -0000"],
    ids=["word", "negative", "fraction", "unicode-digit", "bad-date", "date-in-no-time-zone"],
)
def test_unreadable_retry_after_retries_after_the_backoff(make_project, waits, value):
    project = make_project()
    project.sandbox.script(SUMMIT, [Answer.status(503, retry_after=value)])
    run = project.run("build")
    assert run.code == 0, run.stderr
    # The one wait is the backoff's draw (0 to 0.05 s), not some misread Retry-After.
    [(tries, base, drawn)] = waits.drawn
    assert (tries, base) == (1, 0.05) and 0 <= drawn <= 0.05
    assert waits.of("summit-cu") == [drawn]


def test_500_502_then_200_succeeds_on_the_third_attempt(make_project):
    project = make_project()
    project.sandbox.script(SUMMIT, [Answer.status(500), Answer.status(502)])
    run = project.run("build")
    assert run.code == 0, run.stderr
    stats = project.sandbox.stats
    assert stats.org_requests[SUMMIT] == 3
    assert all(count == 1 for key, count in stats.org_requests.items() if key != SUMMIT)


def test_backoff_between_retries_is_exponential_with_full_jitter(make_project, waits):
    orgs = generated_orgs(20)
    project = make_project(orgs=orgs, api={"retry_backoff": 0.2, "concurrency": 20})
    for org in orgs.values():
        project.sandbox.script(org["apiKey"], [Answer.status(500), Answer.status(502)])
    run = project.run("build")
    assert run.code == 0, run.stderr
    # Every client drew its first wait with the base ceiling and its second with the doubled
    # one; what the draws look like is the next test's (2,000 draws each, not 20).
    assert Counter((tries, base) for tries, base, _ in waits.drawn) == {(1, 0.2): 20, (2, 0.2): 20}
    drawn = sorted(delay for _, _, delay in waits.drawn)
    assert sorted(w.delay for w in waits.slept) == drawn  # each draw waited, none other
    times = project.sandbox.stats.org_request_times
    for client, org in orgs.items():
        first, second = waits.of(client)
        assert 0 <= first <= 0.2 and 0 <= second <= 0.4
        # The server saw the client wait at least what it drew (a busy machine only adds).
        gap_one, gap_two = gaps(times[org["apiKey"]])
        assert gap_one >= first - 0.001 and gap_two >= second - 0.001
    # Jitter: twenty clients that failed together did not retry together. Twenty uniform
    # draws share no value unless the jitter is gone.
    assert len({waits.of(client)[0] for client in orgs}) == 20


def test_backoff_delay_is_anywhere_from_zero_to_a_doubling_capped_ceiling():
    # 2,000 uniform draws per ceiling: a false failure of any bound below is far rarer than
    # one in a million (0.99**2000 is 2e-9; the mean's bound is 7.7 standard deviations).
    for tries, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (40, 30.0)):
        delays = [backoff_delay(tries, 0.5) for _ in range(2000)]
        assert 0 <= min(delays) < ceiling * 0.01
        assert ceiling * 0.99 < max(delays) <= ceiling
        # Full jitter: uniform over the whole range, so the mean is half the ceiling (an
        # "equal jitter" of half plus a random half would be three quarters).
        assert abs(statistics.mean(delays) - ceiling / 2) < ceiling * 0.05


def test_other_4xx_is_not_retried(make_project):
    project = make_project()
    project.sandbox.script(SUMMIT, [Answer.status(403)])
    run = project.run("build")
    assert run.code == 3
    assert "client summit-cu: POST /GetOrganization answered 403 (forbidden)" in run.stderr
    assert project.sandbox.stats.org_requests[SUMMIT] == 1


def test_retries_run_out_after_max_retries_naming_the_attempts(make_project):
    project = make_project(api={"max_retries": 2})
    project.sandbox.script(SUMMIT, [Answer.status(500)] * 3)
    run = project.run("build")
    assert run.code == 3
    assert (
        "client summit-cu: POST /GetOrganization: HTTP 500 (gave up after 3 attempts)" in run.stderr
    )
    assert project.sandbox.stats.org_requests[SUMMIT] == 3


def test_503_with_retry_after_past_the_deadline_fails_that_client_at_once(make_project, waits):
    project = make_project(api={"deadline": 20.0})
    project.sandbox.script(SUMMIT, [Answer.status(503, retry_after="30")])
    run = project.run("build")
    assert run.code == 3
    assert waits.slept == []  # not a second of waiting
    assert run.elapsed < 15  # far below the 20 s deadline, even on a loaded machine
    assert (
        "client summit-cu: POST /GetOrganization: HTTP 503; a retry in 30.0 s would pass the run's "
        "deadline ([api].deadline = 20 s" in run.stderr
    )
    assert "summit-cu" in failed_clients(run.stdout)
    assert project.sandbox.stats.org_requests[SUMMIT] == 1
    assert (project.out / "prairie-fcu" / "ios" / "Nudge.xcconfig").is_file()


def test_503_with_retry_after_beyond_max_retry_after_fails_at_once(make_project, waits):
    project = make_project(api={"deadline": 600.0, "max_retry_after": 60.0})
    project.sandbox.script(SUMMIT, [Answer.status(503, retry_after="3600")])
    run = project.run("build")
    assert run.code == 3
    assert waits.slept == []
    assert (
        "client summit-cu: POST /GetOrganization: HTTP 503 asks to retry after 3600 s, longer than "
        "[api].max_retry_after (60 s); not waiting" in run.stderr
    )
    assert project.sandbox.stats.org_requests[SUMMIT] == 1


# -- connection resets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers",
    [
        [Answer.reset_before()],
        [Answer.reset_during()],
        [Answer.reset_before(), Answer.reset_during()],
        [Answer.close()],
    ],
    ids=["before", "during-the-body", "both", "closed-without-answer"],
)
def test_connection_reset_then_200_succeeds_with_the_whole_answer(make_project, answers):
    project = make_project()
    project.sandbox.script(SUMMIT, answers)
    run = project.run("build")
    assert run.code == 0, run.stderr
    assert project.sandbox.stats.org_requests[SUMMIT] == len(answers) + 1
    lock = tomllib.loads(project.lockfile.read_text())
    assert lock["clients"]["summit-cu"]["organization"]["name"] == "Summit Credit Union"


def test_a_reset_on_every_attempt_fails_the_client_and_never_parses_part_of_the_body(
    make_project,
):
    project = make_project(api={"max_retries": 2})
    project.sandbox.script(SUMMIT, [Answer.reset_during()] * 3)
    run = project.run("build")
    assert run.code == 3
    assert (
        "client summit-cu: POST /GetOrganization: connection closed or reset mid-answer "
        "(gave up after 3 attempts)" in run.stderr
    )
    assert "JSON" not in run.stderr


# -- the token ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [Answer.status(503), Answer.reset_before(), Answer.status(429, retry_after="0")],
    ids=["503", "reset", "429"],
)
def test_token_endpoint_transient_failure_once_is_retried(make_project, answer):
    project = make_project()
    project.sandbox.script_token([answer])
    run = project.run("build")
    assert run.code == 0, run.stderr
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.tokens_issued) == (2, 1)


@pytest.mark.parametrize("token_auth", ["body", "basic"])
def test_wrong_credentials_exit_3_after_one_token_request(make_project, token_auth):
    project = make_project(api={"token_auth": token_auth})
    wrong = "wrong-Hk42-secret-value"
    run = project.run("build", env={"NUDGE_CLIENT_SECRET": wrong})
    assert run.code == 3
    assert (
        "error: POST /oauth2/token refused the client credentials (401 invalid_client): check "
        "the client id and secret in NUDGE_CLIENT_ID and NUDGE_CLIENT_SECRET" in run.stderr
    )
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.tokens_issued, stats.org_requests) == (1, 0, {})
    assert wrong not in run.stdout + run.stderr
    assert not project.out.exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NUDGE_CLIENT_SECRET", None),
        ("NUDGE_CLIENT_SECRET", "  "),
        ("NUDGE_CLIENT_ID", None),
        ("NUDGE_KEY_HARBOR_BANK", ""),
    ],
    ids=["secret-unset", "secret-blank", "id-unset", "api-key-empty"],
)
def test_missing_secret_variable_exit_2_naming_it_before_any_request(make_project, variable, value):
    project = make_project()
    run = project.run("build", env={variable: value})
    assert run.code == 2
    state = "is not set" if value is None else "is empty"
    assert f"error: environment variable {variable} {state} (named by [" in run.stderr
    assert project.sandbox.stats.total_requests == 0


def test_token_revoked_with_20_requests_in_flight_costs_one_new_token(make_project):
    orgs = generated_orgs(20)
    project = make_project(orgs=orgs, latency_ms=600, api={"concurrency": 20})
    sandbox = project.sandbox
    # A slow refresh: the 401s queue up behind it, and each must find the new token when its
    # turn comes instead of fetching one more.
    sandbox.script_token([Answer.ok(), Answer.delay(0.5)])

    def revoke_once_all_arrived() -> None:
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            if sum(sandbox.stats.org_requests.values()) >= 20:
                sandbox.revoke_tokens()  # every request is still in its 600 ms latency
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=revoke_once_all_arrived)
    watcher.start()
    run = project.run("build")
    watcher.join()
    assert run.code == 0, run.stderr
    stats = sandbox.stats
    assert stats.unauthorized == 20  # all 20 were in flight with the revoked token
    assert (stats.token_requests, stats.tokens_issued) == (2, 2)
    assert set(stats.org_requests.values()) == {2}
    assert len(list(project.out.iterdir())) == 20


def test_a_second_401_fails_that_client_only(make_project):
    project = make_project()
    project.sandbox.script(SUMMIT, [Answer.status(401), Answer.status(401)])
    run = project.run("build")
    assert run.code == 3
    assert (
        "client summit-cu: POST /GetOrganization answered 401 again after a fresh token"
        in run.stderr
    )
    assert failed_clients(run.stdout).endswith(": summit-cu")
    stats = project.sandbox.stats
    assert stats.token_requests == 2 and stats.org_requests[SUMMIT] == 2
    assert sorted(p.name for p in project.out.iterdir()) == sorted(set(SAMPLE_KEYS) - {"summit-cu"})


def test_401_refresh_with_one_connection_slot_does_not_stall(make_project, waits):
    project = make_project(api={"concurrency": 1, "deadline": 10.0})
    for key in SAMPLE_KEYS.values():
        project.sandbox.script(key, [Answer.status(401)])
    run = project.run("build")
    # A stall would last until the 10 s deadline and fail the run: exit 0 is the proof, and
    # no wall-clock bound that a loaded machine could break is needed.
    assert run.code == 0, run.stderr
    assert waits.slept == []  # a 401 is answered by a new token, never by a wait
    # Each 401 came with the token current at the time, which refresh replaced: one per 401.
    assert project.sandbox.stats.tokens_issued == 6


def test_a_failed_refresh_is_not_repeated_by_every_request_waiting_for_it(make_project):
    project = make_project(api={"concurrency": 5})
    refused = Answer.status(401, body={"error": "invalid_client"})
    project.sandbox.script_token([Answer.ok(), refused])
    for key in SAMPLE_KEYS.values():
        project.sandbox.script(key, [Answer.status(401)])
    run = project.run("build")
    assert run.code == 3
    assert project.sandbox.stats.token_requests == 2
    for client in SAMPLE_KEYS:
        assert (
            f"client {client}: no access token: POST /oauth2/token refused the client "
            "credentials (401 invalid_client)" in run.stderr
        )


def test_token_near_expiry_with_many_requests_in_flight_is_refreshed_once_before_expiry(
    make_project,
):
    # Tokens live 3.996 s and are refreshed in their last quarter (from 2.997 s on); every
    # client's first answer asks it to come back after 3 s, when the run's token is about to
    # expire: a second of slack for a loaded machine to be late in.
    orgs = generated_orgs(20)
    project = make_project(orgs=orgs, token_ttl_minutes=0.0666, api={"concurrency": 20})
    for org in orgs.values():
        project.sandbox.script(org["apiKey"], [Answer.status(503, retry_after="3")])
    run = project.run("build")
    assert run.code == 0, run.stderr
    stats = project.sandbox.stats
    assert (stats.token_requests, stats.tokens_issued) == (2, 2)
    first_token, refresh = stats.token_request_times
    assert 2.997 <= refresh - first_token < 3.996  # in the margin, before the first one expired
    assert stats.unauthorized == 0  # no request ever carried an expired token
    retries = [times[1] for times in stats.org_request_times.values()]
    assert min(retries) > refresh


def test_slot_waits_do_not_count_against_the_request_timeout(make_project):
    # Ten clients through one slot at 100 ms each: the last waits 0.9 s for its turn, longer
    # than the 0.5 s timeout, which is for the exchange alone.
    project = make_project(
        orgs=generated_orgs(10), latency_ms=100, api={"concurrency": 1, "timeout": 0.5}
    )
    run = project.run("build")
    assert run.code == 0, run.stderr
    assert set(project.sandbox.stats.org_requests.values()) == {1}


# -- deadlines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [Answer.hang(), Answer.trickle(interval_s=0.05)],
    ids=["hang", "trickle"],
)
def test_a_hung_or_trickling_server_ends_the_run_by_the_deadline(make_project, answer):
    project = make_project(api={"deadline": 1.5, "timeout": 60.0})
    for key in SAMPLE_KEYS.values():
        project.sandbox.script(key, [answer])
    run = project.run("build")
    assert run.code == 3
    assert 1.4 < run.elapsed < 20  # the deadline, not the 60 s per-request timeout
    for client in SAMPLE_KEYS:
        assert (
            f"client {client}: POST /GetOrganization: the run's deadline of 1.5 s ([api].deadline) "
            "passed before it finished" in run.stderr
        )
    assert not project.out.exists()


def test_a_trickling_answer_is_bounded_per_attempt_by_the_timeout(make_project):
    project = make_project(api={"deadline": 30.0, "timeout": 0.4, "max_retries": 1})
    project.sandbox.script(SUMMIT, [Answer.trickle(interval_s=0.05)] * 2)
    run = project.run("build")
    assert run.code == 3
    # Trickled whole, each ~400-byte answer would take 20 s: twice 0.4 s is what a bound
    # attempt costs, and 10 s leaves a loaded machine room.
    assert run.elapsed < 10
    assert (
        "client summit-cu: POST /GetOrganization: no complete answer within 0.4 s ([api].timeout) "
        "(gave up after 2 attempts)" in run.stderr
    )


def test_a_hung_token_endpoint_ends_the_run_by_the_deadline(make_project):
    project = make_project(api={"deadline": 1.0, "timeout": 60.0})
    project.sandbox.script_token([Answer.hang()])
    run = project.run("build")
    assert run.code == 3
    assert run.elapsed < 20  # the 1 s deadline, not the 60 s timeout, with room for load
    assert (
        "error: POST /oauth2/token: the run's deadline of 1 s ([api].deadline) passed before it "
        "finished" in run.stderr
    )


# -- partial failure ---------------------------------------------------------------------------

BAD_ANSWERS = {
    "not-json": (Answer.malformed("<html>502 Bad Gateway</html>"), "the answer is not JSON"),
    "cut-off-json": (Answer.malformed(), "the answer is not JSON"),
    "missing-field": (
        Answer.without("features.locationBasedNudges"),
        "organization field features.locationBasedNudges is missing",
    ),
    "wrong-type": (
        Answer.replace("features.locationBasedNudges", "yes"),
        'organization field features.locationBasedNudges: expected a boolean, got string "yes"',
    ),
    "not-an-object": (
        Answer.replace("features", [1, 2]),
        "organization field features: expected an object, got array [1, 2]",
    ),
}


@pytest.mark.parametrize(
    "bad",
    [("not-json", "missing-field"), ("cut-off-json", "wrong-type"), ("not-an-object", "not-json")],
    ids=lambda pair: "+".join(pair),
)
def test_twenty_clients_two_bad_answers_18_written_2_kept_exactly(make_project, bad):
    orgs = generated_orgs(20)
    project = make_project(orgs=orgs, stock=("ios", "android"), api={"concurrency": 8})
    first = project.run("build")
    assert first.code == 0, first.stderr
    before_files = project.files()
    before_lock = project.lockfile.read_text()
    before_mtimes = {p: (project.root / p).stat().st_mtime_ns for p in before_files}

    broken = {"cu-04": BAD_ANSWERS[bad[0]], "cu-17": BAD_ANSWERS[bad[1]]}
    for client, org in orgs.items():
        # Everyone else's organization changed since the first build, so their files change.
        answer = broken[client][0] if client in broken else Answer.replace("name", f"{client} Bank")
        project.sandbox.script(org["apiKey"], [answer])
    run = project.run("build")

    assert run.code == 3
    for client, (_, reason) in broken.items():
        assert f"client {client}: " in run.stderr and reason in run.stderr
    assert failed_clients(run.stdout).endswith(": cu-04, cu-17")
    after_files = project.files()
    after_lock = project.lockfile.read_text()
    for client in orgs:
        strings = f"nudge/{client}/android/res/values/nudge_strings.xml"
        if client in broken:
            assert lock_section(after_lock, client) == lock_section(before_lock, client)
            mine = [p for p in before_files if p.startswith(f"nudge/{client}/")]
            # Every client has the same sets, so as many files as any other (the sets' own
            # file counts are the templates' business).
            assert len(mine) == len([p for p in before_files if p.startswith("nudge/cu-01/")])
            for path in mine:
                assert after_files[path] == before_files[path], path
                assert (project.root / path).stat().st_mtime_ns == before_mtimes[path], path
        else:
            assert f"{client} Bank".encode() in after_files[strings]
            assert f'name = "{client} Bank"' in lock_section(after_lock, client)
    assert len(list(project.out.iterdir())) == 20


def test_get_organization_404_fails_that_client_as_organization_not_found(make_project):
    keys = {**SAMPLE_KEYS, "ghost-cu": "sbx-ghost-cu-Wm3k"}
    project = make_project(keys=keys)
    run = project.run("build")
    assert run.code == 3
    assert (
        "error: client ghost-cu: organization not found (POST /GetOrganization answered 404)"
        in (run.stderr)
    )
    assert failed_clients(run.stdout).endswith(": ghost-cu")
    assert sorted(p.name for p in project.out.iterdir()) == sorted(SAMPLE_KEYS)


def test_fetch_keeps_a_failed_clients_lock_entry(make_project):
    project = make_project()
    assert project.run("fetch").code == 0
    before = project.lockfile.read_text()
    project.sandbox.script(SUMMIT, [Answer.without("organizationId")])
    project.sandbox.script(SAMPLE_KEYS["harbor-bank"], [Answer.replace("name", "Harbor Two")])
    run = project.run("fetch")
    assert run.code == 3
    assert "client summit-cu: organization field organizationId is missing" in run.stderr
    after = project.lockfile.read_text()
    assert lock_section(after, "summit-cu") == lock_section(before, "summit-cu")
    assert 'name = "Harbor Two"' in lock_section(after, "harbor-bank")
