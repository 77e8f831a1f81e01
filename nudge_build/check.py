"""``check``: would a render change anything? Files and lockfile compared, nothing written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nudge_build.lock import file_digest, locked_flags
from nudge_build.pipeline import (
    Failure,
    Job,
    Progress,
    derive_flags,
    fetch_live,
    merges_for,
    orgs_from_lock,
    render_all,
)
from nudge_build.report import unified_diff
from nudge_build.write import read_target

DriftKind = Literal["changed", "missing", "stale", "lock"]


@dataclass(frozen=True)
class Drift:
    client: str
    kind: DriftKind
    # A file under the output root, the absolute path of a merge target (the partner's own
    # file, outside the root), or "nudge-build.lock" for lockfile drift.
    path: str
    detail: str = ""  # unified diff for "changed", a reason for "lock"


@dataclass
class CheckReport:
    drifts: list[Drift] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.failures:
            return 3
        return 1 if self.drifts else 0


def run_check(
    job: Job,
    environ: Mapping[str, str],
    *,
    live: bool = False,
    secret_file: Path | None = None,
    on_token: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    report = CheckReport()
    if live:
        orgs, report.failures = fetch_live(
            job, environ, secret_file=secret_file, on_token=on_token, progress=progress
        )
    else:
        orgs = orgs_from_lock(job)
    flags = derive_flags(job, orgs)
    rendered = render_all(job, orgs, flags)
    merges = merges_for(job, orgs, flags)
    root = job.config.output.root
    lock_name = job.config.output.lockfile.name
    for client_id, files in rendered.items():
        entry = job.lock.clients.get(client_id)
        for relative, new in sorted(files.items()):
            old = read_target(root, relative)
            if old is None:
                report.drifts.append(Drift(client_id, "missing", relative))
            elif old != new:
                diff = unified_diff(relative, old, new)
                report.drifts.append(Drift(client_id, "changed", relative, diff))
        # Merge targets: only nudge's part can drift; the partner's edits elsewhere merge through.
        for merge in merges.get(client_id, ()):
            if merge.changed:
                diff = unified_diff(merge.relative, merge.old, merge.new)
                report.drifts.append(Drift(client_id, "changed", str(merge.path.absolute()), diff))
        recorded = entry.files if entry is not None else {}
        for relative in sorted(set(recorded) - set(files)):
            if read_target(root, relative) is not None:
                report.drifts.append(Drift(client_id, "stale", relative))
        reasons = []
        if entry is None:
            reasons.append("no entry")
        else:
            values, sources = locked_flags(flags[client_id])
            if entry.digest != orgs[client_id].digest:
                reasons.append("organization changed")
            if dict(entry.flags) != values or dict(entry.flag_sources) != sources:
                reasons.append("flags changed")
            current = {path: file_digest(data) for path, data in files.items()}
            if dict(entry.files) != current:
                reasons.append("file list or digests changed")
            merged = {m.relative: m.part_digest for m in merges.get(client_id, ())}
            if dict(entry.merged) != merged:
                reasons.append("merge targets or nudge's part of them changed")
        if reasons:
            report.drifts.append(Drift(client_id, "lock", lock_name, ", ".join(reasons)))
    configured = {c.id for c in job.config.clients}
    for client_id in sorted(set(job.lock.clients) - configured):
        report.drifts.append(Drift(client_id, "lock", lock_name, "client no longer configured"))
        for relative in sorted(job.lock.clients[client_id].files):
            if read_target(root, relative) is not None:
                report.drifts.append(Drift(client_id, "stale", relative))
    return report
