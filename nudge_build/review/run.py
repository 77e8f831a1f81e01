"""The ``review`` job: each selected client's kit from its lockfile entry (no network)."""

from __future__ import annotations

import json
from pathlib import Path

from nudge_build.config import BUILTIN_FLAGS
from nudge_build.errors import ConfigError
from nudge_build.pipeline import Job, orgs_from_lock
from nudge_build.review.kit import ReviewKit, build_kit, kit_data
from nudge_build.review.markdown import kit_markdown
from nudge_build.write import write_file_atomically


def review_kits(job: Job) -> list[ReviewKit]:
    """The kits in config order, from the flags the last build recorded (what the app shipped)."""
    orgs = orgs_from_lock(job)
    kits = []
    for client in job.selected:
        flags = job.lock.clients[client.id].flags
        missing = [name for name in BUILTIN_FLAGS if name not in flags]
        if missing:
            raise ConfigError(
                f"{job.config.output.lockfile}: client {client.id}: no value recorded for flag "
                f"{', '.join(missing)}; run `nudge-build fetch` (or `build`)"
            )
        kits.append(build_kit(client.id, orgs[client.id], flags))
    return kits


def kits_json(kits: list[ReviewKit]) -> str:
    return json.dumps({"clients": [kit_data(k) for k in kits]}, indent=2, ensure_ascii=False)


def kits_markdown(kits: list[ReviewKit]) -> str:
    return "\n---\n\n".join(kit_markdown(k) for k in kits)


def write_kits(kits: list[ReviewKit], out: Path, *, as_json: bool) -> list[Path]:
    """``out/<client>.md`` (or ``.json``) per kit; a file already current is not rewritten."""
    written = []
    for kit in kits:
        if as_json:
            path = out / f"{kit.client}.json"
            data = json.dumps(kit_data(kit), indent=2, ensure_ascii=False) + "\n"
        else:
            path = out / f"{kit.client}.md"
            data = kit_markdown(kit)
        write_file_atomically(path, data.encode("utf-8"))
        written.append(path)
    return written
