"""``nudge-build init``: a starter config, and optionally the stock templates to edit."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from nudge_build.errors import ConfigError
from nudge_build.targets import stock_template_dir

PARTNER_TEMPLATE_DIR = "nudge-templates"


def write_starter(directory: Path, *, copy_templates: bool, force: bool) -> list[Path]:
    config_path = directory / "nudge-build.toml"
    if config_path.exists() and not force:
        raise ConfigError(f"{config_path}: already exists (pass --force to overwrite)")
    text = (resources.files("nudge_build") / "data" / "starter.toml").read_text(encoding="utf-8")
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if copy_templates:
            destination = directory / PARTNER_TEMPLATE_DIR
            if destination.exists() and not force:
                raise ConfigError(f"{destination}: already exists (pass --force to overwrite)")
            shutil.copytree(stock_template_dir(), destination, dirs_exist_ok=True)
            text = text.replace(
                f'# dir = "{PARTNER_TEMPLATE_DIR}"', f'dir = "{PARTNER_TEMPLATE_DIR}"  '
            )
            written.append(destination)
        config_path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot write: {exc.strerror}") from exc
    return [config_path, *written]
