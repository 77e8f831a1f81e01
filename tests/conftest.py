"""Shared fixtures: real servers on loopback, never mocks of our own code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nudge_build.sandbox import Sandbox

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy set on the machine running the tests would route every test's requests through
    httpx's transport instead of nudge-build's own (see api.py), and loopback through it."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox serving the sample organizations on an ephemeral loopback port."""
    with Sandbox() as running:
        yield running
