"""``nudge-build explain``: why a client's flag has its value, and what that value produces.

For each flag: its rule (built-in or ``[flags]``), the organization fields and earlier flags the
rule read with their values, any per-client override, what the platform table makes the apps
declare because of it, and which generated files depend on it. Reads the lockfile; no network.

What a flag "produces" is measured, never restated: the flags are turned on in their evaluation
order, and a flag's share is what changes when it is switched with the earlier flags as they are
and the later ones off. So ``location`` gets the foreground keys and ``background_location`` the
background ones on top, as a reader expects, and a ``[flags]`` rule that no template reads shows
no files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nudge_build.config import ClientConfig
from nudge_build.context import build_context
from nudge_build.errors import ConfigError, RenderError
from nudge_build.flags import Flag, Flags, evaluate_rule, unworkable_combination
from nudge_build.org import Organization
from nudge_build.pipeline import Job, orgs_from_lock
from nudge_build.platforms.table import FlagSet, PlatformRules, rules_for
from nudge_build.suggest import hint
from nudge_build.targets import expand_target

PLATFORMS = ("ios", "android", "all")
_PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "all": "every set"}


@dataclass(frozen=True)
class Read:
    path: str  # org.features.backgroundLocation, flags.location
    value: Any


@dataclass(frozen=True)
class FlagExplanation:
    name: str
    value: bool
    expression: str
    origin: str  # "built-in", or where in the config the rule is
    reads: tuple[Read, ...]
    rule_value: bool | None  # what the rule gives; None when it fails under an override
    rule_error: str | None
    override: bool | None  # the per-client literal, when there is one
    declares: Mapping[str, tuple[str, ...]]  # platform -> what this value makes the app declare
    otherwise: Mapping[str, tuple[str, ...]]  # platform -> what the other value would instead
    files: tuple[str, ...] | None  # outputs that change with this flag; None: cannot tell
    files_note: str | None = None


@dataclass(frozen=True)
class Explanation:
    client: str
    organization_id: str
    organization_name: str
    lockfile: str
    flags: tuple[FlagExplanation, ...]
    problem: str | None  # an unworkable combination the build refuses
    locked: Mapping[str, bool]  # the flags the lockfile recorded at the last build or fetch

    def as_json(self) -> str:
        data = {
            "client": self.client,
            "organization": {"id": self.organization_id, "name": self.organization_name},
            "lockfile": self.lockfile,
            "problem": self.problem,
            "locked_flags": dict(self.locked),
            "flags": [
                {
                    "name": f.name,
                    "value": f.value,
                    "source": "override" if f.override is not None else "derived",
                    "rule": {"expression": f.expression, "origin": f.origin},
                    "reads": [{"path": r.path, "value": r.value} for r in f.reads],
                    "rule_value": f.rule_value,
                    "rule_error": f.rule_error,
                    "override": f.override,
                    "declares": {k: list(v) for k, v in f.declares.items()},
                    "otherwise": {k: list(v) for k, v in f.otherwise.items()},
                    "files": None if f.files is None else list(f.files),
                }
                for f in self.flags
            ],
        }
        return json.dumps(data, indent=2, default=str)


def explain_client(job: Job, client_id: str, flag: str | None = None) -> Explanation:
    """The explanation of one client's flags (or of one flag), from the lockfile."""
    known = [c.id for c in job.config.clients]
    if client_id not in known:
        raise ConfigError(
            f"unknown client {client_id}{hint(client_id, known)}: not in [clients] of "
            f"{job.config.path}"
        )
    names = job.rules.names
    if flag is not None and flag not in names:
        raise ConfigError(f"unknown flag {flag!r}{hint(flag, names)}; flags: {', '.join(names)}")
    client = job.config.client(client_id)
    org = orgs_from_lock(_only(job, client))[client_id]
    values, evaluated = _evaluate_all(job, client, org.template_view())
    problem = None if client.allow_unusual_flags else unworkable_combination(values)
    explained = []
    for index, name in enumerate(names):
        if flag is not None and name != flag:
            continue
        reads, rule_value, error = evaluated[name]
        declares, otherwise = _platform_share(names, values, index)
        files, note = _files_share(job, client, org, names, values, index)
        explained.append(
            FlagExplanation(
                name=name,
                value=values[name],
                expression=dict(_expressions(job))[name],
                origin=_origin(job, name),
                reads=reads,
                rule_value=rule_value,
                rule_error=error,
                override=client.flags.get(name),
                declares=declares,
                otherwise=otherwise,
                files=files,
                files_note=note,
            )
        )
    locked = job.lock.clients[client_id].flags
    return Explanation(
        client_id, org.organization_id, org.name, str(job.config.output.lockfile),
        tuple(explained), problem, dict(locked),
    )  # fmt: skip


def _only(job: Job, client: ClientConfig) -> Job:
    return Job(job.config, (client,), job.rules, job.lock, job.templates)


def _expressions(job: Job) -> list[tuple[str, str]]:
    return [(name, expression) for name, expression, _ in job.rules.compiled]


def _origin(job: Job, name: str) -> str:
    if name not in job.config.flag_rules:
        return "built-in"
    return f"[flags].{name} in {job.config.path}"


# -- what a rule read ------------------------------------------------------------------------


class _Recording(Mapping[str, Any]):
    """A read-only view that logs each value an expression looks up, by its dotted path.

    The sandbox reads ``org.features.x`` as a lookup on a mapping, so every field a rule
    touches, and only those (``and``/``or`` short-circuit), passes through ``__getitem__``.
    """

    def __init__(self, data: Mapping[str, Any], path: str, log: dict[str, Any]) -> None:
        self._data = data
        self._path = path
        self._log = log

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        path = f"{self._path}.{key}"
        if isinstance(value, Mapping):
            return _Recording(value, path, self._log)
        self._log.setdefault(path, value)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _evaluate_all(
    job: Job, client: ClientConfig, view: Mapping[str, Any]
) -> tuple[dict[str, bool], dict[str, tuple[tuple[Read, ...], bool | None, str | None]]]:
    """Each flag's value as ``flags.derive`` gives it, and what its rule read.

    An overridden flag's rule is still evaluated, to show what the override changed; its
    failure is shown, not raised, since the build never evaluates it.
    """
    values: dict[str, bool] = {}
    evaluated: dict[str, tuple[tuple[Read, ...], bool | None, str | None]] = {}
    for name in job.rules.names:
        log: dict[str, Any] = {}
        org = _Recording(view, "org", log)
        earlier = _Recording(dict(values), "flags", log)
        rule_value: bool | None
        try:
            rule_value, error = evaluate_rule(job.rules, name, org, earlier, client=client.id), None
        except ConfigError as exc:
            if name not in client.flags:
                raise
            rule_value, error = None, str(exc)
        override = client.flags.get(name)
        value = override if override is not None else rule_value
        assert value is not None
        values[name] = value
        reads = tuple(Read(path, _plain(v)) for path, v in log.items())
        evaluated[name] = (reads, rule_value, error)
    return values, evaluated


def _plain(value: Any) -> Any:
    """Organization strings remember their path (``Sourced``); JSON and text want a str."""
    return str(value) if isinstance(value, str) else value


# -- what a flag produces ----------------------------------------------------------------------


def _switched(
    names: tuple[str, ...], values: Mapping[str, bool], index: int, on: bool
) -> dict[str, bool]:
    """The earlier flags as they are, this one ``on``, the later ones off."""
    return {
        name: values[name] if i < index else on if i == index else False
        for i, name in enumerate(names)
    }


def _platform_share(
    names: tuple[str, ...], values: Mapping[str, bool], index: int
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(what this value declares, what the other value would declare instead), per platform."""
    when = {
        on: declarations(rules_for(FlagSet.of(_switched(names, values, index, on))))
        for on in (True, False)
    }
    value = values[names[index]]
    mine, other = when[value], when[not value]
    declares = {p: tuple(i for i in mine[p] if i not in other[p]) for p in PLATFORMS}
    otherwise = {p: tuple(i for i in other[p] if i not in mine[p]) for p in PLATFORMS}
    return _non_empty(declares), _non_empty(otherwise)


def _non_empty(by_platform: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {p: items for p, items in by_platform.items() if items}


def declarations(rules: PlatformRules) -> dict[str, tuple[str, ...]]:
    """The platform table's rules as the lines a person looks for in the generated files."""
    ios = [p.key for p in rules.ios.purpose_strings]
    ios += [f"UIBackgroundModes {mode}" for mode in rules.ios.background_modes]
    ios.append(f"NUDGE_VERSION = {rules.ios.sdk_version}")
    ios += [f"PrivacyInfo {kind}" for kind in rules.ios.privacy_collected_types]
    android = [_short(p) for p in rules.android.permissions]
    android += [f'{_short(p)} tools:node="remove"' for p in rules.android.removed_permissions]
    if rules.android.location_service:
        android.append("location foreground service")
    if rules.android.persistent_notification:
        android.append("persistent notification")
    return {
        "ios": tuple(ios),
        "android": tuple(android),
        "all": (f"NUDGE_LOCATION = {rules.location_mode}",),
    }


def _short(permission: str) -> str:
    return permission.removeprefix("android.permission.")


def _files_share(
    job: Job,
    client: ClientConfig,
    org: Organization,
    names: tuple[str, ...],
    values: Mapping[str, bool],
    index: int,
) -> tuple[tuple[str, ...] | None, str | None]:
    """The generated files whose bytes differ when this flag is switched (see the module doc)."""
    from nudge_build.render import RenderTarget, render_client

    if job.templates is None:
        return None, "templates not loaded"
    targets = [
        RenderTarget(s.template, expand_target(s.path, client.id)) for s in job.templates.targets
    ]
    outputs = []
    for on in (True, False):
        switched = _switched(names, values, index, on)
        flags = Flags(tuple(Flag(n, switched[n], "derived") for n in names))
        try:
            context = build_context(client, org, flags)
            outputs.append(render_client(job.templates.env, targets, context, client=client.id))
        except RenderError as exc:
            return None, f"the templates do not render with it switched: {exc}"
    on_files, off_files = outputs
    paths = on_files.keys() | off_files.keys()
    changed = sorted(p for p in paths if on_files.get(p) != off_files.get(p))
    return tuple(changed), None


# -- text ----------------------------------------------------------------------------------


def explanation_lines(explanation: Explanation) -> list[str]:
    e = explanation
    lines = [
        f"client {e.client}: organization {e.organization_id} ({e.organization_name}), "
        f"from {e.lockfile}"
    ]
    for f in e.flags:
        lines.append("")
        lines += _flag_lines(e.client, f)
    current = {f.name: f.value for f in e.flags}
    stale = sorted(n for n, v in current.items() if n in e.locked and e.locked[n] != v)
    if stale:
        lines += [
            "",
            f"note: the lockfile recorded other values for {', '.join(stale)} at the last build "
            "or fetch; the config has changed since (run `nudge-build build`)",
        ]
    if e.problem is not None:
        lines += ["", f"warning: the build refuses this client: flag {e.problem}"]
    return lines


def _flag_lines(client: str, f: FlagExplanation) -> list[str]:
    shown = "true" if f.value else "false"
    lines = [f"{f.name} = {shown}" + (" (override)" if f.override is not None else "")]
    lines.append(f"  rule ({f.origin}): {f.expression}")
    if f.reads:
        for number, read in enumerate(f.reads):
            label = "  read: " if number == 0 else "        "
            lines.append(f"{label}{read.path} = {_show(read.value)}")
    elif f.rule_error is None:
        lines.append("  read: nothing (the rule is a constant)")
    if f.override is not None:
        gives = "fails" if f.rule_value is None else f"gives {_show(f.rule_value)}"
        lines.append(
            f"  override: [clients.{client}.flags].{f.name} = {shown} wins (the rule {gives})"
        )
    if f.rule_error is not None:
        lines.append(f"  rule error: {f.rule_error}")
    if not f.declares and not f.otherwise:
        lines.append(f"  platform table: not read (only templates that use flags.{f.name} see it)")
    other = f"if it were {_show(not f.value)}"
    for title, share in (("declares", f.declares), (other, f.otherwise)):
        if share:
            lines.append(f"  {title}:")
            lines += [f"    {_PLATFORM_NAMES[p]}: {', '.join(items)}" for p, items in share.items()]
    if f.files is None:
        lines.append(f"  files: unknown ({f.files_note})")
    else:
        lines.append("  files:" if f.files else "  files: none")
        lines += [f"    {path}" for path in f.files]
    return lines


def _show(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
