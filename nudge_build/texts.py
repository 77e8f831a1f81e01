"""The texts a user reads: the iOS purpose strings and the Android persistent notification.

Each text has its own chain of organization fields, most specific first, and ends in a default
that names the institution. A field that is present but empty or only white space is skipped
(App Review rejects an empty purpose string; Android would show a blank notification), and the
run says so: :func:`blank_texts` names what was skipped and what is used instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nudge_build.org import Sourced

# The shared field comes last: an organization that words the two prompts apart overrides it
# for either. It is the one field older organizations have.
SHARED_LOCATION_FIELD = "locationPermissionText"
# Each text's fields under the organization's ``messaging``, in the order they are tried.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "location_when_in_use": ("locationWhenInUsePermissionText", SHARED_LOCATION_FIELD),
    "location_always": ("locationAlwaysPermissionText", SHARED_LOCATION_FIELD),
    "notification_text": ("backgroundNotificationText",),
}
# How a warning names each text to the person reading the build log.
_TEXT_LABELS = {
    "location_when_in_use": "the When In Use purpose string",
    "location_always": "the Always purpose string",
    "notification_text": "the persistent notification's text",
}
DEFAULT = "the default text"


@dataclass(frozen=True)
class BlankText:
    """One text whose organization field(s) were blank: what was skipped and what is used."""

    text: str  # the key in ``texts`` (``location_always``)
    skipped: tuple[str, ...]  # the blank fields, as ``messaging.<field>``
    used: str  # ``messaging.<field>`` of the text used, or DEFAULT


def user_facing_texts(org: Mapping[str, Any]) -> dict[str, str]:
    """Purpose strings and notification text: the FI's own wording, else a specific default.

    App Review rejects empty or vague purpose strings, so each default says what the location is
    used for and names the institution. The When In Use default says nothing about background
    use: iOS shows it to apps that never get "Always".
    """
    name = org["name"]
    defaults = {
        "location_when_in_use": Sourced(
            f"{name} uses your location while you use the app to show nearby branches and ATMs "
            "and offers that apply where you are.",
            "org.name",
        ),
        "location_always": Sourced(
            f"{name} uses your location, also when the app is closed, to alert you to nearby "
            "branches, ATMs and offers. You can change this at any time in Settings.",
            "org.name",
        ),
        "notification_text": Sourced(
            f"{name} is watching for nearby offers and alerts.", "org.name"
        ),
    }
    messaging = org["messaging"]

    def own_or_default(key: str) -> str:
        field = _first_filled(messaging, TEXT_FIELDS[key])
        text: str = messaging[field] if field is not None else defaults[key]
        return text

    return {
        "location_when_in_use": own_or_default("location_when_in_use"),
        "location_always": own_or_default("location_always"),
        "notification_title": name,
        "notification_text": own_or_default("notification_text"),
    }


def blank_texts(messaging: Mapping[str, Any]) -> list[BlankText]:
    """The texts for which a blank organization field was passed over, in ``texts`` order.

    ``messaging`` is the organization's ``messaging`` object. A blank field the chain never
    reaches (the shared text, when both specific ones are given) changes nothing and is not
    reported.
    """
    found = []
    for text, chain in TEXT_FIELDS.items():
        used = _first_filled(messaging, chain)
        reached = chain if used is None else chain[: chain.index(used)]
        skipped = tuple(f"messaging.{f}" for f in reached if _is_blank(messaging.get(f)))
        if skipped:
            found.append(BlankText(text, skipped, DEFAULT if used is None else f"messaging.{used}"))
    return found


def blank_text_message(client: str, blanks: list[BlankText]) -> str:
    """One line for a client: which fields were blank and what each text uses instead."""
    fields: list[str] = []
    by_used: dict[str, list[str]] = {}
    for blank in blanks:
        fields += [f for f in blank.skipped if f not in fields]
        by_used.setdefault(blank.used, []).append(_TEXT_LABELS[blank.text])
    verb = "is" if len(fields) == 1 else "are"
    uses = "; ".join(
        f"{' and '.join(labels)} {'uses' if len(labels) == 1 else 'use'} {used}"
        for used, labels in by_used.items()
    )
    return (
        f"client {client}: organization text {', '.join(fields)} {verb} empty or only white "
        f"space, so {uses}"
    )


def _first_filled(messaging: Mapping[str, Any], chain: tuple[str, ...]) -> str | None:
    for field in chain:
        value = messaging.get(field)
        if isinstance(value, str) and value.strip():
            return field
    return None


def _is_blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()
