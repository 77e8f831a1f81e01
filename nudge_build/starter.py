"""``nudge-build init``: a starter config, and optionally the stock templates to edit."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nudge_build.errors import ConfigError
from nudge_build.template_copies import copy_stock_templates

PARTNER_TEMPLATE_DIR = "nudge-templates"


@dataclass(frozen=True)
class Started:
    config: Path
    config_written: bool  # False: the project's own config was left exactly as it was
    templates: Path | None  # where the stock templates were copied, if asked


def write_starter(directory: Path, *, copy_templates: bool, force: bool) -> Started:
    """A starter config, and/or copies of the stock templates.

    In a project that has a config, ``copy_templates`` adds the copies and leaves the config
    alone: the partner's file is theirs; ``force`` alone replaces it.
    """
    config_path = directory / "nudge-build.toml"
    keep_config = config_path.exists() and not force
    if keep_config and not copy_templates:
        raise ConfigError(
            f"{config_path}: already exists (pass --force to overwrite, or --copy-templates "
            "to add only the templates)"
        )
    text = (resources.files("nudge_build") / "data" / "starter.toml").read_text(encoding="utf-8")
    copied = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if copy_templates:
            destination = directory / PARTNER_TEMPLATE_DIR
            if destination.exists() and not force:
                raise ConfigError(f"{destination}: already exists (pass --force to overwrite)")
            copy_stock_templates(destination)
            text = text.replace(
                f'# dir = "{PARTNER_TEMPLATE_DIR}"', f'dir = "{PARTNER_TEMPLATE_DIR}"  '
            )
            copied = destination
        if not keep_config:
            config_path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot write: {exc.strerror}") from exc
    return Started(config_path, not keep_config, copied)


def next_steps(started: Started) -> list[str]:
    """What to do after ``init``, in the order a newcomer does it."""
    config = started.config
    if not started.config_written:
        lines = [f"left {config} as it was"]
        if not _reads_copies(config):
            lines.append(
                f'next: set dir = "{PARTNER_TEMPLATE_DIR}" in [templates] of {config}, '
                "so that builds use the copies"
            )
    else:
        lines = [
            "next steps:",
            f"  1. in {config}, set [api].base_url to the nudge API URL Larky gave you "
            "(or export NUDGE_API_URL)",
            "  2. replace [clients.example-cu] with one [clients.<id>] table per client",
            "  3. export NUDGE_CLIENT_ID, NUDGE_CLIENT_SECRET and each client's API key variable "
            "(api_key_env)",
            "  4. run `nudge-build build`, then commit the output root (nudge/) and "
            "nudge-build.lock; `nudge-build check` in CI keeps them current",
        ]
    if started.templates is not None:
        lines.append(
            f"edit the templates in {started.templates}; after an upgrade, "
            "`nudge-build templates --diff` shows what changed in the stock ones"
        )
    lines.append(
        "docs: docs/configuration.md, docs/cli.md and docs/wiring-*.md in the nudge-build "
        "repository (`nudge-build --help` lists the commands)"
    )
    return lines


def _reads_copies(config: Path) -> bool:
    """Whether the (kept) config already points ``[templates].dir`` at the copies."""
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    templates = data.get("templates")
    directory = templates.get("dir") if isinstance(templates, dict) else None
    return isinstance(directory, str) and Path(directory) == Path(PARTNER_TEMPLATE_DIR)
