"""Per flag set and platform: what the shipped app must declare, and what it must not.

Everything here is plain data computed from three booleans. Callers never restate a rule: the
templates read ``rules_for(flags)`` through the ``platform`` variable, the merge into the
partner's Info.plist and ``.env`` uses the same lists, and ``verify``/``review`` check built apps
against them.

"Owned" entries are the ones nudge-build may add or remove in a file the partner owns; anything
else in that file is the app's own and is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

LocationMode = Literal["background", "foreground", "false"]
TextName = Literal["location_when_in_use", "location_always"]

# -- iOS --------------------------------------------------------------------------------------

WHEN_IN_USE_KEY = "NSLocationWhenInUseUsageDescription"
ALWAYS_AND_WHEN_IN_USE_KEY = "NSLocationAlwaysAndWhenInUseUsageDescription"
# Read only by iOS 10 and earlier, but expo-location (and older templates) add it with generic
# text; a background app sets it to its own Always text, any other app must not carry it.
ALWAYS_KEY = "NSLocationAlwaysUsageDescription"
IOS_OWNED_KEYS: tuple[str, ...] = (WHEN_IN_USE_KEY, ALWAYS_AND_WHEN_IN_USE_KEY, ALWAYS_KEY)

LOCATION_MODE = "location"
REMOTE_NOTIFICATION_MODE = "remote-notification"
# `location` is nudge's alone. `remote-notification` is added for push, but never removed: an
# app without nudges' push may still receive silent pushes of its own.
IOS_OWNED_MODES: tuple[str, ...] = (LOCATION_MODE, REMOTE_NOTIFICATION_MODE)

PRECISE_LOCATION_TYPE = "NSPrivacyCollectedDataTypePreciseLocation"
COARSE_LOCATION_TYPE = "NSPrivacyCollectedDataTypeCoarseLocation"
# Apple's two location data types: an app without location must declare neither.
LOCATION_DATA_TYPES: tuple[str, ...] = (PRECISE_LOCATION_TYPE, COARSE_LOCATION_TYPE)
APP_FUNCTIONALITY_PURPOSE = "NSPrivacyCollectedDataTypePurposeAppFunctionality"
# Apple ("App privacy details", Data linked to the user): collected data counts as linked unless
# it is de-identified before it leaves the device. Nudge's location updates reach the FI's
# servers with the device's push registration, so they are linked; they are not combined with
# other companies' data for advertising, so they are not tracking.
PRECISE_LOCATION_LINKED = True

# -- Android ----------------------------------------------------------------------------------

FINE = "android.permission.ACCESS_FINE_LOCATION"
COARSE = "android.permission.ACCESS_COARSE_LOCATION"
BACKGROUND = "android.permission.ACCESS_BACKGROUND_LOCATION"
FOREGROUND_SERVICE = "android.permission.FOREGROUND_SERVICE"
FOREGROUND_SERVICE_LOCATION = "android.permission.FOREGROUND_SERVICE_LOCATION"
POST_NOTIFICATIONS = "android.permission.POST_NOTIFICATIONS"
# FOREGROUND_SERVICE is granted for any foreground service type, so the app may need it for its
# own services: nudge adds it for background location and never removes it.
ANDROID_OWNED_PERMISSIONS: tuple[str, ...] = (
    FINE,
    COARSE,
    BACKGROUND,
    FOREGROUND_SERVICE,
    FOREGROUND_SERVICE_LOCATION,
    POST_NOTIFICATIONS,
)


@dataclass(frozen=True)
class FlagSet:
    """The three built-in flags that decide what an app declares."""

    location: bool
    background_location: bool
    push: bool

    @classmethod
    def of(cls, flags: Mapping[str, bool]) -> FlagSet:
        return cls(
            location=bool(flags["location"]),
            background_location=bool(flags["background_location"]),
            push=bool(flags["push"]),
        )


@dataclass(frozen=True)
class PurposeString:
    key: str  # the Info.plist key
    text: TextName  # which of the client's texts it carries (``texts.<name>`` in templates)


@dataclass(frozen=True)
class CollectedData:
    """One ``NSPrivacyCollectedDataTypes`` entry of PrivacyInfo.xcprivacy."""

    type: str  # NSPrivacyCollectedDataType
    linked: bool  # NSPrivacyCollectedDataTypeLinked
    tracking: bool  # NSPrivacyCollectedDataTypeTracking
    purposes: tuple[str, ...]  # NSPrivacyCollectedDataTypePurposes


@dataclass(frozen=True)
class IosRules:
    purpose_strings: tuple[PurposeString, ...]  # must be present, non-empty
    forbidden_keys: tuple[str, ...]  # must be absent
    background_modes: tuple[str, ...]  # nudge's UIBackgroundModes entries that must be present
    forbidden_modes: tuple[str, ...]  # nudge's entries that must be absent
    sdk_version: str  # NUDGE_VERSION for the iOS SDK
    privacy_collected_types: tuple[str, ...]  # PrivacyInfo.xcprivacy data types, for app use
    privacy_collected: tuple[CollectedData, ...]  # the same types as full manifest entries
    privacy_forbidden_types: tuple[str, ...]  # data types PrivacyInfo.xcprivacy must not list


@dataclass(frozen=True)
class AndroidRules:
    permissions: tuple[str, ...]  # must be in the merged manifest
    removed_permissions: tuple[str, ...]  # must not be: ``tools:node="remove"``
    location_service: bool  # location services run with foregroundServiceType="location"
    persistent_notification: bool  # the SDK shows its persistent notification


@dataclass(frozen=True)
class ExpoRules:
    """expo-location's config plugin options: each is a text, a boolean, or ``False`` = leave
    the key out (the plugin writes its generic text for any option not ``false``).

    Every option is set, on every flag set: prebuild applies expo-location by itself when the
    package is installed and not listed in ``plugins``, with no options, i.e. all generic texts.
    """

    uses_location_plugin: bool  # the client needs expo-location (else: pinned off if installed)
    text_options: tuple[tuple[str, TextName], ...]  # set to the client's text
    bool_options: tuple[tuple[str, bool], ...]  # switches, and ``False`` for forbidden texts
    # Text options for keys that are the app's own, not nudge's (NSMotionUsageDescription):
    # passed the app's own text for that Info.plist key, or ``False`` when it has none.
    app_text_options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PlatformRules:
    flags: FlagSet
    location_mode: LocationMode  # NUDGE_LOCATION in every set
    ios: IosRules
    android: AndroidRules
    expo: ExpoRules


def rules_for(flags: Mapping[str, bool] | FlagSet) -> PlatformRules:
    flag_set = flags if isinstance(flags, FlagSet) else FlagSet.of(flags)
    return _rules(flag_set)


@cache
def _rules(flags: FlagSet) -> PlatformRules:
    # Background location without location cannot be declared: "Always" needs "When In Use".
    location = flags.location or flags.background_location
    background = flags.background_location
    mode: LocationMode = "background" if background else "foreground" if location else "false"
    ios = _ios(location, background, flags.push)
    return PlatformRules(
        flags=flags,
        location_mode=mode,
        ios=ios,
        android=_android(location, background, flags.push),
        expo=_expo(location, background, ios),
    )


def _ios(location: bool, background: bool, push: bool) -> IosRules:
    purposes: list[PurposeString] = []
    if location:
        purposes.append(PurposeString(WHEN_IN_USE_KEY, "location_when_in_use"))
    if background:
        purposes.append(PurposeString(ALWAYS_AND_WHEN_IN_USE_KEY, "location_always"))
        purposes.append(PurposeString(ALWAYS_KEY, "location_always"))
    present = {p.key for p in purposes}
    modes = ([LOCATION_MODE] if background else []) + ([REMOTE_NOTIFICATION_MODE] if push else [])
    return IosRules(
        purpose_strings=tuple(purposes),
        forbidden_keys=tuple(k for k in IOS_OWNED_KEYS if k not in present),
        background_modes=tuple(modes),
        forbidden_modes=() if background else (LOCATION_MODE,),
        # nudgeGeo asks for "Always" and turns on background updates, which crashes an app
        # without the `location` background mode: only background clients may use it.
        sdk_version="nudgeGeo" if background else "nudgeStandard",
        privacy_collected_types=(PRECISE_LOCATION_TYPE,) if location else (),
        privacy_collected=(_PRECISE_LOCATION,) if location else (),
        privacy_forbidden_types=() if location else LOCATION_DATA_TYPES,
    )


_PRECISE_LOCATION = CollectedData(
    type=PRECISE_LOCATION_TYPE,
    linked=PRECISE_LOCATION_LINKED,
    tracking=False,
    purposes=(APP_FUNCTIONALITY_PURPOSE,),
)


def _android(location: bool, background: bool, push: bool) -> AndroidRules:
    required = {
        FINE: location,
        COARSE: location,
        BACKGROUND: background,
        FOREGROUND_SERVICE: background,
        FOREGROUND_SERVICE_LOCATION: background,
        POST_NOTIFICATIONS: push,
    }
    never_removed = {FOREGROUND_SERVICE}
    return AndroidRules(
        permissions=tuple(p for p in ANDROID_OWNED_PERMISSIONS if required[p]),
        removed_permissions=tuple(
            p for p in ANDROID_OWNED_PERMISSIONS if not required[p] and p not in never_removed
        ),
        location_service=background,
        persistent_notification=background,
    )


# expo-location 57's config plugin (plugin/build/withLocation.js): the text option that writes
# each Info.plist key. It also writes NSMotionUsageDescription (motionUsagePermission).
EXPO_LOCATION_TEXT_OPTIONS = {
    WHEN_IN_USE_KEY: "locationWhenInUsePermission",
    ALWAYS_AND_WHEN_IN_USE_KEY: "locationAlwaysAndWhenInUsePermission",
    ALWAYS_KEY: "locationAlwaysPermission",
}


def _expo(location: bool, background: bool, ios: IosRules) -> ExpoRules:
    # The texts follow the iOS rules: each purpose string is passed as its option, and every
    # forbidden key's option is `false`, the only value that keeps the plugin's generic text out.
    return ExpoRules(
        uses_location_plugin=location,
        text_options=tuple(
            (EXPO_LOCATION_TEXT_OPTIONS[p.key], p.text) for p in ios.purpose_strings
        ),
        bool_options=(
            *((EXPO_LOCATION_TEXT_OPTIONS[key], False) for key in ios.forbidden_keys),
            ("isIosBackgroundLocationEnabled", background),
            ("isAndroidBackgroundLocationEnabled", background),
            ("isAndroidForegroundServiceEnabled", background),
            # ACTIVITY_RECOGNITION: nudges never read motion.
            ("isAndroidMotionActivityEnabled", False),
        ),
        app_text_options=(("motionUsagePermission", "NSMotionUsageDescription"),),
    )
