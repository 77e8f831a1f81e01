"""What every reader shares: the error type and line bookkeeping."""

from __future__ import annotations

import re
from typing import NoReturn


class InvalidOutput(ValueError):
    """The rendered file does not parse; ``line`` is 1-based in the rendered text when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def line_starts(text: str) -> list[int]:
    """Offsets where each physical line starts; \\n, \\r and \\r\\n end a line (as in Java)."""
    starts = [0]
    for match in re.finditer(r"\r\n|\r|\n", text):
        starts.append(match.end())
    return starts


def fail(message: str, line: int | None = None) -> NoReturn:
    raise InvalidOutput(message, line)
