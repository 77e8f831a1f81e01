"""Which templates render to which files: stock sets, partner overrides, extra targets.

A set is a folder of ``*.j2`` templates (``ios/``, ``android/`` …). The partner's
``[templates].dir`` is searched before the stock templates, so a partner file with a stock name
replaces it and a new file in a set's folder joins that set.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nudge_build.config import CLIENT_ID_PATTERN, CLIENT_PLACEHOLDER, Config
from nudge_build.errors import ConfigError
from nudge_build.suggest import hint
from nudge_build.write import journal_path

TEMPLATE_SUFFIX = ".j2"


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
                f"{config.path}: [templates].stock: unknown template set {set_name!r}"
                f"{hint(set_name, sets)}; available: {', '.join(sets)}"
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


# -- who writes where -----------------------------------------------------------------------


def fold(path: str) -> str:
    """A path as a case-insensitive, normalization-insensitive file system sees it.

    macOS (APFS, HFS+) and Windows treat ``A.txt`` and ``a.txt``, or ``é`` composed and
    decomposed, as one file; two targets that differ only so would overwrite each other there.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", path).casefold())


@dataclass(frozen=True)
class OutputMap:
    """Every file the configured clients write, with its writer: checked once per run.

    Built from *every* configured client, not only those of this run (``--shard``, named
    clients), so that no run can remove or overwrite a file another client writes.
    """

    root: str  # output.root, symlinks resolved: every key below starts with it
    owners: dict[str, str] = field(default_factory=dict)  # folded absolute path -> writer
    specs: tuple[TargetSpec, ...] = ()

    def owner(self, relative: str) -> str | None:
        """Who writes the output-root-relative ``relative`` (any client, merge or lockfile)."""
        return self.owners.get(fold(_joined(self.root, relative)))

    def may_remove(self, client_id: str, relative: str) -> bool:
        """Whether a file the lockfile lists for ``client_id`` may go as stale.

        Only a file that no configured client (nor a merge, nor the lockfile) writes, and that
        lies where a target of this client writes: one of its target paths now, or a path
        naming the client as a word of its own (``{client}/…``, ``…/{client}.txt``,
        ``{client}-top.txt``), as every target pattern does, so that the files of a target
        dropped from the config still go. The lockfile is a file anyone can edit or merge: an
        entry naming another client's file, or the partner's own, removes nothing.
        """
        if self.owner(relative) is not None or not CLIENT_ID_PATTERN.match(client_id):
            return False  # an id no config accepts ('', '..') names no file of its own
        word = re.compile(rf"(?<![a-z0-9]){re.escape(client_id)}(?![a-z0-9])")
        if any(word.search(part) for part in relative.split("/")):
            return True
        for spec in self.specs:
            try:
                if expand_target(spec.path, client_id) == relative:
                    return True
            except ConfigError:  # an id (from the lockfile) that makes no valid path
                return False
        return False


def map_outputs(config: Config, specs: Iterable[TargetSpec]) -> OutputMap:
    """Every (client, target) and (client, merge target) pair, refused where two meet.

    Two pairs meet when they resolve to one file, also once letter case and Unicode
    normalization are ignored, or when one needs as a folder what the other writes as a file.
    The lockfile, its journal and the config file are claimed too. A ConfigError (exit 2)
    names both pairs before anything is fetched or written.
    """
    specs = tuple(specs)
    root = os.path.realpath(config.output.root)
    project = os.path.realpath(config.project_dir)
    owners: dict[str, str] = {}
    shown: dict[str, str] = {}

    def claim(path: str, writer: str) -> None:
        key = fold(path)
        other = owners.get(key)
        if other is not None and other != writer:
            _collision(config, other, writer, shown[key], path)
        owners[key] = writer
        shown[key] = path

    lockfile = config.output.lockfile
    claim(os.path.realpath(config.path), "the config file")
    claim(os.path.realpath(lockfile), "the lockfile")
    claim(os.path.realpath(journal_path(lockfile)), "the journal")
    for client in config.clients:
        for spec in specs:
            relative = expand_target(spec.path, client.id, where=f"{config.path}: {spec.template}")
            writer = f"client {client.id}'s target {spec.path!r} (template {spec.template})"
            claim(_joined(root, relative), writer)
        for kind, pattern in config.merge.targets():
            relative = pattern.replace(CLIENT_PLACEHOLDER, client.id)
            writer = f"client {client.id}'s [merge].{kind} {pattern!r}"
            claim(_joined(project, relative), writer)
    for key, writer in owners.items():
        parent, sep, _ = key.rpartition(os.sep)
        while sep and parent:
            if parent in owners:
                _collision(config, owners[parent], writer, shown[parent], shown[key], folder=True)
            parent, sep, _ = parent.rpartition(os.sep)
    return OutputMap(root, owners, specs)


def _joined(base: str, relative: str) -> str:
    """``base`` (absolute, resolved) and a POSIX relative path as one path of this system."""
    return base.rstrip(os.sep) + os.sep + relative.replace("/", os.sep)


def _collision(
    config: Config, first: str, second: str, path: str, other: str, *, folder: bool = False
) -> None:
    if folder:
        what = f"{first} writes the file {path}, which {second} needs as a folder (for {other})"
    elif path == other:
        what = f"{first} and {second} both write {path}"
    else:
        what = (
            f"{first} writes {path} and {second} writes {other}: one file where letter case "
            "or Unicode normalization is ignored (macOS, Windows)"
        )
    raise ConfigError(
        f"{config.path}: {what}; each would overwrite the other, so nothing was written. "
        "Give each client and target a path of its own"
    )
