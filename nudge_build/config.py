"""Load and validate ``nudge-build.toml`` into frozen records.

Every error names the file, the key and what was expected, so a release engineer can fix the
config without reading our code. Environment variables are only *named* here; their values are
read by ``credentials.py`` when a command actually needs them.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nudge_build.errors import ConfigError
from nudge_build.suggest import hint

DEFAULT_CONFIG_NAME = "nudge-build.toml"
DEFAULT_OUTPUT_ROOT = "nudge"
CLIENT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
# Names Windows reserves for devices in every folder: a client folder named so cannot be made
# there, and partners' release engineers run the tool on Windows too. A slug has no '.' or '$',
# so the exact names are all there is to refuse ("con.txt", "conin$" cannot be client ids).
WINDOWS_RESERVED_IDS = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"{device}{n}" for device in ("com", "lpt") for n in range(1, 10)]
)
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
FLAG_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]*\Z")
BUILTIN_FLAGS = ("location", "background_location", "push")
CLIENT_PLACEHOLDER = "{client}"
STOCK_SETS = ("ios", "android", "flutter", "react-native", "expo")


@dataclass(frozen=True)
class ApiConfig:
    base_url: str | None = None
    client_id_env: str = "NUDGE_CLIENT_ID"
    client_secret_env: str = "NUDGE_CLIENT_SECRET"
    token_auth: str = "body"  # "body" (client_secret_post) or "basic" (client_secret_basic)
    timeout: float = 10.0
    concurrency: int = 8
    max_retries: int = 4
    deadline: float = 300.0
    max_retry_after: float = 60.0
    retry_backoff: float = 0.5
    # The most an answer's body may hold once decoded: an organization is a few KiB, and what
    # a server sends must not decide how much memory the run takes.
    max_response_bytes: int = 2 * 1024 * 1024
    # Many clients' API keys in one place (see credentials.py): a JSON or dotenv file, and a
    # variable holding such a map (one GitHub secret instead of one per client).
    api_keys_file: Path | None = None
    api_keys_env: str = "NUDGE_API_KEYS"


@dataclass(frozen=True)
class OutputConfig:
    root: Path
    lockfile: Path
    # Seconds a run waits for another run on the same project (see runlock.py); 0: none.
    lock_timeout: float = 300.0


@dataclass(frozen=True)
class TemplatesConfig:
    dir: Path | None
    stock: tuple[str, ...]
    # Partner templates outside the stock sets: (template name in ``dir``, target path).
    targets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MergeConfig:
    """Files the partner owns, edited in place: config-folder-relative paths with {client}."""

    info_plist: str | None = None
    dotenv: str | None = None

    def targets(self) -> tuple[tuple[str, str], ...]:
        """(kind, path pattern) for each configured target, in a fixed order."""
        pairs = (("info_plist", self.info_plist), ("dotenv", self.dotenv))
        return tuple((kind, path) for kind, path in pairs if path is not None)


@dataclass(frozen=True)
class ClientConfig:
    id: str
    api_key: str | None = None
    api_key_env: str | None = None
    flags: Mapping[str, bool] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    # Build flag combinations that cannot work as intended anyway (see flags.derive).
    allow_unusual_flags: bool = False


@dataclass(frozen=True)
class Config:
    path: Path
    api: ApiConfig
    output: OutputConfig
    templates: TemplatesConfig
    flag_rules: Mapping[str, str]
    clients: tuple[ClientConfig, ...]
    merge: MergeConfig = MergeConfig()

    @property
    def project_dir(self) -> Path:
        """The config file's folder: merge paths are relative to it and must stay inside it."""
        return self.path.parent

    @property
    def flag_names(self) -> tuple[str, ...]:
        extra = tuple(name for name in self.flag_rules if name not in BUILTIN_FLAGS)
        return BUILTIN_FLAGS + extra

    def client(self, client_id: str) -> ClientConfig:
        for client in self.clients:
            if client.id == client_id:
                return client
        raise KeyError(client_id)


def find_config_path(
    explicit: str | None, environ: Mapping[str, str], cwd: Path | None = None
) -> Path:
    """--config, else $NUDGE_BUILD_CONFIG, else the nearest nudge-build.toml up from ``cwd``.

    Found like git finds its repository, so any command works from a subfolder; paths in the
    file stay relative to the file. Nothing found: ./nudge-build.toml, for the error message.
    """
    if explicit:
        return Path(explicit)
    from_env = environ.get("NUDGE_BUILD_CONFIG")
    if from_env:
        return Path(from_env)
    here = Path.cwd() if cwd is None else cwd
    for folder in (here, *here.parents):
        candidate = folder / DEFAULT_CONFIG_NAME
        if candidate.is_file():
            # Relative to where the user stands, as git shows paths: ../nudge-build.toml.
            return Path(os.path.relpath(candidate, here))
    return Path(DEFAULT_CONFIG_NAME)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file; ``NUDGE_API_URL`` (when set) overrides ``base_url``."""
    environ = os.environ if environ is None else environ
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file (pass --config, set NUDGE_BUILD_CONFIG, "
            "or run `nudge-build init`)",
            file=str(path),
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})", file=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise ConfigError(f"{path}: invalid TOML: {exc}", file=str(path), line=line) from exc
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(
            f"{path}: invalid TOML: arrays or tables nested too deep to read", file=str(path)
        ) from None
    try:
        return parse_config(data, path=path, environ=environ)
    except _KeyProblem as exc:
        # Editors and GitHub annotations (``::error file=…,line=…::``) want the line.
        exc.file = str(path)
        exc.line = key_line(raw.decode("utf-8"), exc.table, exc.key)
        raise


class _KeyProblem(ConfigError):
    """A config error about one key (or a whole table, when ``key`` is None)."""

    def __init__(self, message: str, table: str, key: str | None) -> None:
        super().__init__(message)
        self.table = table
        self.key = key


_HEADER = re.compile(r"\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(?:#.*)?\Z")
_KEY = re.compile(r"""(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[A-Za-z0-9_-]+))\s*=""")


def key_line(text: str, table: str, key: str | None) -> int | None:
    """The line where ``key`` is set in ``[table]`` (or the table's header), if it can be found.

    A light scan, not a TOML parser: dotted keys and inline tables fall back to the header.
    """
    current, header = "", None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        heading = _HEADER.match(line)
        if heading:
            current = _table_name(heading.group("name"))
            if current == table and header is None:
                header = number
            continue
        if key is not None and current == table:
            found = _KEY.match(line)
            if found and key in (found.group("double"), found.group("single"), found.group("bare")):
                return number
    if key is not None:
        # The key may name a table of its own: `[api.extra]`, or `[bogus]` at the top level.
        nested = key_line(text, f"{table}.{key}" if table else key, None)
        if nested is not None:
            return nested
    return header


def _table_name(header: str) -> str:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s"\']+)', header)
    return ".".join(next(p for p in part if p) if any(part) else "" for part in parts)


def parse_config(data: Mapping[str, Any], *, path: Path, environ: Mapping[str, str]) -> Config:
    reader = _Reader(path)
    reader.only_keys(data, "", ("api", "output", "templates", "flags", "clients", "merge"))
    base_dir = path.parent
    api = _parse_api(reader, reader.table(data, "", "api"), environ, base_dir)
    output = _parse_output(reader, reader.table(data, "", "output"), base_dir)
    templates = _parse_templates(reader, reader.table(data, "", "templates"), base_dir)
    flag_rules = _parse_flag_rules(reader, reader.table(data, "", "flags"))
    flag_names = BUILTIN_FLAGS + tuple(n for n in flag_rules if n not in BUILTIN_FLAGS)
    clients = _parse_clients(reader, reader.table(data, "", "clients"), flag_names)
    merge = _parse_merge(reader, reader.table(data, "", "merge"), len(clients))
    return Config(path, api, output, templates, flag_rules, clients, merge)


def _parse_api(
    reader: _Reader, table: Mapping[str, Any], environ: Mapping[str, str], base_dir: Path
) -> ApiConfig:
    where = "api"
    defaults = ApiConfig()
    reader.only_keys(table, where, tuple(ApiConfig.__dataclass_fields__))
    base_url = environ.get("NUDGE_API_URL") or reader.string(table, where, "base_url", None)
    if base_url is not None:
        source = "NUDGE_API_URL" if environ.get("NUDGE_API_URL") else f"[{where}].base_url"
        base_url = check_base_url(base_url, f"{reader.path}: {source}")
    token_auth = reader.string(table, where, "token_auth", defaults.token_auth)
    if token_auth not in ("body", "basic"):
        reader.fail(where, "token_auth", '"body" or "basic"', token_auth)
    keys_file = reader.string(table, where, "api_keys_file", None)
    if keys_file is not None and (not keys_file or "\0" in keys_file):
        reader.fail(where, "api_keys_file", "a non-empty path", keys_file)
    return ApiConfig(
        base_url=base_url,
        client_id_env=reader.env_name(table, where, "client_id_env", defaults.client_id_env),
        client_secret_env=reader.env_name(
            table, where, "client_secret_env", defaults.client_secret_env
        ),
        token_auth=token_auth,
        timeout=reader.positive(table, where, "timeout", defaults.timeout),
        concurrency=reader.integer(table, where, "concurrency", defaults.concurrency, low=1),
        max_retries=reader.integer(table, where, "max_retries", defaults.max_retries, low=0),
        deadline=reader.positive(table, where, "deadline", defaults.deadline),
        max_retry_after=reader.positive(table, where, "max_retry_after", defaults.max_retry_after),
        retry_backoff=reader.positive(table, where, "retry_backoff", defaults.retry_backoff),
        max_response_bytes=reader.integer(
            table, where, "max_response_bytes", defaults.max_response_bytes, low=1024
        ),
        api_keys_file=base_dir / keys_file if keys_file is not None else None,
        api_keys_env=reader.env_name(table, where, "api_keys_env", defaults.api_keys_env),
    )


def check_base_url(url: str, where: str) -> str:
    """https everywhere; plain http only to this machine, where nothing crosses a network."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError:
        raise ConfigError(f"{where}: not a valid URL") from None
    # Checked first, and the URL not echoed: a password in it must not reach any output.
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where}: the URL must not carry a user name or password; the credentials come "
            "from the variables named by [api].client_id_env and [api].client_secret_env"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: expected an http(s) URL with a host, got {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{where}: http:// is only allowed to a loopback host (127.0.0.1, ::1, localhost); "
            f"use https:// for {parts.hostname}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{where}: expected a base URL without query or fragment, got {url!r}")
    return url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_output(reader: _Reader, table: Mapping[str, Any], base_dir: Path) -> OutputConfig:
    reader.only_keys(table, "output", ("root", "lockfile", "lock_timeout"))
    # Not under build/: React Native's .gitignore ignores it, `flutter clean` deletes it and
    # EAS Build does not upload it, yet the generated files are meant to be committed.
    root = reader.string(table, "output", "root", DEFAULT_OUTPUT_ROOT)
    lockfile = reader.string(table, "output", "lockfile", "nudge-build.lock")
    for key, value in (("root", root), ("lockfile", lockfile)):
        if not value or "\0" in value:
            reader.fail("output", key, "a non-empty path", value)
    lock_timeout = table.get("lock_timeout", OutputConfig.lock_timeout)
    if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, int | float):
        reader.fail("output", "lock_timeout", "a number of seconds >= 0", lock_timeout)
    if not math.isfinite(lock_timeout) or lock_timeout < 0:
        reader.fail("output", "lock_timeout", "a number of seconds >= 0", lock_timeout)
    return OutputConfig(
        root=base_dir / root, lockfile=base_dir / lockfile, lock_timeout=float(lock_timeout)
    )


def _parse_templates(reader: _Reader, table: Mapping[str, Any], base_dir: Path) -> TemplatesConfig:
    where = "templates"
    reader.only_keys(table, where, ("dir", "stock", "targets"))
    directory = reader.string(table, where, "dir", None)
    stock = table.get("stock", ["ios", "android"])
    if not isinstance(stock, list) or not all(isinstance(s, str) for s in stock):
        reader.fail(where, "stock", "a list of template set names", stock)
    if len(set(stock)) != len(stock):
        reader.fail(where, "stock", "a list without repeats", stock)
    targets_table = reader.table(table, where, "targets")
    targets: list[tuple[str, str]] = []
    for name, target in targets_table.items():
        if not isinstance(target, str):
            reader.fail(f"{where}.targets", name, "a target path string", target)
        targets.append((name, target))
    if targets and directory is None:
        raise ConfigError(f"{reader.path}: [templates].targets needs [templates].dir to be set")
    return TemplatesConfig(
        dir=base_dir / directory if directory is not None else None,
        stock=tuple(stock),
        targets=tuple(targets),
    )


def _parse_merge(reader: _Reader, table: Mapping[str, Any], client_count: int) -> MergeConfig:
    where = "merge"
    keys = tuple(MergeConfig.__dataclass_fields__)
    reader.only_keys(table, where, keys)
    paths: dict[str, str] = {}
    for key in keys:
        value = reader.string(table, where, key, None)
        if value is not None:
            paths[key] = _merge_path(reader, key, value, client_count)
    if len(set(paths.values())) < len(paths):
        reader.fail(where, "dotenv", "a different file than [merge].info_plist", paths["dotenv"])
    return MergeConfig(**paths)


def _merge_path(reader: _Reader, key: str, value: str, client_count: int) -> str:
    """The path with '.' parts dropped; one that could leave the project folder is refused."""
    inside = "a path relative to the config file's folder that stays inside it"
    if not value or "\0" in value or "\\" in value:
        reader.fail("merge", key, inside + " (no NUL or backslash)", value)
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if value.startswith("/") or re.match(r"[A-Za-z]:", value) or ".." in parts or not parts:
        reader.fail("merge", key, inside, value)
    if re.search(r"[{}]", value.replace(CLIENT_PLACEHOLDER, "")):
        reader.fail("merge", key, "a path whose only placeholder is {client}", value)
    if client_count > 1 and CLIENT_PLACEHOLDER not in value:
        reader.fail(
            "merge", key, "a path with {client}, or every client would edit one file", value
        )
    return "/".join(parts)


def _parse_flag_rules(reader: _Reader, table: Mapping[str, Any]) -> dict[str, str]:
    rules: dict[str, str] = {}
    for name, expression in table.items():
        if not FLAG_NAME_PATTERN.match(name):
            reader.fail("flags", name, "a flag name like background_location ([a-z_][a-z0-9_]*)")
        if not isinstance(expression, str) or not expression.strip():
            reader.fail("flags", name, "a Jinja expression string", expression)
        rules[name] = expression
    return rules


def _parse_clients(
    reader: _Reader, table: Mapping[str, Any], flag_names: tuple[str, ...]
) -> tuple[ClientConfig, ...]:
    clients = []
    for client_id, body in table.items():
        where = f"clients.{client_id}" if CLIENT_ID_PATTERN.match(client_id) else "clients"
        if not CLIENT_ID_PATTERN.match(client_id):
            raise _KeyProblem(
                f"{reader.path}: [clients]: client id {client_id!r} is not a slug "
                "(expected lower-case letters, digits and '-', starting with a letter or digit)",
                f"clients.{client_id}",
                None,
            )
        if client_id in WINDOWS_RESERVED_IDS:
            raise _KeyProblem(
                f"{reader.path}: [clients]: client id {client_id!r} is a device name Windows "
                "reserves (con, prn, aux, nul, com1-com9, lpt1-lpt9); no folder can have it "
                "there, so choose another id",
                f"clients.{client_id}",
                None,
            )
        if not isinstance(body, dict):
            reader.fail("clients", client_id, "a table", body)
        reader.only_keys(
            body, where, ("api_key", "api_key_env", "flags", "vars", "allow_unusual_flags")
        )
        api_key = reader.string(body, where, "api_key", None)
        api_key_env = reader.env_name(body, where, "api_key_env", None)
        if api_key is not None and api_key_env is not None:
            # With neither, the key comes from [api].api_keys_env or api_keys_file at fetch time.
            raise _KeyProblem(
                f"{reader.path}: [{where}]: expected at most one of api_key_env "
                "(the name of an environment variable holding the key) or api_key",
                where,
                None,
            )
        if api_key is not None and not api_key:
            reader.fail(where, "api_key", "a non-empty string", api_key)
        flags = reader.table(body, where, "flags")
        for name, value in flags.items():
            if name not in flag_names:
                expected = f"one of the flags {', '.join(flag_names)}{hint(name, flag_names)}"
                reader.fail(f"{where}.flags", name, expected)
            if not isinstance(value, bool):
                reader.fail(f"{where}.flags", name, "true or false", value)
        variables = reader.table(body, where, "vars")
        allow_unusual = body.get("allow_unusual_flags", False)
        if not isinstance(allow_unusual, bool):
            reader.fail(where, "allow_unusual_flags", "true or false", allow_unusual)
        clients.append(
            ClientConfig(client_id, api_key, api_key_env, dict(flags), variables, allow_unusual)
        )
    return tuple(clients)


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


class _Reader:
    """Typed getters that raise ConfigError naming file, key and the expected value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, key: str, expected: str, got: object = ...) -> None:
        table = f"[{where}]." if where else ""
        got_text = "" if got is ... else f", got {_show(got)}"
        raise _KeyProblem(f"{self.path}: {table}{key}: expected {expected}{got_text}", where, key)

    def only_keys(self, table: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                place = f"[{where}]" if where else "top level"
                raise _KeyProblem(
                    f"{self.path}: {place}: unknown key {key!r}{hint}; "
                    f"expected one of: {', '.join(allowed)}",
                    where,
                    key,
                )

    def table(self, data: Mapping[str, Any], where: str, key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.fail(where, key, "a table", value)
        return dict(value)

    def string(self, table: Mapping[str, Any], where: str, key: str, default: Any) -> Any:
        value = table.get(key, default)
        if value is not default and not isinstance(value, str):
            self.fail(where, key, "a string", value)
        return value

    def env_name(self, table: Mapping[str, Any], where: str, key: str, default: Any) -> Any:
        value = self.string(table, where, key, default)
        if value is not None and not ENV_NAME_PATTERN.match(value):
            self.fail(where, key, "the NAME of an environment variable, like NUDGE_CLIENT_ID")
        return value

    def positive(self, table: Mapping[str, Any], where: str, key: str, default: float) -> float:
        value = table.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            self.fail(where, key, "a number of seconds greater than 0", value)
        return float(value)

    def integer(
        self, table: Mapping[str, Any], where: str, key: str, default: int, low: int
    ) -> int:
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            self.fail(where, key, f"a whole number >= {low}", value)
        return int(value)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
