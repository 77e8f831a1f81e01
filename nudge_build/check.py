"""``check``: would a render change anything? Files and lockfile compared, nothing written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nudge_build.impact import ClientImpact, client_impacts
from nudge_build.lock import file_digest, locked_flags
from nudge_build.pipeline import (
    Failure,
    Job,
    Progress,
    RunWarning,
    derive_flags,
    fetch_live,
    merges_for,
    orgs_from_lock,
    render_all,
    text_warnings,
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
    # Why it differs (a key of CAUSES) and the command that makes it current again.
    cause: str = ""
    fix: str = ""

    @property
    def headline(self) -> str:
        """One line naming the difference, its cause and its fix (a diff may follow)."""
        if self.kind == "lock":
            what = f"lockfile out of date for client {self.client}: {self.detail}"
        else:
            what = f"{CAUSES[self.cause]}: {self.path} (client {self.client})"
        return f"{what}; fix: `{self.fix}`"


# What a difference means, as ``check`` names it. A hand edit is told from a template change by
# the lockfile: it records the digest of every file as nudge-build wrote it.
CAUSES = {
    "hand-edit": "hand edit",
    "organization-changed": "organization changed",
    "template-changed": "template changed",
    "missing": "missing",
    "stale": "stale",
}


@dataclass
class CheckReport:
    drifts: list[Drift] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    impacts: list[ClientImpact] = field(default_factory=list)  # flags unlike the lockfile's
    warnings: list[RunWarning] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.failures:
            return 3
        return 1 if self.drifts else 0

    def summary_line(self) -> str:
        """``up to date``, or the count of each cause and the commands that fix them."""
        if not self.drifts:
            return "up to date"
        counts: dict[str, int] = {}
        for drift in self.drifts:
            label = "lockfile" if drift.kind == "lock" else CAUSES[drift.cause]
            counts[label] = counts.get(label, 0) + 1
        fixes = sorted({_generic(d) for d in self.drifts}, key=_FIX_ORDER.index)
        kinds = ", ".join(f"{n} {label}" for label, n in counts.items())
        commands = ", ".join(f"`{fix}`" for fix in fixes)
        return f"{len(self.drifts)} difference(s) ({kinds}); to update: {commands}"


_FIX_ORDER = ["nudge-build build --force", "nudge-build build", "nudge-build render"]


def _generic(drift: Drift) -> str:
    """The drift's fix for every client alike (the client id dropped)."""
    return drift.fix.removesuffix(f" {drift.client}")


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
    report.impacts = client_impacts(job.lock, orgs, flags)
    report.warnings = text_warnings(job, orgs)
    rendered = render_all(job, orgs, flags)
    merges = merges_for(job, orgs, flags)
    root = job.config.output.root
    lock_name = job.config.output.lockfile.name
    for client_id, files in rendered.items():
        entry = job.lock.clients.get(client_id)
        recorded = entry.files if entry is not None else {}
        # Without --live the organization is the lockfile's own: only a live one can differ.
        org_changed = entry is None or entry.digest != orgs[client_id].digest
        refresh = f"nudge-build {'build' if org_changed else 'render'} {client_id}"
        changed_cause = "organization-changed" if org_changed else "template-changed"
        force = f"nudge-build build --force {client_id}"
        for relative, new in sorted(files.items()):
            old = read_target(root, relative)
            if old is None:
                report.drifts.append(Drift(client_id, "missing", relative, "", "missing", refresh))
            elif old != new:
                diff = unified_diff(relative, old, new)
                if recorded.get(relative) != file_digest(old):  # not as nudge-build wrote it
                    drift = Drift(client_id, "changed", relative, diff, "hand-edit", force)
                else:
                    drift = Drift(client_id, "changed", relative, diff, changed_cause, refresh)
                report.drifts.append(drift)
        # Merge targets: only nudge's part can drift; the partner's edits elsewhere merge through.
        # When the lockfile records the part this run would write, the file itself moved: a hand
        # edit of nudge's keys, which any build or render puts back (no --force needed).
        for merge in merges.get(client_id, ()):
            if merge.changed:
                diff = unified_diff(merge.relative, merge.old, merge.new)
                by_hand = (
                    entry is not None and entry.merged.get(merge.relative) == merge.part_digest
                )
                cause = "hand-edit" if by_hand else changed_cause
                path = str(merge.path.absolute())
                report.drifts.append(Drift(client_id, "changed", path, diff, cause, refresh))
        for relative in sorted(set(recorded) - set(files)):
            old = read_target(root, relative)
            if old is not None:
                fix = refresh if file_digest(old) == recorded[relative] else force
                report.drifts.append(Drift(client_id, "stale", relative, "", "stale", fix))
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
            cause = "missing" if entry is None else changed_cause
            detail = ", ".join(reasons)
            report.drifts.append(Drift(client_id, "lock", lock_name, detail, cause, refresh))
    configured = {c.id for c in job.config.clients}
    for client_id in sorted(set(job.lock.clients) - configured):
        # A full render removes a client no longer configured (its id is no longer valid).
        gone = "client no longer configured"
        report.drifts.append(
            Drift(client_id, "lock", lock_name, gone, "stale", "nudge-build render")
        )
        recorded = job.lock.clients[client_id].files
        for relative in sorted(recorded):
            old = read_target(root, relative)
            if old is not None:
                by_hand = file_digest(old) != recorded[relative]
                fix = "nudge-build build --force" if by_hand else "nudge-build render"
                report.drifts.append(Drift(client_id, "stale", relative, "", "stale", fix))
    return report
