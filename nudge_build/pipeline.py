"""The jobs behind the CLI commands: fetch, render, build, check, flags.

Order matters for the promises we make: everything that can be checked without the network
(config, templates, credentials named in the environment) is checked before the first request;
every client is rendered and validated in memory before the first write; a client that failed
keeps its files and lockfile entry exactly as they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nudge_build.config import ClientConfig, Config
from nudge_build.context import build_context
from nudge_build.credentials import resolve_for_fetch
from nudge_build.errors import ApiError, ConfigError, RenderError
from nudge_build.flags import FlagRules, Flags, compile_rules, derive
from nudge_build.impact import ClientImpact, client_impacts
from nudge_build.journal import Journal
from nudge_build.lock import (
    Lock,
    LockedClient,
    LockEntryError,
    dump_lock,
    encode_entry,
    locked_flags,
    read_lock,
)
from nudge_build.merge.apply import apply_client, clean_merge_temporaries
from nudge_build.merge.plan import MergeChange, plan_merges
from nudge_build.org import Organization, OrganizationError, parse_organization
from nudge_build.platforms.ids import check_app_ids
from nudge_build.secret import declare_public
from nudge_build.suggest import hint
from nudge_build.targets import (
    OutputMap,
    TargetSpec,
    discover_targets,
    expand_target,
    map_outputs,
    search_dirs,
)
from nudge_build.write import (
    Action,
    ClientPlan,
    OutputError,
    clean_temporaries,
    plan_client,
    write_file_atomically,
)

# The API and render modules are imported where they are used, so that `render` and `check`,
# which never touch the network, do not pay for importing httpx and asyncio, and `fetch` and
# `flags`, which render nothing, do not pay for importing jinja2 and compiling templates.
if TYPE_CHECKING:
    from jinja2 import Environment

    from nudge_build.api import FetchResult

Progress = Callable[["FetchResult"], None]


@dataclass(frozen=True)
class Failure:
    client: str
    reason: str
    exit_code: int = ApiError.exit_code  # OutputError.exit_code when its files could not be written


@dataclass(frozen=True)
class RunWarning:
    """Something the run worked around for a client, which its user should hear about once."""

    client: str
    message: str  # names the client and the field; never organization text itself


@dataclass
class RunReport:
    """What a run did, for the summary, the step outputs and the exit code."""

    clients: list[str] = field(default_factory=list)  # selected, in config order
    flags: dict[str, Flags] = field(default_factory=dict)
    # One per selected client that rendered, then one per client no longer configured.
    plans: list[ClientPlan] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    removed_clients: list[str] = field(default_factory=list)
    lock_written: bool = False
    dry_run: bool = False
    merges: dict[str, tuple[MergeChange, ...]] = field(default_factory=dict)  # per client
    # Clients whose flags differ from the lockfile's, with what that changes for store review.
    impacts: list[ClientImpact] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)

    @property
    def merges_done(self) -> list[MergeChange]:
        """The merge targets of the clients done (written, or in a dry run: would be)."""
        return [m for p in self.done for m in self.merges.get(p.client, ())]

    @property
    def conflicts(self) -> dict[str, tuple[str, ...]]:
        return {p.client: p.conflicts for p in self.plans if p.conflicts}

    @property
    def done(self) -> list[ClientPlan]:
        """The plans applied (or, in a dry run, that would be): no conflict, no failure."""
        failed = {f.client for f in self.failures}
        return [p for p in self.plans if not p.conflicts and p.client not in failed]

    @property
    def built(self) -> int:
        selected = set(self.clients)
        return sum(1 for p in self.done if p.client in selected)

    def count(self, action: Action) -> int:
        return sum(p.count(action) for p in self.done)

    @property
    def changed_files(self) -> list[str]:
        return sorted(c.path for p in self.done for c in p.changes if c.action != "unchanged")

    @property
    def exit_code(self) -> int:
        if self.failures:
            # A file that cannot be written needs fixing here; retrying the API will not help.
            codes = {f.exit_code for f in self.failures}
            return OutputError.exit_code if OutputError.exit_code in codes else max(codes)
        if self.conflicts:
            return 1
        return 0


@dataclass(frozen=True)
class Templates:
    """The Jinja environment and the files it renders for each client."""

    env: Environment
    targets: tuple[TargetSpec, ...]
    outputs: OutputMap  # who writes which file: no two pairs collide, stale removal asks it


@dataclass(frozen=True)
class Job:
    """Everything a run needs that does not depend on the network, checked up front."""

    config: Config
    selected: tuple[ClientConfig, ...]
    rules: FlagRules
    lock: Lock
    templates: Templates | None  # None for a job that renders nothing (``fetch``, ``flags``)


def prepare(
    config: Config,
    names: Sequence[str] = (),
    shard: str | None = None,
    *,
    render: bool = True,
) -> Job:
    selected = select_clients(config, names, shard)
    templates = load_templates(config) if render else None
    rules = compile_rules(config.flag_rules, config_path=str(config.path))
    lock = read_lock(config.output.lockfile)
    # Printed by design: a piece of an API key that is also in a client id is no leak.
    declare_public([*(c.id for c in config.clients), *lock.clients])
    return Job(config, selected, rules, lock, templates)


def load_templates(config: Config) -> Templates:
    """Every target's template, compiled: syntax errors surface now, before any request."""
    from nudge_build.render import load_template, make_environment

    dirs = search_dirs(config)
    targets = discover_targets(config, dirs)
    env = make_environment(dirs)
    for spec in targets:
        load_template(env, spec.template)
    return Templates(env, targets, map_outputs(config, targets))


def select_clients(
    config: Config, names: Sequence[str], shard: str | None
) -> tuple[ClientConfig, ...]:
    known = {c.id for c in config.clients}
    unknown = [n for n in names if n not in known]
    if unknown:
        named = ", ".join(name + hint(name, known) for name in unknown)
        raise ConfigError(
            f"unknown client {named}: not in [clients] of {config.path} "
            f"(configured: {', '.join(sorted(known)) or 'none'})"
        )
    chosen = [c for c in config.clients if not names or c.id in names]
    if shard is not None:
        index, total = parse_shard(shard)
        chosen = [c for c in chosen if shard_of(c.id, total) == index]
    return tuple(chosen)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index_text, total_text = text.split("/")
        index, total = int(index_text), int(total_text)
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N, like 2/5") from None
    if total < 1 or not 1 <= index <= total:
        raise ConfigError(f"--shard {text!r}: expected 1 <= I <= N")
    return index, total


def shard_of(client_id: str, total: int) -> int:
    """A stable shard for a client: it depends on nothing but its id and N."""
    digest = hashlib.sha256(client_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


# -- organizations --------------------------------------------------------------------------


def fetch_live(
    job: Job,
    environ: Mapping[str, str],
    *,
    secret_file: Path | None = None,
    on_token: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Organization], list[Failure]]:
    # Everything missing (credentials, every selected client's key) is one error, before any
    # request; every key read is masked in GitHub Actions from here on.
    credentials, keys = resolve_for_fetch(job.config, job.selected, environ, secret_file)
    if job.config.api.base_url is None:
        raise ConfigError(
            f"{job.config.path}: no API URL: set [api].base_url or the NUDGE_API_URL variable"
        )
    if not job.selected:
        return {}, []
    from nudge_build.api import fetch_organizations

    results = fetch_organizations(
        job.config.api,
        credentials,
        [(c.id, keys[c.id]) for c in job.selected],
        on_token=on_token,
        progress=progress,
    )
    orgs = {r.client: r.organization for r in results if r.organization is not None}
    failures = [Failure(r.client, r.error or "unknown error") for r in results if r.error]
    for client_id, org in list(orgs.items()):
        try:
            check_app_ids(org, client=client_id)
        except OrganizationError as exc:  # that client fails before render; the others go on
            del orgs[client_id]
            failures.append(Failure(client_id, str(exc)))
    return orgs, failures


def orgs_from_lock(job: Job) -> dict[str, Organization]:
    missing = [c.id for c in job.selected if c.id not in job.lock.clients]
    if missing:
        raise ConfigError(
            f"{job.config.output.lockfile}: no organization recorded for client "
            f"{', '.join(missing)}; run `nudge-build fetch` (or `build` without --offline)"
        )
    orgs = {}
    for client in job.selected:
        snapshot = job.lock.clients[client.id].organization
        try:
            orgs[client.id] = parse_organization(dict(snapshot), client=client.id)
            check_app_ids(orgs[client.id], client=client.id)
        except ApiError as exc:
            raise ConfigError(f"{job.config.output.lockfile}: {exc}") from exc
    return orgs


def text_warnings(job: Job, orgs: Mapping[str, Organization]) -> list[RunWarning]:
    """One warning per client whose organization left a text blank, so a default stood in."""
    from nudge_build.texts import blank_text_message, blank_texts

    warnings = []
    for client in job.selected:
        if client.id in orgs:
            blanks = blank_texts(orgs[client.id].snapshot.get("messaging", {}))
            if blanks:
                warnings.append(RunWarning(client.id, blank_text_message(client.id, blanks)))
    return warnings


# -- rendering ------------------------------------------------------------------------------


def derive_flags(job: Job, orgs: Mapping[str, Organization]) -> dict[str, Flags]:
    return {
        c.id: derive(
            orgs[c.id].template_view(),
            job.rules,
            c.flags,
            client=c.id,
            allow_unusual=c.allow_unusual_flags,
        )
        for c in job.selected
        if c.id in orgs
    }


def render_all(
    job: Job,
    orgs: Mapping[str, Organization],
    flags: Mapping[str, Flags],
    failures: list[Failure] | None = None,
) -> dict[str, dict[str, bytes]]:
    """Every client's files in memory; a render error stops the run before a write.

    With ``failures``, a client whose render fails fails alone (appended there, exit 4) and the
    others go on: its own data (a name a format cannot carry) is no reason to hold them back.
    When every client fails, the template is what fails, and the run stops as without it.
    """
    from nudge_build.render import RenderTarget, render_client

    if job.templates is None:
        raise ValueError("this job was prepared with render=False")
    env, specs = job.templates.env, job.templates.targets
    rendered: dict[str, dict[str, bytes]] = {}
    errors: list[RenderError] = []
    failed: list[Failure] = []
    for client in job.selected:
        if client.id not in orgs:
            continue
        targets = [RenderTarget(s.template, expand_target(s.path, client.id)) for s in specs]
        context = build_context(client, orgs[client.id], flags[client.id])
        try:
            rendered[client.id] = render_client(env, targets, context, client=client.id)
        except RenderError as exc:
            errors.append(exc)
            failed.append(Failure(client.id, str(exc), RenderError.exit_code))
    if failed and failures is not None and rendered:
        failures += failed
        return rendered
    if errors:
        first = errors[0]
        more = "".join(f"\n{e}" for e in errors[1:])
        raise RenderError(f"{first}{more}\nnothing was written", file=first.file, line=first.line)
    return rendered


def merges_for(
    job: Job, orgs: Mapping[str, Organization], flags: Mapping[str, Flags]
) -> dict[str, tuple[MergeChange, ...]]:
    """Every client's merge targets, edited in memory: a bad one stops the run before a write."""
    env = job.templates.env if job.templates is not None else None
    return plan_merges(job.config, env, job.selected, orgs, flags)


# -- jobs -----------------------------------------------------------------------------------


def run_build(
    job: Job,
    environ: Mapping[str, str],
    *,
    offline: bool = False,
    dry_run: bool = False,
    force: bool = False,
    secret_file: Path | None = None,
    on_token: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> RunReport:
    report = RunReport(clients=[c.id for c in job.selected], dry_run=dry_run)
    if offline:
        orgs = orgs_from_lock(job)
    else:
        orgs, report.failures = fetch_live(
            job, environ, secret_file=secret_file, on_token=on_token, progress=progress
        )
    report.flags = derive_flags(job, orgs)
    report.impacts = client_impacts(job.lock, orgs, report.flags)
    report.warnings = text_warnings(job, orgs)
    rendered = render_all(job, orgs, report.flags, report.failures)
    # A client that failed to render gets no files, and no merges either.
    report.merges = merges_for(job, {c: orgs[c] for c in rendered}, report.flags)
    root = job.config.output.root
    previous = job.lock.clients
    configured = {c.id for c in job.config.clients}
    report.removed_clients = sorted(set(previous) - configured)
    # Every path is checked (symlinks, hand edits) for every client before the first write.
    journal = Journal.load(job.config.output.lockfile)
    wanted = {**rendered, **{client_id: {} for client_id in report.removed_clients}}
    for client_id, files in wanted.items():
        old_files = previous[client_id].files if client_id in previous else {}
        report.plans.append(
            plan_client(
                root,
                client_id,
                files,
                old_files,
                force=force,
                interrupted=journal.known(client_id),
                may_remove=_removable_by(job, client_id),
            )
        )
        report.warnings += [_kept_warning(client_id, path) for path in report.plans[-1].kept]
    encoded = _encode_entries(report, orgs, rendered, previous)
    if dry_run:
        return report
    clean_temporaries(root, job.config.output.lockfile)
    clean_merge_temporaries([m for ms in report.merges.values() for m in ms])
    unrecordable = {p.client for p in report.plans if p.client in rendered} - set(encoded)
    journal.begin(p for p in report.plans if not p.conflicts and p.client not in unrecordable)
    entries = dict(previous)
    applied = []
    try:
        for plan in report.plans:
            if plan.conflicts or plan.client in unrecordable:
                continue
            merges = report.merges.get(plan.client, ())
            try:
                apply_client(root, plan, merges)
            except OutputError as exc:  # that client is as it was; the others go on
                report.failures.append(Failure(plan.client, str(exc), exc.exit_code))
                continue
            applied.append(plan.client)
            if plan.client in rendered:
                entries[plan.client] = encoded[plan.client][0]
            else:
                del entries[plan.client]
    finally:
        # Record what did reach the disk even when a later client failed to write.
        report.lock_written = write_lock(job, entries, encoded)
    journal.settle(applied)
    return report


def _encode_entries(
    report: RunReport,
    orgs: Mapping[str, Organization],
    rendered: Mapping[str, object],
    previous: Mapping[str, LockedClient],
) -> dict[str, tuple[LockedClient, bytes | None]]:
    """Each new lockfile entry, encoded before the first write: a client whose entry could not
    be written fails alone, now, instead of the lockfile failing after its files were written.

    An entry equal to the lockfile's is that very entry, not encoded (None): the reader accepts
    only what the writer can write again, and ``write_lock`` then sees that nothing changed."""
    encoded: dict[str, tuple[LockedClient, bytes | None]] = {}
    for plan in report.plans:
        if plan.conflicts or plan.client not in rendered:
            continue
        merges = report.merges.get(plan.client, ())
        entry = _entry(orgs[plan.client], report.flags[plan.client], plan, merges)
        old = previous.get(plan.client)
        if old is not None and entry == old:
            encoded[plan.client] = (old, None)
            continue
        try:
            encoded[plan.client] = (entry, encode_entry(plan.client, entry))
        except LockEntryError as exc:
            report.failures.append(Failure(plan.client, str(exc), exc.exit_code))
    return encoded


def _removable_by(job: Job, client_id: str) -> Callable[[str], bool]:
    """Which of the files the lockfile lists for a client may go as stale (see OutputMap)."""
    assert job.templates is not None
    outputs = job.templates.outputs
    return lambda relative: outputs.may_remove(client_id, relative)


def _kept_warning(client_id: str, relative: str) -> RunWarning:
    return RunWarning(
        client_id,
        f"client {client_id}: the lockfile lists {relative!r} for it, but that is not where its "
        "targets write (or another target writes it); kept, not removed as stale",
    )


def run_fetch(
    job: Job,
    environ: Mapping[str, str],
    *,
    secret_file: Path | None = None,
    on_token: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Refresh the lockfile's organizations and flags; files stay as they are."""
    report = RunReport(clients=[c.id for c in job.selected])
    orgs, report.failures = fetch_live(
        job, environ, secret_file=secret_file, on_token=on_token, progress=progress
    )
    report.flags = derive_flags(job, orgs)
    report.impacts = client_impacts(job.lock, orgs, report.flags)
    clean_temporaries(None, job.config.output.lockfile)  # the output tree is build's to clean
    entries = dict(job.lock.clients)
    for client_id, org in orgs.items():
        old = entries.get(client_id)
        values, sources = locked_flags(report.flags[client_id])
        files = old.files if old is not None else {}
        merged = old.merged if old is not None else {}
        entries[client_id] = LockedClient(org.snapshot, org.digest, values, sources, files, merged)
    report.lock_written = write_lock(job, entries)
    return report


def _entry(
    org: Organization, flags: Flags, plan: ClientPlan, merges: Sequence[MergeChange]
) -> LockedClient:
    values, sources = locked_flags(flags)
    merged = {m.relative: m.part_digest for m in merges}
    return LockedClient(org.snapshot, org.digest, values, sources, dict(plan.files), merged)


def write_lock(
    job: Job,
    entries: Mapping[str, LockedClient],
    encoded: Mapping[str, tuple[LockedClient, bytes | None]] | None = None,
) -> bool:
    if job.lock.on_disk and entries == job.lock.clients:
        # Nothing it records changed: the lockfile stays as read (even if laid out by hand),
        # and a re-run does not encode every entry only to compare the same bytes.
        return False
    ready = {c: (e, b) for c, (e, b) in (encoded or {}).items() if b is not None}
    data = dump_lock(Lock(dict(entries)), ready)
    return write_file_atomically(job.config.output.lockfile, data)
