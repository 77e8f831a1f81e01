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

from nudge_build.write import ClientPlan, OutputError, journal_path, write_file_atomically


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
        path = journal_path(lockfile)
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(path)
        except ValueError:
            return cls(path)  # not ours or damaged: at worst a file is reported as edited by hand
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
        clients: dict[str, dict[str, list[str]]] = {}
        if isinstance(raw, dict) and isinstance(raw.get("clients"), dict):
            for client, files in raw["clients"].items():
                if isinstance(files, dict):
                    clients[client] = {
                        p: [d for d in ds if isinstance(d, str)]
                        for p, ds in files.items()
                        if isinstance(ds, list)
                    }
        return cls(path, clients)

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
