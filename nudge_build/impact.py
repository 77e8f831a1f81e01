"""What a change of a client's flags changes for store review: the platform table, diffed.

``flag_impact(old, new)`` compares ``rules_for(old)`` with ``rules_for(new)`` (and the store
forms read off them) and says, in a release manager's words, what was added or dropped. Nothing
here decides which keys, modes or permissions a flag set needs: that is the table's job, so the
impact cannot disagree with what the templates write and ``verify`` checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nudge_build.platforms.stores import StoreForms, store_forms
from nudge_build.platforms.table import (
    AndroidRules,
    FlagSet,
    IosRules,
    PlatformRules,
    TextName,
    rules_for,
)

if TYPE_CHECKING:
    from nudge_build.flags import Flags
    from nudge_build.lock import Lock
    from nudge_build.org import Organization

# The prompts' names, as Apple's documentation and App Review speak of them.
_PROMPT_NAMES: dict[TextName, str] = {
    "location_when_in_use": "When In Use",
    "location_always": "Always",
}
NO_EFFECT = "nothing the apps declare changes"


@dataclass(frozen=True)
class FlagChange:
    flag: str
    old: bool | None  # None: the lockfile has no such flag (a rule added to [flags])
    new: bool | None  # None: the flag is no longer derived


@dataclass(frozen=True)
class ClientImpact:
    """One client whose flags differ from the lockfile's, or that the lockfile lacks."""

    client: str
    organization: str  # the organization's name (API data: escape it wherever it is rendered)
    new_client: bool
    changes: tuple[FlagChange, ...]  # empty for a new client
    effects: tuple[str, ...]  # empty for a new client

    @property
    def change_text(self) -> str:
        if self.new_client:
            return "new client"
        return ", ".join(
            f"{c.flag.replace('_', ' ')} {_state(c.old)} → {_state(c.new)}" for c in self.changes
        )

    def line(self) -> str:
        """``harbor-bank: background location off → on: Play … needed; …``"""
        if self.new_client:
            return f"{self.client}: new client"
        return f"{self.client}: {self.change_text}: {'; '.join(self.effects)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "organization": self.organization,
            "new_client": self.new_client,
            "changes": [{"flag": c.flag, "old": c.old, "new": c.new} for c in self.changes],
            "effects": list(self.effects),
        }


def client_impacts(
    lock: Lock, orgs: Mapping[str, Organization], flags: Mapping[str, Flags]
) -> list[ClientImpact]:
    """Every client in ``flags`` (in its order) whose flags differ from its lockfile entry, or
    that has no entry (or one without flags) yet: a new client."""
    impacts = []
    for client_id, client_flags in flags.items():
        entry = lock.clients.get(client_id)
        name = orgs[client_id].name
        new = client_flags.as_dict()
        if entry is None or not entry.flags:
            impacts.append(ClientImpact(client_id, name, True, (), ()))
            continue
        old = dict(entry.flags)
        changes = tuple(
            FlagChange(flag, old.get(flag), new.get(flag))
            for flag in _union(new, old)
            if old.get(flag) != new.get(flag)
        )
        if changes:
            effects = tuple(flag_impact(old, new)) or (NO_EFFECT,)
            impacts.append(ClientImpact(client_id, name, False, changes, effects))
    return impacts


def flag_impact(old_flags: Mapping[str, bool], new_flags: Mapping[str, bool]) -> list[str]:
    """What moving from ``old_flags`` to ``new_flags`` changes: store forms first, then what
    the iOS and Android apps declare. Empty when the built-in flags are the same."""
    old, new = rules_for(_flag_set(old_flags)), rules_for(_flag_set(new_flags))
    if old == new:
        return []
    return [
        *_store_effects(store_forms(old), store_forms(new)),
        *_ios_effects(old.ios, new.ios),
        *_android_effects(old.android, new.android),
        *_mode_effects(old, new),
    ]


def _flag_set(values: Mapping[str, bool]) -> FlagSet:
    # A flag missing from an old lockfile counts as off: nothing was declared for it.
    return FlagSet(
        location=values.get("location", False),
        background_location=values.get("background_location", False),
        push=values.get("push", False),
    )


def _store_effects(old: StoreForms, new: StoreForms) -> list[str]:
    effects = []
    if new.play_background_location != old.play_background_location:
        effects.append(
            "Play background-location declaration needed"
            if new.play_background_location
            else "Play background-location declaration no longer needed: withdraw it"
        )
    for kind in _added(old.foreground_service_types, new.foreground_service_types):
        effects.append(f"Play foreground-service declaration needed (type {kind})")
    for kind in _added(new.foreground_service_types, old.foreground_service_types):
        effects.append(f"Play foreground-service declaration (type {kind}) no longer needed")
    for form, old_items, new_items in (
        ("App Privacy", old.app_privacy, new.app_privacy),
        ("Data safety", old.data_safety, new.data_safety),
    ):
        old_names = [c.name for c in old_items]
        new_names = [c.name for c in new_items]
        if added := _added(old_names, new_names):
            effects.append(f"{form}: declare {', '.join(added)} collected")
        if dropped := _added(new_names, old_names):
            effects.append(f"{form}: {', '.join(dropped)} no longer collected")
    return effects


def _mode_effects(old: PlatformRules, new: PlatformRules) -> list[str]:
    if old.location_mode == new.location_mode:
        return []
    return [f"NUDGE_LOCATION {old.location_mode} → {new.location_mode}"]


def _ios_effects(old: IosRules, new: IosRules) -> list[str]:
    effects = []
    old_prompts = _prompts(old)
    new_prompts = _prompts(new)
    for text in _added(old_prompts, new_prompts):
        keys = ", ".join(new_prompts[text])
        effects.append(f"{_PROMPT_NAMES[text]} purpose string added ({keys})")
    for text in _added(new_prompts, old_prompts):
        keys = ", ".join(old_prompts[text])
        effects.append(f"{_PROMPT_NAMES[text]} purpose string removed ({keys})")
    for mode in _added(old.background_modes, new.background_modes):
        effects.append(f"UIBackgroundModes gains {mode}")
    for mode in _added(new.background_modes, old.background_modes):
        # Only a forbidden mode is taken out; others may serve the app's own features.
        if mode in new.forbidden_modes:
            effects.append(f"UIBackgroundModes loses {mode}")
        else:
            effects.append(f"UIBackgroundModes: nudge no longer needs {mode}")
    if old.sdk_version != new.sdk_version:
        effects.append(f"NUDGE_VERSION {old.sdk_version} → {new.sdk_version}")
    for kind in _added(old.privacy_collected_types, new.privacy_collected_types):
        effects.append(f"PrivacyInfo.xcprivacy gains {kind}")
    for kind in _added(new.privacy_collected_types, old.privacy_collected_types):
        effects.append(f"PrivacyInfo.xcprivacy drops {kind}")
    return effects


def _prompts(rules: IosRules) -> dict[TextName, list[str]]:
    """Each prompt text the app shows, with the Info.plist keys that carry it."""
    prompts: dict[TextName, list[str]] = {}
    for purpose in rules.purpose_strings:
        prompts.setdefault(purpose.text, []).append(purpose.key)
    return prompts


def _android_effects(old: AndroidRules, new: AndroidRules) -> list[str]:
    effects = []
    if added := _added(old.permissions, new.permissions):
        effects.append(f"Android permissions added: {_short(added)}")
    blocked = _added(old.removed_permissions, new.removed_permissions)
    if blocked:
        effects.append(f'Android permissions marked tools:node="remove": {_short(blocked)}')
    # Dropped but not blocked: permissions the app may need for its own reasons.
    undeclared = [p for p in _added(new.permissions, old.permissions) if p not in blocked]
    if undeclared:
        effects.append(f"Android permissions no longer declared by nudge: {_short(undeclared)}")
    if old.location_service != new.location_service:
        effects.append(
            "location foreground service added"
            if new.location_service
            else "location foreground service removed"
        )
    if old.persistent_notification != new.persistent_notification:
        effects.append(
            "persistent notification shown while nudges watch the location"
            if new.persistent_notification
            else "persistent notification no longer shown"
        )
    return effects


def _added(old: Iterable[Any], new: Iterable[Any]) -> list[Any]:
    """The items of ``new`` that ``old`` lacks, in ``new``'s order."""
    before = set(old)
    return [item for item in new if item not in before]


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    seen = list(first)
    return seen + [name for name in second if name not in seen]


def _short(permissions: Iterable[str]) -> str:
    return ", ".join(p.removeprefix("android.permission.") for p in permissions)


def _state(value: bool | None) -> str:
    return "none" if value is None else "on" if value else "off"
