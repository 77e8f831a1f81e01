"""``nudge-build templates``: what the template search path holds, and one template's text."""

from __future__ import annotations

from pathlib import Path

from nudge_build.config import Config
from nudge_build.errors import ConfigError
from nudge_build.targets import available_sets, search_dirs, set_templates, stock_template_dir


def _dirs(config: Config | None) -> list[Path]:
    return search_dirs(config) if config is not None else [stock_template_dir()]


def list_templates(config: Config | None) -> list[str]:
    dirs = _dirs(config)
    stock = stock_template_dir()
    lines = []
    selected = set(config.templates.stock) if config is not None else set()
    for set_name in available_sets(dirs):
        mark = " (rendered)" if set_name in selected else ""
        lines.append(f"{set_name}{mark}")
        for name in set_templates(dirs, set_name):
            origin = next(d for d in dirs if (d / name).is_file())
            source = "stock" if origin == stock else f"from {origin}"
            lines.append(f"  {name}  [{source}]")
    return lines


def show_template(config: Config | None, name: str) -> str:
    for directory in _dirs(config):
        path = directory / name
        if path.is_file() and directory.resolve() in path.resolve().parents:
            return path.read_text(encoding="utf-8").rstrip("\n")
    raise ConfigError(f"no template named {name!r}; see `nudge-build templates --list`")
