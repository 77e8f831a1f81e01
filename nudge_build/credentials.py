"""Read credentials and API keys from the environment (or files), just before use.

A client's key comes from its own ``api_key_env`` or ``api_key`` when its table names one, else
from a map of keys: the variable named by ``[api].api_keys_env`` (default ``NUDGE_API_KEYS``),
then the file ``[api].api_keys_file``. Every key read from the environment or a file is a
``Secret``, registered (so masked in GitHub Actions) the moment it is read, map values included
whether or not this run uses them.

Everything missing or empty is reported at once, in one config error (exit 2) raised before any
request: onboarding many clients costs one failed run, not one per client. Messages name
variables, files and clients, never a value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nudge_build.config import ClientConfig, Config
from nudge_build.errors import ConfigError
from nudge_build.keymap import keys_by_client, parse_key_map
from nudge_build.secret import Secret

log = logging.getLogger("nudge_build.credentials")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: Secret
    # Where they came from, for a message when the token endpoint refuses them.
    source: str = "the client id and secret"


class _Problems:
    """Missing or empty variables and keys, collected to be reported together."""

    def __init__(self) -> None:
        self.variables: dict[str, tuple[str, list[str]]] = {}  # name -> (state, named by)
        self.other: list[str] = []

    def variable(self, environ: Mapping[str, str], name: str, where: str) -> str | None:
        value = environ.get(name, "")
        if value.strip():
            return value.strip()
        state = "is empty" if name in environ else "is not set"
        self.variables.setdefault(name, (state, []))[1].append(where)
        return None

    def raise_if_any(self, config_path: Path) -> None:
        lines = [
            f"environment variable {name} {state} (named by {', '.join(wheres)} in {config_path})"
            for name, (state, wheres) in self.variables.items()
        ]
        lines += self.other
        if len(lines) == 1:
            raise ConfigError(lines[0])
        if lines:
            head = f"{len(lines)} credentials are missing or empty; nothing was requested:"
            raise ConfigError("\n".join([head, *(f"- {line}" for line in lines)]))


def resolve_credentials(
    config: Config, environ: Mapping[str, str], secret_file: Path | None = None
) -> Credentials:
    problems = _Problems()
    credentials = _credentials(config, environ, secret_file, problems)
    problems.raise_if_any(config.path)
    assert credentials is not None
    return credentials


def resolve_api_keys(
    config: Config, clients: Sequence[ClientConfig], environ: Mapping[str, str]
) -> dict[str, Secret | str]:
    """Each client's API key: a Secret when it came from the environment or a file."""
    problems = _Problems()
    keys = _api_keys(config, clients, environ, problems)
    problems.raise_if_any(config.path)
    return keys


def resolve_for_fetch(
    config: Config,
    clients: Sequence[ClientConfig],
    environ: Mapping[str, str],
    secret_file: Path | None = None,
) -> tuple[Credentials, dict[str, Secret | str]]:
    """Credentials and every selected client's key; all that is missing in one error."""
    problems = _Problems()
    credentials = _credentials(config, environ, secret_file, problems)
    keys = _api_keys(config, clients, environ, problems)
    problems.raise_if_any(config.path)
    assert credentials is not None
    return credentials, keys


def _credentials(
    config: Config, environ: Mapping[str, str], secret_file: Path | None, problems: _Problems
) -> Credentials | None:
    api = config.api
    client_id = problems.variable(environ, api.client_id_env, "[api].client_id_env")
    secret: str | None
    if secret_file is not None:
        secret = _read_secret_file(secret_file, problems)
        source = f"the client id in {api.client_id_env} and the secret in {secret_file}"
    else:
        secret = problems.variable(environ, api.client_secret_env, "[api].client_secret_env")
        source = f"the client id and secret in {api.client_id_env} and {api.client_secret_env}"
    if client_id is None or secret is None:
        return None
    return Credentials(client_id=client_id, client_secret=Secret(secret), source=source)


def _read_secret_file(path: Path, problems: _Problems) -> str | None:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.other.append(f"{path}: cannot read client secret file: {exc.strerror}")
        return None
    if not secret:
        problems.other.append(f"{path}: client secret file is empty")
        return None
    return secret


def _api_keys(
    config: Config,
    clients: Sequence[ClientConfig],
    environ: Mapping[str, str],
    problems: _Problems,
) -> dict[str, Secret | str]:
    maps = _key_maps(config, environ, problems)
    keys: dict[str, Secret | str] = {}
    without: list[str] = []
    empty: dict[str, list[str]] = {}  # source -> clients whose key there is empty
    for client in clients:
        if client.api_key_env is not None:
            where = f"[clients.{client.id}].api_key_env"
            value = problems.variable(environ, client.api_key_env, where)
            if value is not None:
                keys[client.id] = Secret(value)
        elif client.api_key is not None:
            keys[client.id] = client.api_key
        else:
            found = next(((s, m[client.id]) for s, m in maps if client.id in m), None)
            if found is None:
                without.append(client.id)
            elif not found[1]:
                empty.setdefault(found[0], []).append(client.id)
            else:
                keys[client.id] = Secret(found[1])
    for source, ids in empty.items():
        problems.other.append(f"the key of client {', '.join(ids)} in {source} is empty")
    if without:
        problems.other.append(_no_key_message(config, environ, without))
    return keys


def _key_maps(
    config: Config, environ: Mapping[str, str], problems: _Problems
) -> list[tuple[str, dict[str, str]]]:
    """The key maps that are there, in order of precedence: (source, client id -> key)."""
    api = config.api
    texts: list[tuple[str, str]] = []
    if environ.get(api.api_keys_env, "").strip():
        texts.append((f"{api.api_keys_env} ([api].api_keys_env)", environ[api.api_keys_env]))
    if api.api_keys_file is not None and api.api_keys_file.exists():
        try:
            text = api.api_keys_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            problems.other.append(f"{api.api_keys_file}: cannot read the API key file: {reason}")
        else:
            texts.append((f"{api.api_keys_file} ([api].api_keys_file)", text))
    configured = [c.id for c in config.clients]
    maps = []
    unknown: list[tuple[str, list[str]]] = []
    for source, text in texts:
        try:
            entries = parse_key_map(text, source)
            for value in entries.values():
                if value:
                    Secret(value)  # registered: redacted, and masked in GitHub, before any use
            by_client, names = keys_by_client(entries, configured, source)
        except ConfigError as exc:
            problems.other.append(str(exc))
            continue
        maps.append((source, by_client))
        if names:
            unknown.append((source, names))
    # Warned only now, when every key of every map is masked.
    for source, names in unknown:
        log.warning(
            "%s names %s not in [clients] of %s; ignored",
            source,
            ", ".join(names),
            config.path,
        )
    return maps


def _no_key_message(config: Config, environ: Mapping[str, str], clients: Sequence[str]) -> str:
    api = config.api
    state = "set" if environ.get(api.api_keys_env, "").strip() else "not set"
    places = [f"the map in {api.api_keys_env} ([api].api_keys_env; {state})"]
    if api.api_keys_file is not None:
        there = "" if api.api_keys_file.exists() else "; no such file"
        places.append(f"{api.api_keys_file} ([api].api_keys_file{there})")
    return (
        f"no API key for client {', '.join(clients)}: no api_key_env or api_key in its "
        f"[clients.…] table of {config.path}, and not in {' or '.join(places)}"
    )
