"""Which templates render to which files: stock sets, partner overrides, extra targets.

A set is a folder of ``*.j2`` templates (``ios/``, ``android/`` …). The partner's
``[templates].dir`` is searched before the stock templates, so a partner file with a stock name
replaces it and a new file in a set's folder joins that set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nudge_build.config import Config
from nudge_build.errors import ConfigError

TEMPLATE_SUFFIX = ".j2"
CLIENT_PLACEHOLDER = "{client}"


@dataclass(frozen=True)
class TargetSpec:
    template: str  # loader name, e.g. "ios/NudgeInfo.plist.j2"
    path: str  # output-root-relative pattern, e.g. "{client}/ios/NudgeInfo.plist"


def stock_template_dir() -> Path:
    """Inside a wheel the templates sit in the package; in a source checkout, beside it."""
    packaged = Path(__file__).resolve().parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def search_dirs(config: Config) -> list[Path]:
    dirs = []
    if config.templates.dir is not None:
        if not config.templates.dir.is_dir():
            raise ConfigError(
                f"{config.path}: [templates].dir: {config.templates.dir} is not a directory"
            )
        dirs.append(config.templates.dir)
    dirs.append(stock_template_dir())
    return dirs


def available_sets(dirs: list[Path]) -> list[str]:
    names = {p.name for d in dirs for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return sorted(names)


def set_templates(dirs: list[Path], set_name: str) -> list[str]:
    """Loader names of every template in a set, across the search path, sorted."""
    names: set[str] = set()
    for directory in dirs:
        base = directory / set_name
        if base.is_dir():
            for path in base.rglob(f"*{TEMPLATE_SUFFIX}"):
                # `_name.j2` is a partial (macros, includes): used by templates, never a target.
                if path.is_file() and not path.name.startswith("_"):
                    names.add(path.relative_to(directory).as_posix())
    return sorted(names)


def discover_targets(config: Config, dirs: list[Path]) -> tuple[TargetSpec, ...]:
    sets = available_sets(dirs)
    specs: list[TargetSpec] = []
    for set_name in config.templates.stock:
        if set_name not in sets:
            raise ConfigError(
                f"{config.path}: [templates].stock: unknown template set {set_name!r}; "
                f"available: {', '.join(sets)}"
            )
        for name in set_templates(dirs, set_name):
            output = name[: -len(TEMPLATE_SUFFIX)]
            specs.append(TargetSpec(name, f"{CLIENT_PLACEHOLDER}/{output}"))
    for name, pattern in config.templates.targets:
        where = f"{config.path}: [templates.targets].{name!r}"
        if config.templates.dir is None or not (config.templates.dir / name).is_file():
            raise ConfigError(f"{where}: no such template in [templates].dir")
        check_target_pattern(pattern, where)
        specs.append(TargetSpec(name, pattern))
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.path in seen:
            raise ConfigError(
                f"{config.path}: templates {seen[spec.path]} and {spec.template} "
                f"both write {spec.path}"
            )
        seen[spec.path] = spec.template
    return tuple(specs)


def check_target_pattern(pattern: str, where: str) -> None:
    if CLIENT_PLACEHOLDER not in pattern:
        raise ConfigError(
            f"{where}: target {pattern!r} must contain {{client}}, or every client "
            "would write the same file"
        )
    expand_target(pattern, "client", where=where)


def expand_target(pattern: str, client_id: str, *, where: str = "target") -> str:
    """The output-root-relative path for one client; anything that could leave the root fails."""
    path = pattern.replace(CLIENT_PLACEHOLDER, client_id)
    problem = None
    if "\0" in path or "\\" in path:
        problem = "contains a NUL or backslash"
    elif "{" in path or "}" in path:
        problem = "has a placeholder other than {client}"
    elif path.startswith("/"):  # the only absolute form a POSIX path has
        problem = "is absolute"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "has an empty, '.' or '..' part"
    if problem is not None:
        raise ConfigError(f"{where}: target {path!r} {problem}; it must stay under output.root")
    return path
