"""Shared fixtures: real servers on loopback, never mocks of our own code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nudge_build.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox serving the sample organizations on an ephemeral loopback port."""
    with Sandbox() as running:
        yield running
