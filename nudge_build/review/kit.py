"""One client's review kit as data: which store forms need what answers.

Which sections exist is read from the platform table (``store_forms(rules_for(flags))``); the
wording is ours, with the organization's name and texts filled in. Organization text stays
apart from our wording (``Field.values``) so that each output can escape it for its format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nudge_build.context import user_facing_texts
from nudge_build.org import Organization
from nudge_build.platforms import rules_for
from nudge_build.platforms.stores import CollectedLocation, StoreForms, store_forms
from nudge_build.platforms.table import APP_FUNCTIONALITY_PURPOSE, PRECISE_LOCATION_TYPE

# Stable ids, for --json consumers and tests.
PLAY_BACKGROUND_LOCATION = "play_background_location"
PLAY_FOREGROUND_SERVICE = "play_foreground_service"
APP_PRIVACY = "app_privacy"
DATA_SAFETY = "data_safety"
APP_REVIEW_NOTES = "app_review_notes"


@dataclass(frozen=True)
class Field:
    """One question of a form and our answer.

    ``template`` is our wording with ``{name}`` placeholders; ``values`` fill them with
    organization text, which each output escapes its own way. ``paste`` marks a text meant to
    be copied as is into the form (or, for the disclosure, into the app).
    """

    label: str
    template: str
    values: Mapping[str, str] = field(default_factory=dict)
    paste: bool = False

    @property
    def text(self) -> str:
        return self.template.format_map(self.values)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    where: str  # where the form is
    fields: tuple[Field, ...]
    checklist: tuple[str, ...] = ()  # what must be true of the app (or the video) as well


@dataclass(frozen=True)
class ReviewKit:
    client: str
    organization: str
    flags: Mapping[str, bool]
    location_mode: str
    apps: Mapping[str, str]  # platform -> bundle id / application id, when the org names them
    location_declarations_needed: bool
    statement: str  # the one-paragraph answer: what to declare, or that nothing is needed
    sections: tuple[Section, ...]


def build_kit(client: str, org: Organization, flags: Mapping[str, bool]) -> ReviewKit:
    rules = rules_for(flags)
    forms = store_forms(rules)
    view = org.template_view()
    texts = user_facing_texts(view)
    name = str(view["name"])
    values = {
        "name": name,
        "title": str(texts["notification_title"]),
        "notification": str(texts["notification_text"]),
        "always": str(texts["location_always"]),
    }
    sections: list[Section] = []
    if forms.play_background_location:
        sections.append(_play_background_location(values))
    if forms.foreground_service_types:
        sections.append(_play_foreground_service(forms, values))
    if forms.app_privacy:
        sections.append(_app_privacy(forms.app_privacy))
    if forms.data_safety:
        sections.append(_data_safety(forms.data_safety))
    sections.append(_app_review_notes(rules.location_mode, rules.flags.push, values))
    apps = {
        platform: str(view["apps"][platform][key])
        for platform, key in (("ios", "bundleId"), ("android", "applicationId"))
        if view["apps"][platform].get(key)
    }
    return ReviewKit(
        client=client,
        organization=name,
        flags=dict(flags),
        location_mode=rules.location_mode,
        apps=apps,
        location_declarations_needed=forms.collects_location,
        statement=_statement(forms, [s.title for s in sections if s.id != APP_REVIEW_NOTES]),
        sections=tuple(sections),
    )


def kit_data(kit: ReviewKit) -> dict[str, Any]:
    """The kit as JSON-ready data: texts in full, unescaped (JSON carries any text)."""
    return {
        "client": kit.client,
        "organization": kit.organization,
        "flags": dict(kit.flags),
        "location_mode": kit.location_mode,
        "apps": dict(kit.apps),
        "location_declarations_needed": kit.location_declarations_needed,
        "statement": kit.statement,
        "sections": [
            {
                "id": s.id,
                "title": s.title,
                "where": s.where,
                "fields": [{"label": f.label, "text": f.text, "paste": f.paste} for f in s.fields],
                "checklist": list(s.checklist),
            }
            for s in kit.sections
        ],
    }


def _statement(forms: StoreForms, titles: list[str]) -> str:
    if not forms.collects_location:
        return (
            "No location declaration is needed: nudge uses no location in this app. Declare no "
            "location for nudge in App Privacy or Data safety, and the app must not request "
            "location: its build removes the location permissions and purpose strings, so a "
            "request would fail."
        )
    return "Location declarations needed: " + "; ".join(titles) + "."


# -- sections ---------------------------------------------------------------------------------

_FEATURE = (
    "Location-based alerts: {name} sends a notification when the user comes near one of its "
    "branches, ATMs or a place where one of its offers applies."
)


def _play_background_location(values: Mapping[str, str]) -> Section:
    # Play's required parts, in one paragraph: the data (location), when (also closed or not
    # in use), what for; the institution's own wording is shown beside it to keep them in tune.
    disclosure = (
        "{name} collects location data to alert you to nearby branches, ATMs and offers, "
        "even when the app is closed or not in use. Your location is used only for these "
        "alerts. You can turn this off at any time in your device's settings."
    )
    return Section(
        id=PLAY_BACKGROUND_LOCATION,
        title="Google Play: background location declaration",
        where="Play Console > App content > Sensitive app permissions > Location permissions",
        fields=(
            Field(
                "Core feature that uses location in the background",
                _FEATURE + " The app compares the device's location with these places in the "
                "background, so the alert arrives even when the app is closed or not in use.",
                values,
                paste=True,
            ),
            Field(
                "Why access in the foreground only is not enough",
                "A user arriving at a branch or ATM rarely has the banking app open; an alert "
                "that waits for the app to be opened comes too late to be of use.",
                values,
                paste=True,
            ),
            Field(
                "Video",
                "A link (YouTube, public or unlisted, about 30 seconds, on an Android device) "
                "showing: the prominent disclosure below, the runtime prompt, Allow all the "
                "time in the location settings, the app closed, and a location alert arriving.",
            ),
            Field(
                "In-app prominent disclosure (show it in the app, not in the form)",
                disclosure,
                values,
                paste=True,
            ),
            Field("The iOS Always prompt, for the same wording in both apps", "{always}", values),
        ),
        checklist=(
            "The disclosure is shown inside the app, in its normal flow (a privacy policy, "
            "store listing or settings page alone does not count).",
            "It is shown before the runtime location permission request, and the request "
            "follows right after the user agrees.",
            "It names the data (location), says it is collected when the app is closed or not "
            "in use, and says what for.",
            "The user accepts with an explicit action (a button such as Continue); leaving the "
            "screen is not consent.",
            "On Android 11 and later the app asks for foreground location first, then sends "
            "the user to the settings for Allow all the time.",
            "The store listing describes location-based alerts.",
        ),
    )


def _play_foreground_service(forms: StoreForms, values: Mapping[str, str]) -> Section:
    types = ", ".join(forms.foreground_service_types)
    return Section(
        id=PLAY_FOREGROUND_SERVICE,
        title="Google Play: foreground service declaration (Android 14, type location)",
        where="Play Console > App content > Foreground service permissions",
        fields=(
            Field(
                "Permission and service type",
                f"FOREGROUND_SERVICE_LOCATION; foregroundServiceType {types}",
            ),
            Field(
                "What the service does",
                "While location-based alerts are on, the nudge SDK runs a foreground service "
                "of type location that receives location updates and compares them with "
                "{name}'s branches, ATMs and offer locations, so that an alert arrives when the "
                'user is near one. It shows a persistent notification, "{title}": '
                '"{notification}".',
                values,
                paste=True,
            ),
            Field(
                "Impact on the user if the task is deferred or interrupted",
                "The user misses the alert for the place they are at: a location alert is only "
                "useful on arrival, so a deferred check comes too late. Time-based alerts are "
                "not affected.",
                values,
                paste=True,
            ),
            Field(
                "Video",
                "A link showing location alerts being turned on, the persistent notification "
                '"{title}" appearing, and a location alert arriving with the app in the '
                "background.",
                values,
            ),
        ),
    )


def _app_privacy(collected: tuple[CollectedLocation, ...]) -> Section:
    fields: list[Field] = []
    for data in collected:
        fields += [
            Field("Data type", f"Location > {data.name}: collected"),
            Field("Purposes", ", ".join(data.purposes) + " (no other purpose)"),
            Field("Linked to the user's identity", _linked(data.linked_to_user)),
            Field("Used for tracking", _yes_no(data.used_for_tracking)),
        ]
    fields.append(
        Field(
            "Same as the privacy manifest",
            f"PrivacyInfo.xcprivacy lists {PRECISE_LOCATION_TYPE} with purpose "
            f"{APP_FUNCTIONALITY_PURPOSE}; these answers must match it.",
        )
    )
    return Section(
        id=APP_PRIVACY,
        title="App Store Connect: App Privacy (location)",
        where="App Store Connect > the app > App Privacy > Data Types",
        fields=tuple(fields),
    )


def _data_safety(collected: tuple[CollectedLocation, ...]) -> Section:
    names = ", ".join(d.name for d in collected)
    purposes = sorted({p for d in collected for p in d.purposes})
    return Section(
        id=DATA_SAFETY,
        title="Google Play: Data safety (location)",
        where="Play Console > App content > Data safety",
        fields=(
            Field("Data types", f"Location > {names}: collected"),
            Field(
                "Shared",
                "No: the nudge service processes the location on the institution's behalf, "
                "as its service provider (an assumption: confirm with your contract).",
            ),
            Field("Processed ephemerally", "No"),
            Field(
                "Required or optional",
                "Optional: a user who declines location keeps every other feature of the app.",
            ),
            Field("Purposes", ", ".join(purposes)),
        ),
    )


def _app_review_notes(mode: str, push: bool, values: Mapping[str, str]) -> Section:
    push_text = (
        " Nudges arrive as push notifications (background mode remote-notification)."
        if push
        else ""
    )
    trigger = (
        "How to see a location alert: we set up a test place for this review at [address, "
        "radius]. Allow location when asked, "
    )
    if mode == "background":
        notes = (
            "This app uses the nudge SDK to send {name}'s time-based and location-based alerts "
            "about its branches, ATMs and offers." + push_text + "\n\n"
            "Why Always location: a location alert is useful when the user arrives near a "
            "branch or ATM, usually with the app closed. The app first asks for While Using, "
            "then for Always; declining either keeps every other feature working.\n\n"
            "UIBackgroundModes location: the SDK keeps receiving location updates in the "
            "background to compare them with {name}'s places; without this mode the alerts "
            "could only arrive while the app is open. It stops when location alerts are off.\n\n"
            + trigger
            + "choose Change to Always Allow, close the app and go to (or simulate) that place."
        )
    elif mode == "foreground":
        notes = (
            "This app uses the nudge SDK to send {name}'s alerts about its branches, ATMs and "
            "offers." + push_text + " It uses location only while the app is in use: it never "
            "asks for Always and declares no location background mode.\n\n"
            + trigger
            + "and open the app at (or simulate) that place."
        )
    else:
        notes = (
            "This app uses the nudge SDK to send {name}'s time-based alerts."
            + push_text
            + " It does not use location: it declares no location purpose strings and never "
            "asks for location permission."
        )
    return Section(
        id=APP_REVIEW_NOTES,
        title="App Store Connect: App Review notes",
        where="App Store Connect > the version > App Review Information > Notes",
        fields=(Field("Notes", notes, values, paste=True),),
    )


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _linked(value: bool) -> str:
    if not value:
        return "No"
    return (
        "Yes: the SDK sends the location with the user's identifiers to decide which alerts "
        "that user gets."
    )
