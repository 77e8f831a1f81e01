"""Shared test helpers: a project on disk pointed at a sandbox, and a CLI runner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from nudge_build.cli import main

CLIENT_ID = "test-client-id"
# Distinctive so that a scan of every stream and file can find it if it ever leaks.
CLIENT_SECRET = "s3cret-Zq81-never-print-me"
SAMPLE_KEYS = {
    "prairie-fcu": "sbx-prairie-fcu",
    "harbor-bank": "sbx-harbor-bank",
    "summit-cu": "sbx-summit-cu",
    "lakeside-savings": "sbx-lakeside-savings",
    "ridgeline-trust": "sbx-ridgeline-trust",
}
ALL_SETS = ("ios", "android", "flutter", "react-native", "expo")


def key_env_name(client_id: str) -> str:
    return "NUDGE_KEY_" + client_id.upper().replace("-", "_")


def write_project(
    root: Path,
    base_url: str,
    *,
    clients: Iterable[str] = SAMPLE_KEYS,
    stock: Iterable[str] = ("ios", "android"),
    api_extra: str = "",
    extra: str = "",
) -> Path:
    """A nudge-build.toml whose clients read their API keys from the environment."""
    lines = [
        "[api]",
        f'base_url = "{base_url}"',
        "retry_backoff = 0.05",
        api_extra,
        "",
        "[templates]",
        "stock = [" + ", ".join(f'"{s}"' for s in stock) + "]",
        "",
    ]
    for client_id in clients:
        lines += [f"[clients.{client_id}]", f'api_key_env = "{key_env_name(client_id)}"', ""]
    config = root / "nudge-build.toml"
    config.write_text("\n".join(lines) + extra, encoding="utf-8")
    return config


def project_env(keys: Mapping[str, str] = SAMPLE_KEYS, **extra: str) -> dict[str, str]:
    env = {"NUDGE_CLIENT_ID": CLIENT_ID, "NUDGE_CLIENT_SECRET": CLIENT_SECRET}
    env.update({key_env_name(c): k for c, k in keys.items()})
    env.update(extra)
    return env


def cli(config: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run the real CLI in-process; GitHub mode off unless the test turns it on."""
    full_env = {"GITHUB_ACTIONS": "", "NUDGE_API_URL": "", "NUDGE_BUILD_CONFIG": ""}
    full_env.update(env or {})
    return CliRunner().invoke(main, ["--config", str(config), *args], env=full_env)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative POSIX path -> bytes)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def mtimes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_no_secret(*texts: str | bytes, secrets: Iterable[str]) -> None:
    for text in texts:
        blob = text if isinstance(text, str) else text.decode("utf-8", "replace")
        for value in secrets:
            assert value not in blob, "a secret leaked"
