"""What ``verify`` reports: a finding per rule an artifact breaks, an error per artifact it
could not read, and the report's exit code, lines and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Platform = Literal["ios", "android"]


@dataclass(frozen=True)
class Finding:
    """One rule one artifact breaks: what was found, what the client's flags expect, the fix.

    Text taken from the artifact (a purpose string, a package name) reaches ``found`` through
    :func:`quote`, so a finding stays one line whatever the artifact holds.
    """

    client: str
    platform: Platform
    artifact: str
    rule: str
    found: str
    expected: str
    fix: str

    def line(self) -> str:
        return (
            f"{self.client}: {self.artifact}: {self.rule}: found {self.found}; "
            f"expected {self.expected}; fix: {self.fix}"
        )


@dataclass(frozen=True)
class ArtifactError:
    """An artifact that is missing or cannot be read: nothing about it could be checked."""

    client: str
    platform: Platform
    artifact: str
    message: str

    def line(self) -> str:
        return f"{self.artifact}: {self.message} (client {self.client})"


class Collector:
    """The findings for one client's artifact, each added with what varies."""

    def __init__(self, client: str, platform: Platform, artifact: str) -> None:
        self.client, self.platform, self.artifact = client, platform, artifact
        self.findings: list[Finding] = []

    def add(self, rule: str, found: str, expected: str, fix: str) -> None:
        self.findings.append(
            Finding(self.client, self.platform, self.artifact, rule, found, expected, fix)
        )


class UnreadableArtifact(Exception):
    """Raised by the readers; its message says what is wrong, the caller adds the path."""


@dataclass
class VerifyReport:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ArtifactError] = field(default_factory=list)
    checked: int = 0  # artifacts read and checked

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 1 if self.findings else 0

    def as_json(self) -> str:
        document: dict[str, Any] = {
            "ok": self.exit_code == 0,
            "checked": self.checked,
            "findings": [asdict(f) for f in self.findings],
            "errors": [asdict(e) for e in self.errors],
        }
        return json.dumps(document, indent=2, ensure_ascii=False)

    def summary_line(self) -> str:
        if self.exit_code == 0:
            return f"verified {self.checked} artifact(s): all match their clients' flags"
        parts = [f"{len(self.findings)} finding(s) in {self.checked} artifact(s) checked"]
        if self.errors:
            parts.append(f"{len(self.errors)} artifact(s) missing or unreadable")
        return "verify: " + "; ".join(parts)


def quote(text: str) -> str:
    """Text from an artifact as a JSON string: one line, its ends visible, nothing interpreted."""
    return (
        json.dumps(text, ensure_ascii=False)
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
