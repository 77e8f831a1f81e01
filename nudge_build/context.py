"""The variables a template sees for one client: client, org, flags, texts, tool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nudge_build import __version__
from nudge_build.config import ClientConfig
from nudge_build.flags import Flags
from nudge_build.org import Organization, Sourced
from nudge_build.platforms import PlatformRules, rules_for
from nudge_build.platforms.names import android_flavor_name


def build_context(client: ClientConfig, org: Organization, flags: Flags) -> dict[str, Any]:
    view = org.template_view()
    rules = rules_for(flags.as_dict())
    return {
        # flavor: the Gradle product flavor name for the client id (prairie-fcu -> prairieFcu).
        "client": {
            "id": client.id,
            "vars": dict(client.vars),
            "flavor": android_flavor_name(client.id),
        },
        "org": view,
        "flags": flags.as_dict(),
        "texts": user_facing_texts(view),
        "nudge": sdk_settings(rules),
        "platform": rules,
        "tool": {"name": "nudge-build", "version": __version__},
    }


def sdk_settings(rules: PlatformRules) -> dict[str, str]:
    """Settings every stock set spells the same way, read from the platform table."""
    return {"location_mode": rules.location_mode, "ios_sdk_version": rules.ios.sdk_version}


def user_facing_texts(org: Mapping[str, Any]) -> dict[str, str]:
    """Purpose strings and notification text: the FI's own wording, else a specific default.

    App Review rejects empty or vague purpose strings, so each default says what the location is
    used for and names the institution.
    """
    name = org["name"]
    messaging = org["messaging"]
    own = messaging.get("locationPermissionText")
    when_in_use = own or Sourced(
        f"{name} uses your location while you use the app to show nearby branches and ATMs "
        "and offers that apply where you are.",
        "org.name",
    )
    always = own or Sourced(
        f"{name} uses your location, also when the app is closed, to alert you to nearby "
        "branches, ATMs and offers. You can change this at any time in Settings.",
        "org.name",
    )
    notification_text = messaging.get("backgroundNotificationText") or Sourced(
        f"{name} is watching for nearby offers and alerts.", "org.name"
    )
    return {
        "location_when_in_use": when_in_use,
        "location_always": always,
        "notification_title": name,
        "notification_text": notification_text,
    }
