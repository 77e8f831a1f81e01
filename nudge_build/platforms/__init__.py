"""What each flag set requires and forbids, per platform: the one table.

The stock templates (through the ``platform`` template variable), the merge into the partner's
own files, ``verify`` and ``review`` all ask this package. A rule changes here, once.
"""

from nudge_build.platforms.table import (
    ANDROID_OWNED_PERMISSIONS,
    IOS_OWNED_KEYS,
    IOS_OWNED_MODES,
    AndroidRules,
    CollectedData,
    ExpoRules,
    FlagSet,
    IosRules,
    PlatformRules,
    PurposeString,
    rules_for,
)

__all__ = [
    "ANDROID_OWNED_PERMISSIONS",
    "IOS_OWNED_KEYS",
    "IOS_OWNED_MODES",
    "AndroidRules",
    "CollectedData",
    "ExpoRules",
    "FlagSet",
    "IosRules",
    "PlatformRules",
    "PurposeString",
    "rules_for",
]
