"""The variables a template sees for one client: client, org, flags, texts, tool."""

from __future__ import annotations

from typing import Any

from nudge_build import __version__
from nudge_build.config import ClientConfig
from nudge_build.flags import Flags
from nudge_build.org import Organization
from nudge_build.platforms import PlatformRules, rules_for
from nudge_build.platforms.names import android_flavor_name

# Re-exported: the review kit and tests read the texts from here, as templates do.
from nudge_build.texts import user_facing_texts as user_facing_texts


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
