"""Derive each client's feature flags from its organization.

Built-in rules come first in a fixed order; ``[flags]`` in the config replaces or adds Jinja
expressions, evaluated in order so that later flags may read earlier ones as ``flags.x``; a
per-client literal overrides derivation and is what later flags see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError, Undefined

from nudge_build.config import BUILTIN_FLAGS
from nudge_build.errors import ConfigError
from nudge_build.jinja_sandbox import LimitedSandbox

BUILTIN_RULES: dict[str, str] = {
    # A suspended organization sends no nudges, so its app must not ask for location it
    # will not use (App Review and Play both reject that).
    "location": "org.features.locationBasedNudges and org.status != 'suspended'",
    "background_location": "flags.location and org.features.backgroundLocation",
    "push": "org.features.timeBasedNudges or flags.location",
}
assert tuple(BUILTIN_RULES) == BUILTIN_FLAGS

Source = Literal["derived", "override"]


@dataclass(frozen=True)
class Flag:
    name: str
    value: bool
    source: Source


@dataclass(frozen=True)
class Flags:
    items: tuple[Flag, ...]

    def as_dict(self) -> dict[str, bool]:
        return {flag.name: flag.value for flag in self.items}

    def __getitem__(self, name: str) -> bool:
        for flag in self.items:
            if flag.name == name:
                return flag.value
        raise KeyError(name)

    def __iter__(self) -> Iterator[Flag]:
        return iter(self.items)


@dataclass(frozen=True)
class FlagRules:
    """Compiled expressions in evaluation order."""

    compiled: tuple[tuple[str, str, Callable[..., Any]], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.compiled)


def compile_rules(extra: Mapping[str, str], *, config_path: str) -> FlagRules:
    """Merge ``[flags]`` over the built-ins and compile them; syntax errors are config errors."""
    # The sandbox stops a config expression from reaching Python internals (it only reads data)
    # and from making huge values ('x' * 10**9, range(10**9)).
    env = LimitedSandbox(undefined=StrictUndefined)
    rules = dict(BUILTIN_RULES)
    rules.update(extra)
    compiled = []
    for name, expression in rules.items():
        try:
            function = env.compile_expression(expression, undefined_to_none=False)
        except TemplateError as exc:
            raise ConfigError(
                f"{config_path}: [flags].{name}: invalid expression {expression!r}: {exc}"
            ) from exc
        compiled.append((name, expression, function))
    return FlagRules(tuple(compiled))


def derive(
    org: Mapping[str, Any],
    rules: FlagRules,
    overrides: Mapping[str, bool],
    *,
    client: str,
    allow_unusual: bool = False,
) -> Flags:
    values: dict[str, bool] = {}
    items = []
    for name, expression, function in rules.compiled:
        if name in overrides:
            value, source = overrides[name], "override"
        else:
            value = _evaluate(function, expression, org, dict(values), client=client, name=name)
            source = "derived"
        values[name] = value
        items.append(Flag(name, value, source))  # type: ignore[arg-type]
    problem = None if allow_unusual else unworkable_combination(values)
    if problem is not None:
        raise ConfigError(
            f"client {client}: flag {problem} (check the overrides in [clients.{client}.flags] "
            f"and the rules in [flags], or set allow_unusual_flags = true in [clients.{client}] "
            "to build it anyway)"
        )
    return Flags(tuple(items))


def evaluate_rule(
    rules: FlagRules,
    name: str,
    org: Mapping[str, Any],
    earlier: Mapping[str, bool],
    *,
    client: str,
) -> bool:
    """One rule's value, as ``derive`` computes it; ``explain`` passes mappings that record
    what the expression reads, which is why ``earlier`` is handed over as it is."""
    for rule_name, expression, function in rules.compiled:
        if rule_name == name:
            return _evaluate(function, expression, org, earlier, client=client, name=name)
    raise KeyError(name)


def unworkable_combination(values: Mapping[str, bool]) -> str | None:
    """What is wrong with a combination of the built-in flags the apps cannot honour, if any.

    Only overrides or ``[flags]`` rules reach these: the built-in rules never derive them.
    """
    if values["background_location"] and not values["location"]:
        return (
            "background_location is true but location is false; background location needs location"
        )
    if values["background_location"] and not values["push"]:
        return (
            "background_location is true but push is false; the SDK would be off "
            "(NUDGE_ENABLED = NO) beside nudgeGeo, and without POST_NOTIFICATIONS the "
            "persistent notification of its location service is hidden"
        )
    return None


def _evaluate(
    function: Callable[..., Any],
    expression: str,
    org: Mapping[str, Any],
    earlier: Mapping[str, bool],
    *,
    client: str,
    name: str,
) -> bool:
    try:
        value = function(org=org, flags=earlier)
    except TemplateError as exc:
        raise ConfigError(
            f"client {client}: flag {name}: expression {expression!r} failed: {exc}"
        ) from exc
    except Exception as exc:  # the expression is config: 1/0 or 2.0 ** 5000 is its error, not ours
        raise ConfigError(
            f"client {client}: flag {name}: expression {expression!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(value, Undefined):
        # A bare expression hands back its Undefined instead of raising: report it the same way.
        raise ConfigError(
            f"client {client}: flag {name}: expression {expression!r} failed: "
            f"{value._undefined_message}"
        )
    if not isinstance(value, bool):
        raise ConfigError(
            f"client {client}: flag {name}: expression {expression!r} gave {value!r} "
            f"({type(value).__name__}), expected true or false"
        )
    return value
