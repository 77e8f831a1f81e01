"""Read credentials and API keys from the environment (or a secret file), just before use.

A missing or empty variable is a config error (exit 2) raised before any request is made; the
message names the variable and where the config named it, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nudge_build.config import ApiConfig, ClientConfig, Config
from nudge_build.errors import ConfigError
from nudge_build.secret import Secret


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: Secret
    # Where they came from, for a message when the token endpoint refuses them.
    source: str = "the client id and secret"


def resolve_credentials(
    config: Config, environ: Mapping[str, str], secret_file: Path | None = None
) -> Credentials:
    api: ApiConfig = config.api
    client_id = _required_env(environ, api.client_id_env, f"[api].client_id_env in {config.path}")
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{secret_file}: cannot read client secret file: {exc.strerror}"
            ) from exc
        if not secret:
            raise ConfigError(f"{secret_file}: client secret file is empty")
        source = f"the client id in {api.client_id_env} and the secret in {secret_file}"
    else:
        secret = _required_env(
            environ, api.client_secret_env, f"[api].client_secret_env in {config.path}"
        )
        source = f"the client id and secret in {api.client_id_env} and {api.client_secret_env}"
    return Credentials(client_id=client_id, client_secret=Secret(secret), source=source)


def resolve_api_keys(
    config: Config, clients: Sequence[ClientConfig], environ: Mapping[str, str]
) -> dict[str, Secret | str]:
    """Each client's API key: a Secret when it came from the environment, else the literal."""
    keys: dict[str, Secret | str] = {}
    for client in clients:
        if client.api_key_env is not None:
            where = f"[clients.{client.id}].api_key_env in {config.path}"
            keys[client.id] = Secret(_required_env(environ, client.api_key_env, where))
        else:
            assert client.api_key is not None
            keys[client.id] = client.api_key
    return keys


def _required_env(environ: Mapping[str, str], name: str, where: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        state = "is empty" if name in environ else "is not set"
        raise ConfigError(f"environment variable {name} {state} (named by {where})")
    return value.strip()
