"""Each client's merge targets: read, merged in memory, nothing written.

What goes into a target comes from the platform table (``context["platform"]``) and the client's
texts (``context["texts"]``), the same values the templates see; the ``.env`` block is the stock
``react-native/nudge.env.j2`` rendered for the client (a partner override of it in
``[templates].dir`` wins, as for any stock template).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nudge_build.config import CLIENT_PLACEHOLDER, ClientConfig, Config
from nudge_build.context import build_context
from nudge_build.errors import ConfigError, NudgeBuildError
from nudge_build.flags import Flags
from nudge_build.lock import file_digest
from nudge_build.merge.plist import merge_info_plist, nudge_part
from nudge_build.org import Organization
from nudge_build.platforms import PlatformRules

if TYPE_CHECKING:
    from jinja2 import Environment

DOTENV_TEMPLATE = "react-native/nudge.env.j2"


@dataclass(frozen=True)
class MergeChange:
    """One merge target of one client: its bytes now and after nudge's edit."""

    client: str
    kind: str  # the [merge] key: "info_plist" or "dotenv"
    relative: str  # project-relative, POSIX: the lockfile's key
    path: Path  # as the user names it: config folder / relative
    target: Path  # the real file to replace
    old: bytes
    new: bytes
    part_digest: str  # digest of nudge's part of ``new``

    @property
    def changed(self) -> bool:
        return self.old != self.new


def plan_merges(
    config: Config,
    env: Environment | None,
    clients: Sequence[ClientConfig],
    orgs: Mapping[str, Organization],
    flags: Mapping[str, Flags],
) -> dict[str, tuple[MergeChange, ...]]:
    """Every selected client's merge targets; any problem is an error before the first write."""
    targets = config.merge.targets()
    if not targets:
        return {}
    merges: dict[str, tuple[MergeChange, ...]] = {}
    for client in clients:
        if client.id not in orgs:
            continue  # its fetch failed: it gets no files, and no merges either
        context = build_context(client, orgs[client.id], flags[client.id])
        changes = []
        for kind, pattern in targets:
            relative = pattern.replace(CLIENT_PLACEHOLDER, client.id)
            path = config.project_dir / relative
            try:
                changes.append(_merge_one(config, env, client, context, kind, relative, path))
            except NudgeBuildError as exc:
                raise type(exc)(
                    f"client {client.id}: {exc}", file=exc.file, line=exc.line
                ) from None
        merges[client.id] = tuple(changes)
    return merges


def _merge_one(
    config: Config,
    env: Environment | None,
    client: ClientConfig,
    context: Mapping[str, Any],
    kind: str,
    relative: str,
    path: Path,
) -> MergeChange:
    target = _resolve(config.project_dir, path, kind)
    try:
        old = target.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from exc
    rules: PlatformRules = context["platform"]
    if kind == "info_plist":
        new = merge_plist(old, rules, context["texts"], where=str(path))
        ios = rules.ios
        part = nudge_part(
            new,
            keys=[p.key for p in ios.purpose_strings] + list(ios.forbidden_keys),
            modes=ios.background_modes + ios.forbidden_modes,
            where=str(path),
        )
    else:
        from nudge_build.merge.dotenv import dotenv_part, merge_dotenv

        entries = dotenv_entries(env, context, client.id)
        new = merge_dotenv(old, entries, where=str(path))
        part = dotenv_part(new, where=str(path))
    return MergeChange(client.id, kind, relative, path, target, old, new, file_digest(part))


def merge_plist(
    data: bytes, rules: PlatformRules, texts: Mapping[str, str], *, where: str
) -> bytes:
    """The Info.plist edit for one client, exactly as the platform table states it."""
    ios = rules.ios
    return merge_info_plist(
        data,
        strings={p.key: texts[p.text] for p in ios.purpose_strings},
        remove_keys=ios.forbidden_keys,
        add_modes=ios.background_modes,
        remove_modes=ios.forbidden_modes,
        where=where,
    )


def dotenv_entries(
    env: Environment | None, context: Mapping[str, Any], client_id: str
) -> list[tuple[str, str]]:
    """(KEY, value) of the client's rendered ``nudge.env``, values as the app reads them.

    Rendered as a target of its own, so the .env format's encoding and validation apply; read
    back with react-native-config's rules (comments dropped), since ``merge_dotenv`` spells the
    values for the partner's file itself.
    """
    from nudge_build.formats import read_env
    from nudge_build.render import RenderTarget, render_client

    if env is None:
        raise ValueError("a dotenv merge needs the job's template environment")
    rendered = render_client(
        env, [RenderTarget(DOTENV_TEMPLATE, "nudge.env")], context, client=client_id
    )
    return list(read_env(rendered["nudge.env"].decode("utf-8")).items())


def _resolve(project: Path, path: Path, kind: str) -> Path:
    """The real file behind ``path``; it must exist, be a plain file and stay in the project."""
    real_project = Path(os.path.realpath(project))
    real_parent = Path(os.path.realpath(path.parent))
    if real_parent != real_project and real_project not in real_parent.parents:
        raise ConfigError(
            f"{path}: leads outside the project folder {project} (through a symlink, to "
            f"{real_parent}); [merge].{kind} edits only files inside it",
            file=str(path),
        )
    target = real_parent / path.name
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(
            f"{path}: no such file; [merge].{kind} names the app's own file, which nudge-build "
            "edits but never creates",
            file=str(path),
        ) from None
    if stat.S_ISLNK(mode):
        raise ConfigError(f"{path}: is a symlink; nudge-build edits only plain files")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: is not a plain file")
    return target
