"""The journal: digests a run is about to write, recorded before its first replace.

A run killed after replacing files but before writing the lockfile leaves files the lockfile
does not know; the journal lets the next run recognise them as nudge-build's own instead of
reporting them as changed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nudge_build.answer import AnswerRefused, decode_json
from nudge_build.config import CLIENT_ID_PATTERN
from nudge_build.errors import ConfigError
from nudge_build.lock import plain_relative
from nudge_build.write import ClientPlan, OutputError, journal_path, write_file_atomically

# {"clients": {client: {path: [digest, ...]}}}: four levels, nothing deeper.
_DEPTH = 4


@dataclass
class Journal:
    """Per client, per file, the digests that runs which did not finish were about to write.

    Written (atomically) before a run's first replace, trimmed once the lockfile records the
    clients the run completed, deleted when empty: a complete run leaves none behind.
    """

    path: Path
    clients: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, lockfile: Path) -> Journal:
        """The journal beside ``lockfile`` (empty when there is none); a ConfigError naming it
        when it is not one nudge-build wrote: its paths decide what a run may call its own."""
        path = journal_path(lockfile)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
        try:
            raw = decode_json(data, max_depth=_DEPTH)
        except (ValueError, AnswerRefused):  # UnicodeDecodeError is a ValueError
            raise _damaged(path, "it is not JSON of at most four levels") from None
        return cls(path, _clients(path, raw))

    def known(self, client: str) -> Mapping[str, Collection[str]]:
        return self.clients.get(client, {})

    def begin(self, plans: Iterable[ClientPlan]) -> None:
        """Record what ``plans`` will write, before any of it is written."""
        added = False
        for plan in plans:
            for change in plan.changes:
                if change.action not in ("create", "update"):
                    continue
                digests = self.clients.setdefault(plan.client, {}).setdefault(change.path, [])
                digest = plan.files[change.path]
                if digest not in digests:
                    digests.append(digest)
                    added = True
        if added:
            self._save()

    def settle(self, clients: Iterable[str]) -> None:
        """Forget ``clients``: the lockfile now records what is on disk for them."""
        dropped = [c for c in clients if self.clients.pop(c, None) is not None]
        if dropped or (not self.clients and self.path.exists()):
            self._save()

    def _save(self) -> None:
        if not self.clients:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OutputError(f"cannot remove {self.path}: {exc.strerror}") from exc
            return
        data = json.dumps({"clients": self.clients}, indent=1, sort_keys=True) + "\n"
        write_file_atomically(self.path, data.encode("utf-8"))


def _clients(path: Path, raw: object) -> dict[str, dict[str, list[str]]]:
    """The journal's clients, each checked: ids as in a config, plain relative paths, digests."""
    if not isinstance(raw, dict) or not isinstance(raw.get("clients"), dict):
        raise _damaged(path, 'it has no "clients" object')
    clients: dict[str, dict[str, list[str]]] = {}
    for client, files in raw["clients"].items():
        if not CLIENT_ID_PATTERN.match(client):
            raise _damaged(path, f"{client[:60]!r} is not a client id")
        if not isinstance(files, dict):
            raise _damaged(path, f"the entry of client {client} is not an object")
        for relative, digests in files.items():
            if not plain_relative(relative):
                raise _damaged(path, f"{relative[:80]!r} is not a path relative to output.root")
            if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
                raise _damaged(path, f"the digests of {relative[:80]!r} are not a list of strings")
        clients[client] = files
    return clients


def _damaged(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{path}: not a journal nudge-build wrote ({why}). It only lists the files an "
        "interrupted run was about to write: delete it and run the build again (a file it "
        "listed may then be reported as changed by hand; --force overwrites it)",
        file=str(path),
    )
