"""The ``nudge-build`` command line: parse options, call one job, print its result.

Stages are imported inside the commands, so that ``--version`` and ``--help`` do not pay for
httpx and jinja2.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from nudge_build import __version__, style
from nudge_build.cli_options import State as _State
from nudge_build.cli_options import SuggestingGroup, apply_settings
from nudge_build.errors import ConfigError, NudgeBuildError

if TYPE_CHECKING:
    from nudge_build.config import Config
    from nudge_build.pipeline import Job, RunReport


class _Group(SuggestingGroup):
    """Maps our error family to one ``error: …`` line and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NudgeBuildError as exc:
            _fail(ctx, exc, exc.exit_code)
        except KeyboardInterrupt:
            _echo("error: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: still one line, no secret, traceback with -v
            _fail(ctx, exc, 1, prefix="internal error: ")


def _fail(ctx: click.Context, exc: BaseException, code: int, prefix: str = "") -> NoReturn:
    from nudge_build import github

    state = ctx.find_object(_State)
    if state is not None and state.verbose:
        _echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    lines = str(exc).splitlines() or [type(exc).__name__]
    if github.active(os.environ):
        # The annotation is the error's one line in the log; the summary says what failed.
        message = "\n".join(f"{prefix}{line}" for line in lines)
        file, line = (exc.file, exc.line) if isinstance(exc, NudgeBuildError) else (None, None)
        github.annotate_error(message, file=file, line=line)
        github.append_summary(github.error_summary(ctx.invoked_subcommand, message, code))
    else:
        for line_text in lines:
            _echo(f"error: {prefix}{line_text}", err=True)
    sys.exit(code)


def _echo(text: str, *, err: bool = False) -> None:
    from nudge_build import github
    from nudge_build.secret import redact

    text = github.text_only(redact(text))  # a lone surrogate from a server cannot be printed
    if github.active(os.environ):  # whatever it quotes, no line of it acts as a workflow command
        text = github.inert(text)
    click.echo(style.prefixes(text), err=err)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help=(
        "Config file (default: $NUDGE_BUILD_CONFIG, else the nearest nudge-build.toml in this "
        "folder or a parent)."
    ),
)
@click.option("-v", "--verbose", count=True, help="More detail, tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--no-color", is_flag=True, help="No ANSI colours (also: NO_COLOR=1).")
@click.version_option(__version__, prog_name="nudge-build")
@click.pass_context
def main(ctx: click.Context, config: str | None, verbose: int, quiet: bool, no_color: bool) -> None:
    """Render each client's mobile build configuration from its nudge organization.

    -v, -q, --config and --no-color go before or after the command."""
    ctx.obj = _State(config, verbose, quiet, no_color)
    if ctx.invoked_subcommand is not None:
        # Again in the command, with any of these options given after its name.
        apply_settings(ctx, ctx.obj)
        from nudge_build import github

        if github.active(os.environ):
            # From here on, every secret is masked the moment the run learns it.
            ctx.with_resource(github.masking())


pass_state = click.make_pass_decorator(_State)

_clients_argument = click.argument("clients", nargs=-1, metavar="[CLIENT]...")
_shard_option = click.option(
    "--shard", metavar="I/N", help="Only the clients of shard I of N (stable across runs)."
)
_secret_file_option = click.option(
    "--client-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the client secret from this file instead of the environment.",
)


def _job(
    state: _State,
    clients: Sequence[str],
    shard: str | None = None,
    *,
    render: bool = True,
    locked: bool = False,
) -> Job:
    from nudge_build.pipeline import prepare

    config = state.load()
    if locked:
        # One run at a time per project, held until the command ends (see runlock.py). The
        # wait is said even under -q: a run that seems to hang should say why.
        from nudge_build.runlock import hold_run_lock

        lock = hold_run_lock(
            config.output.lockfile,
            config.output.lock_timeout,
            on_wait=lambda message: _echo(message, err=True),
        )
        click.get_current_context().with_resource(lock)
    return prepare(config, clients, shard, render=render)


def _network_hooks(state: _State, total: int, label: str) -> dict[str, Any]:
    from nudge_build import github
    from nudge_build.report import Progress

    hooks: dict[str, Any] = {}
    if github.active(os.environ):
        # Secrets are masked when registered (see ``main``); this names the token explicitly.
        hooks["on_token"] = github.mask
    if not state.quiet:
        hooks["progress"] = Progress(total, label)
    return hooks


def _print_failures(failures: Sequence[Any], *, annotated: bool = False) -> None:
    """One line per failed client; the count belongs to the command's summary.

    In GitHub the line is the ``::error`` annotation (the log shows it as the error line), which
    ``github.report_*`` writes when ``annotated``: never both, so nothing is said twice."""
    from nudge_build import github

    in_github = github.active(os.environ)
    for failure in failures:
        if not in_github:
            _echo(f"error: {failure.reason}", err=True)
        elif not annotated:
            github.annotate("error", failure.reason, title=f"client {failure.client}")


def _print_warnings(warnings: Sequence[Any]) -> None:
    from nudge_build import github

    if github.active(os.environ):
        return  # github.report_build and report_check annotate each: one line, not two
    for warning in warnings:
        _echo(f"warning: {warning.message}", err=True)


def _print_impacts(state: _State, impacts: Sequence[Any]) -> None:
    """After the run: each client whose flags changed against the lockfile, for review."""
    if state.quiet or not impacts:
        return
    _echo("flags changed against the lockfile (what that changes for store review):")
    for impact in impacts:
        _echo(f"  {impact.line()}")


def _finish_build(state: _State, job: Job, report: RunReport, command: str) -> NoReturn:
    from nudge_build import github
    from nudge_build.report import build_summary, dry_run_lines

    in_github = github.active(os.environ)
    if report.dry_run and not state.quiet:
        # Diffs show organization data: in GitHub, none of their lines may act as a command.
        with github.commands_stopped() if in_github else contextlib.nullcontext():
            for line in dry_run_lines(report, with_diff=state.verbose > 0):
                _echo(style.diff(line))
    for client, paths in report.conflicts.items():
        for path in paths if not in_github else ():  # there, report_build annotates each
            _echo(
                f"warning: client {client}: {path} was changed by hand since nudge-build wrote "
                "it; left as it is with the rest of this client's files (see `nudge-build "
                "check`, or pass --force to overwrite or remove it)",
                err=True,
            )
    _print_warnings(report.warnings)
    _print_failures(report.failures, annotated=in_github)
    if not state.quiet:
        for line in build_summary(report, command):
            _echo(line)
    _print_impacts(state, report.impacts)
    if in_github:
        if not state.quiet:
            github.print_client_details(report, _echo)
        output = job.config.output
        github.report_build(report, command, root=output.root, lockfile=output.lockfile)
    sys.exit(report.exit_code)


@main.command()
@_clients_argument
@click.option("--offline", is_flag=True, help="Use the organizations in the lockfile; no network.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite files that were changed by hand.")
@_shard_option
@_secret_file_option
@pass_state
def build(
    state: _State,
    clients: tuple[str, ...],
    offline: bool,
    dry_run: bool,
    force: bool,
    shard: str | None,
    client_secret_file: Path | None,
) -> None:
    """Fetch every client's organization and render its files: the main job."""
    from nudge_build.pipeline import run_build

    job = _job(state, clients, shard, locked=True)
    _project_notes(state, job.config)
    hooks = {} if offline else _network_hooks(state, len(job.selected), "fetched")
    report = run_build(
        job,
        os.environ,
        offline=offline,
        dry_run=dry_run,
        force=force,
        secret_file=client_secret_file,
        **hooks,
    )
    _finish_build(state, job, report, "build")


def _project_notes(state: _State, config: Config) -> None:
    """Warnings about the project itself, before a build: each one line, never an error."""
    from nudge_build.gitignore import ignored_root_warning
    from nudge_build.template_copies import behind_note

    warning = ignored_root_warning(config.output.root, str(config.output.root))
    if warning is not None:
        _echo(warning, err=True)
    note = behind_note(config.templates.dir)
    if note is not None and not state.quiet:
        _echo(note, err=True)


@main.command()
@_clients_argument
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite files that were changed by hand.")
@_shard_option
@pass_state
def render(
    state: _State, clients: tuple[str, ...], dry_run: bool, force: bool, shard: str | None
) -> None:
    """Render from the lockfile only (no network)."""
    from nudge_build.pipeline import run_build

    job = _job(state, clients, shard, locked=True)
    report = run_build(job, os.environ, offline=True, dry_run=dry_run, force=force)
    _finish_build(state, job, report, "render")


@main.command()
@_clients_argument
@_shard_option
@_secret_file_option
@pass_state
def fetch(
    state: _State, clients: tuple[str, ...], shard: str | None, client_secret_file: Path | None
) -> None:
    """Call GetOrganization for each client and update the lockfile."""
    from nudge_build import github
    from nudge_build.pipeline import run_fetch

    job = _job(state, clients, shard, render=False, locked=True)
    hooks = _network_hooks(state, len(job.selected), "fetched")
    report = run_fetch(job, os.environ, secret_file=client_secret_file, **hooks)
    _print_failures(report.failures, annotated=github.active(os.environ))
    if not state.quiet:
        fetched = len(job.selected) - len(report.failures)
        state_text = "updated" if report.lock_written else "unchanged"
        failed = f" ({len(report.failures)} failed)" if report.failures else ""
        _echo(f"fetched {fetched} of {len(job.selected)} clients{failed}; lockfile {state_text}")
    _print_impacts(state, report.impacts)
    if github.active(os.environ):
        github.report_fetch(report)
    sys.exit(report.exit_code)


@main.command("flags")
@_clients_argument
@click.option("--live", is_flag=True, help="Fetch organizations now instead of the lockfile.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@_secret_file_option
@pass_state
def flags_command(
    state: _State,
    clients: tuple[str, ...],
    live: bool,
    as_json: bool,
    client_secret_file: Path | None,
) -> None:
    """Show each client's flags (clients × flags) and where each value came from."""
    from nudge_build.pipeline import derive_flags, fetch_live, orgs_from_lock
    from nudge_build.report import flags_json, flags_table

    job = _job(state, clients, render=False)
    failures: list[Any] = []
    if live:
        hooks = _network_hooks(state, len(job.selected), "fetched")
        orgs, failures = fetch_live(job, os.environ, secret_file=client_secret_file, **hooks)
    else:
        orgs = orgs_from_lock(job)
    derived = derive_flags(job, orgs)
    table = flags_table(derived, job.rules.names, style.flag_value)
    _echo(flags_json(derived) if as_json else table)
    _print_failures(failures)
    if failures and not state.quiet:
        names = ", ".join(f.client for f in failures)
        _echo(f"{len(failures)} of {len(job.selected)} clients not fetched: {names}", err=True)
    sys.exit(3 if failures else 0)


@main.command()
@click.argument("client")
@click.argument("flag", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@pass_state
def explain(state: _State, client: str, flag: str | None, as_json: bool) -> None:
    """Why each of a client's flags has its value, and which keys and files it produces."""
    from nudge_build.explain import explain_client, explanation_lines

    explanation = explain_client(_job(state, (), render=True), client, flag)
    if as_json:
        _echo(explanation.as_json())
        return
    # Organization values are quoted: in GitHub, none of these lines may act as a command.
    with _commands_stopped():
        for line in explanation_lines(explanation):
            _echo(line)


def _commands_stopped() -> contextlib.AbstractContextManager[None]:
    from nudge_build import github

    return github.commands_stopped() if github.active(os.environ) else contextlib.nullcontext()


@main.command()
@_clients_argument
@click.option("--live", is_flag=True, help="Compare with organizations fetched now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@_shard_option
@_secret_file_option
@pass_state
def check(
    state: _State,
    clients: tuple[str, ...],
    live: bool,
    as_json: bool,
    shard: str | None,
    client_secret_file: Path | None,
) -> None:
    """Exit 1 with a diff when generated files or the lockfile are not current."""
    import itertools
    import json

    from nudge_build import github
    from nudge_build.check import run_check

    job = _job(state, clients, shard, locked=True)
    hooks = _network_hooks(state, len(job.selected), "fetched") if live else {}
    report = run_check(job, os.environ, live=live, secret_file=client_secret_file, **hooks)
    if as_json:
        drifts = [
            {
                "client": d.client,
                "kind": d.kind,
                "path": d.path,
                "detail": d.detail,
                "cause": d.cause,
                "fix": d.fix,
            }
            for d in report.drifts
        ]
        failures = [{"client": f.client, "reason": f.reason} for f in report.failures]
        result = {
            "current": not report.drifts,
            "drifts": drifts,
            "failures": failures,
            "flag_changes": [i.as_json() for i in report.impacts],
            "warnings": [{"client": w.client, "message": w.message} for w in report.warnings],
        }
        _echo(json.dumps(result, indent=2))
    else:
        in_github = github.active(os.environ)
        for client_id, client_drifts in itertools.groupby(report.drifts, lambda d: d.client):
            # In GitHub: one folded group per client, and no line of a diff acts as a command.
            with github.untrusted_group(client_id) if in_github else contextlib.nullcontext():
                for drift in client_drifts:
                    _echo(drift.headline)
                    if drift.kind == "changed":
                        _echo(style.diff(drift.detail.rstrip("\n")))
        if not state.quiet:
            _echo(report.summary_line())
            if report.failures:
                names = ", ".join(f.client for f in report.failures)
                _echo(f"{len(report.failures)} client(s) failed: {names}")
        _print_impacts(state, report.impacts)
    _print_warnings(report.warnings)
    _print_failures(report.failures, annotated=github.active(os.environ))
    if github.active(os.environ):
        output = job.config.output
        github.report_check(report, root=output.root, lockfile=output.lockfile)
    sys.exit(report.exit_code)


@main.command()
@_clients_argument
@click.option("--json", "as_json", is_flag=True, help="Structured data instead of Markdown.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/<client>.md (or .json) instead of printing.",
)
@pass_state
def review(state: _State, clients: tuple[str, ...], as_json: bool, out: Path | None) -> None:
    """Each client's store-submission kit, from the lockfile (no network)."""
    from nudge_build import github
    from nudge_build.review.run import kits_json, kits_markdown, review_kits, write_kits

    kits = review_kits(_job(state, clients, render=False))
    written: list[Path] = []
    if out is not None:
        written = write_kits(kits, out, as_json=as_json)
        for path in written if not state.quiet else ():
            _echo(f"wrote {path}")
    if github.active(os.environ):
        github.report_review([kit.client for kit in kits], written)
    if out is not None:
        return
    if as_json:  # every line of JSON starts with a space, a bracket or a quote: never "::"
        _echo(kits_json(kits))
        return
    # Pasted texts quote the organization: in GitHub, none of their lines may act as a command.
    with github.commands_stopped() if github.active(os.environ) else contextlib.nullcontext():
        _echo(kits_markdown(kits).rstrip("\n"))


@main.command()
@_clients_argument
@click.option("--ios", metavar="PATH", help="Info.plist, .app or .ipa; may hold {client}.")
@click.option(
    "--android", metavar="PATH", help="Merged AndroidManifest.xml, .apk or .aab; may hold {client}."
)
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON.")
@pass_state
def verify(
    state: _State, clients: tuple[str, ...], ios: str | None, android: str | None, as_json: bool
) -> None:
    """Check built apps against each client's flags in the lockfile (no network)."""
    from nudge_build import github
    from nudge_build.verify import run_verify
    from nudge_build.verify.output import report_github

    report = run_verify(_job(state, clients, render=False), ios=ios, android=android)
    in_github = github.active(os.environ)
    if as_json:
        _echo(report.as_json())
    else:
        # Findings quote the artifacts: in GitHub, none of their lines may act as a command.
        with github.commands_stopped() if in_github else contextlib.nullcontext():
            for finding in report.findings:
                _echo(finding.line())
        if not state.quiet:
            _echo(report.summary_line())
    for error in report.errors if not in_github else ():  # there, report_github annotates each
        _echo(f"error: {error.line()}", err=True)
    if in_github:
        report_github(report)
    sys.exit(report.exit_code)


@main.command()
@click.option("--shards", type=click.IntRange(min=1), help="Split the clients into N shards.")
@click.option(
    "--per-job",
    type=click.IntRange(min=1),
    help="At most K clients per shard; N is the smallest job count that fits.",
)
@pass_state
def matrix(state: _State, shards: int | None, per_job: int | None) -> None:
    """JSON for a GitHub Actions strategy.matrix (use with --shard I/N)."""
    from nudge_build import github
    from nudge_build.matrix import matrix_json, plan_shards

    if (shards is None) == (per_job is None):
        raise ConfigError("matrix: give exactly one of --shards N or --per-job K")
    config = state.load()
    planned = plan_shards([c.id for c in config.clients], shards=shards, per_job=per_job)
    text = matrix_json(planned)
    _echo(text)
    if github.active(os.environ):
        github.report_matrix(planned, text)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("nudge-demo"),
    show_default=True,
    help="Where to put the demo config, lockfile and generated files.",
)
@pass_state
def demo(state: _State, out: Path) -> None:
    """Build the bundled example against an embedded sandbox API."""
    from nudge_build.demo import run_demo
    from nudge_build.report import build_summary, flags_table

    report, config = run_demo(out)
    if not state.quiet:
        for line in build_summary(report):
            _echo(line)
        _echo(flags_table(report.flags, config.flag_names, style.flag_value))
        _echo(f"config:   {config.path}")
        _echo(f"lockfile: {config.output.lockfile}")
        _echo(f"files:    {config.output.root}/<client>/<platform>/")
    sys.exit(report.exit_code)


@main.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Where to write nudge-build.toml.",
)
@click.option(
    "--copy-templates",
    is_flag=True,
    help="Also copy the stock templates for editing; in a project with a config, only that.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing nudge-build.toml.")
@pass_state
def init(state: _State, directory: Path, copy_templates: bool, force: bool) -> None:
    """Write a starter nudge-build.toml (and optionally the stock templates), then say what next."""
    from nudge_build.config import load_config
    from nudge_build.gitignore import ignored_root_warning
    from nudge_build.starter import next_steps, write_starter

    started = write_starter(directory, copy_templates=copy_templates, force=force)
    for path in (started.config if started.config_written else None, started.templates):
        if path is not None:
            _echo(f"wrote {path}")
    with contextlib.suppress(ConfigError):  # a kept config may be broken: `build` will say so
        root = load_config(started.config, {}).output.root
        warning = ignored_root_warning(root, str(root))
        if warning is not None:
            _echo(warning, err=True)
    if not state.quiet:
        for line in next_steps(started):
            _echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--orgs",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON list of organizations (each with its apiKey) to serve instead of the samples.",
)
@click.option(
    "--faults",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file of scripted answers (see README).",
)
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Delay added to every GetOrganization answer.",
)
@click.option(
    "--token-ttl-minutes",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Lifetime of issued tokens (fractions allowed, to test expiry).",
)
@click.option(
    "--client-id",
    default="sandbox-client",
    show_default=True,
    help="The client id the sandbox accepts.",
)
@click.option(
    "--client-secret",
    default="sandbox-secret",
    show_default=True,
    help="The secret the sandbox accepts (a test value, not a real secret).",
)
def sandbox(
    host: str,
    port: int,
    orgs: Path | None,
    faults: Path | None,
    latency_ms: float,
    token_ttl_minutes: float,
    client_id: str,
    client_secret: str,
) -> None:
    """Serve a local stand-in for the nudge API (for dry runs and tests)."""
    from nudge_build.sandbox import serve

    serve(
        host=host,
        port=port,
        orgs_file=orgs,
        faults_file=faults,
        latency_ms=latency_ms,
        token_ttl_minutes=token_ttl_minutes,
        client_id=client_id,
        client_secret=client_secret,
    )


@main.command()
@click.option("--list", "list_", is_flag=True, help="List template sets and their files.")
@click.option("--show", metavar="NAME", help="Print one template, e.g. ios/Nudge.xcconfig.j2.")
@click.option(
    "--diff",
    "diff",
    is_flag=True,
    help="How the stock templates changed since yours were copied (init --copy-templates).",
)
@pass_state
def templates(state: _State, list_: bool, show: str | None, diff: bool) -> None:
    """List or show the templates (partner templates first, then the stock ones)."""
    from nudge_build.template_catalog import list_templates, show_template

    config = _optional_config(state)
    if show is not None:
        _echo(show_template(config, show), err=False)
        return
    if diff:
        from nudge_build.template_copies import diff_lines

        for line in diff_lines(config.templates.dir if config is not None else None):
            _echo(style.diff(line))
        return
    for line in list_templates(config):
        _echo(line)


def _optional_config(state: _State) -> Config | None:
    """Templates are useful before there is a config: only an explicit path must exist."""
    from nudge_build.config import find_config_path

    path = find_config_path(state.config_option, os.environ)
    if state.config_option is None and not os.environ.get("NUDGE_BUILD_CONFIG"):
        if not path.exists():
            return None
    return state.load()


def run() -> None:
    """The ``nudge-build`` command and ``python -m nudge_build``: ``main`` for this process.

    Tests call ``main`` instead, in-process: this adds only what suits a process about to end."""
    from nudge_build.heap import skip_final_collection

    try:
        main()
    finally:
        skip_final_collection()
