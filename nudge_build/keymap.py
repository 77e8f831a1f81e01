"""Maps of API keys (one per client) in one text: a JSON object or dotenv lines.

Nothing here ever quotes a value or the text around it: an error names the source and the line
or the entry's name only, since any other part of the text may be a key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from nudge_build.errors import ConfigError

# Client ids have hyphens, which shells and GitHub secret names refuse: a map may name a client
# by its id as it is (``prairie-fcu``) or in upper snake case (``PRAIRIE_FCU``).
_DOTENV_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def upper_snake(client_id: str) -> str:
    """``prairie-fcu`` -> ``PRAIRIE_FCU``; one-to-one, since ids have no '_' or capitals."""
    return client_id.upper().replace("-", "_")


def parse_key_map(text: str, source: str) -> dict[str, str]:
    """Entry name -> key (possibly empty), from a JSON object or from dotenv lines."""
    if text.lstrip().startswith(("{", "[")):
        return _parse_json(text, source)
    return _parse_dotenv(text, source)


def _parse_json(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Only the position: the message's other parts could quote the text.
        raise ConfigError(
            f"{source}: not a valid JSON object of client ids and keys "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object of client ids and keys")
    entries: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{source}: the key for {name!r} is not a string")
        entries[name] = value.strip()
    return entries


def _parse_dotenv(text: str, source: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not _DOTENV_NAME.match(name):
            raise ConfigError(f"{source}, line {number}: expected CLIENT=KEY")
        if name in entries:
            raise ConfigError(f"{source}, line {number}: {name} is set twice")
        entries[name] = _dotenv_value(value.strip())
    return entries


def _dotenv_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    # Unquoted: a ' #' starts a comment, as in the usual dotenv readers.
    return value.split(" #", 1)[0].strip()


def keys_by_client(
    entries: Mapping[str, str], client_ids: Iterable[str], source: str
) -> tuple[dict[str, str], list[str]]:
    """(client id -> key, names that match no configured client)."""
    names: dict[str, str] = {}
    for client_id in client_ids:
        names[client_id] = client_id
        names[upper_snake(client_id)] = client_id
    keys: dict[str, str] = {}
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for name, key in entries.items():
        found = names.get(name)
        if found is None:
            unknown.append(name)
            continue
        if found in seen:
            raise ConfigError(f"{source}: client {found} is named twice ({seen[found]} and {name})")
        seen[found] = name
        keys[found] = key
    return keys, unknown
