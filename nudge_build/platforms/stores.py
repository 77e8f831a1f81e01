"""What the store forms ask of a flag set: the platform table, in the stores' words.

Nothing here decides anew: each answer is read off ``rules_for(flags)`` (the background
permission, the location service, the privacy-manifest entries), so the forms a release manager
fills in cannot disagree with what the app declares. Only the names the forms use live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from nudge_build.platforms.table import (
    APP_FUNCTIONALITY_PURPOSE,
    BACKGROUND,
    COARSE,
    FINE,
    PRECISE_LOCATION_TYPE,
    PlatformRules,
)

# App Store Connect's App Privacy names for the privacy manifest's keys.
APP_PRIVACY_NAMES = {
    PRECISE_LOCATION_TYPE: "Precise Location",
    APP_FUNCTIONALITY_PURPOSE: "App Functionality",
}
# Play's Data safety names data by the permission that reads it: coarse is "approximate".
DATA_SAFETY_NAMES = {COARSE: "Approximate location", FINE: "Precise location"}
DATA_SAFETY_PURPOSES = {APP_FUNCTIONALITY_PURPOSE: "App functionality"}
LOCATION_SERVICE_TYPE = "location"  # the SDK's service's android:foregroundServiceType


@dataclass(frozen=True)
class CollectedLocation:
    """One location data type as a privacy form asks about it."""

    name: str  # the form's name for the data type
    purposes: tuple[str, ...]  # the form's names for the purposes
    linked_to_user: bool
    used_for_tracking: bool


@dataclass(frozen=True)
class StoreForms:
    play_background_location: bool  # Play's location permissions declaration
    foreground_service_types: tuple[str, ...]  # Play's foreground-service declaration (API 34+)
    app_privacy: tuple[CollectedLocation, ...]  # App Store Connect > App Privacy
    data_safety: tuple[CollectedLocation, ...]  # Play Console > Data safety

    @property
    def collects_location(self) -> bool:
        return bool(self.app_privacy or self.data_safety)


def store_forms(rules: PlatformRules) -> StoreForms:
    # Play reviews every app holding ACCESS_BACKGROUND_LOCATION, and, for apps targeting
    # Android 14, every foreground service type the manifest declares.
    entries = rules.ios.privacy_collected
    app_privacy = tuple(
        CollectedLocation(
            APP_PRIVACY_NAMES[e.type],
            tuple(APP_PRIVACY_NAMES[p] for p in e.purposes),
            e.linked,
            e.tracking,
        )
        for e in entries
        if e.type == PRECISE_LOCATION_TYPE
    )
    # Android reads the same location the iOS manifest describes: same purposes, same linking.
    data_safety = tuple(
        CollectedLocation(
            DATA_SAFETY_NAMES[permission],
            tuple(DATA_SAFETY_PURPOSES[p] for p in entry.purposes),
            entry.linked,
            entry.tracking,
        )
        for permission in (COARSE, FINE)
        if permission in rules.android.permissions
        for entry in entries
        if entry.type == PRECISE_LOCATION_TYPE
    )
    return StoreForms(
        play_background_location=BACKGROUND in rules.android.permissions,
        foreground_service_types=(
            (LOCATION_SERVICE_TYPE,) if rules.android.location_service else ()
        ),
        app_privacy=app_privacy,
        data_safety=data_safety,
    )
