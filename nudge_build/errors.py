"""One exception family: ``str()`` is the user's message, ``exit_code`` the documented code."""

from __future__ import annotations


class NudgeBuildError(Exception):
    """Base of every error a user may see; caught once at the CLI boundary."""

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        # Where the problem is, for editors and GitHub annotations (``::error file=…,line=…::``).
        self.file = file
        self.line = line


class ConfigError(NudgeBuildError):
    """Usage or configuration error (exit 2)."""

    exit_code = 2


class ApiError(NudgeBuildError):
    """API, authentication or network error (exit 3)."""

    exit_code = 3


class RenderError(NudgeBuildError):
    """Template or render error (exit 4)."""

    exit_code = 4
