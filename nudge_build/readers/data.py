"""JSON and TOML: the standard library's parsers, with the line of the error."""

from __future__ import annotations

import json
import re
import tomllib
from typing import NoReturn

from nudge_build.readers._common import InvalidOutput


def validate_json(text: str) -> None:
    def reject_constant(name: str) -> NoReturn:
        raise InvalidOutput(f"{name} is not JSON")

    try:
        json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(exc.msg, exc.lineno) from exc


def validate_toml(text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise InvalidOutput(str(exc), int(where.group(1)) if where else None) from exc
