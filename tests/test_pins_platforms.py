"""The platform table and the names derived from it, pinned where the build tests do not look."""

from __future__ import annotations

import pytest

from nudge_build.org import Organization, OrganizationError
from nudge_build.platforms import rules_for, table
from nudge_build.platforms.ids import check_app_ids
from nudge_build.platforms.names import flavor_name_clashes
from nudge_build.platforms.stores import CollectedLocation, StoreForms, store_forms


def test_a_clash_is_keyed_by_the_first_clients_flavor_name():
    # Equal but for case: one source-set folder on a case-insensitive disk.
    assert flavor_name_clashes(["a-bc", "ab-c"]) == {"aBc": ("a-bc", "ab-c")}
    assert flavor_name_clashes(["ab-c", "a-bc"]) == {"abC": ("ab-c", "a-bc")}


def test_a_bad_app_id_is_shown_as_json_text_and_cut_at_80_characters():
    def problem(bundle_id: str) -> str:
        org = Organization("o", "O", "active", {"apps": {"ios": {"bundleId": bundle_id}}}, "d")
        with pytest.raises(OrganizationError) as caught:
            check_app_ids(org, client="prairie-fcu")
        return str(caught.value).split(": ")[2].removesuffix(" is not valid")

    assert problem("com.zürich app") == '"com.zürich app"'
    fits = "x" * 77 + " "  # 80 characters with its quotes: shown whole
    assert problem(fits) == f'"{fits}"'
    too_long = "y" * 78 + " "
    assert problem(too_long) == '"' + "y" * 76 + '..."'


def test_an_android_id_is_checked_when_the_organization_has_no_ios_one():
    org = Organization("o", "O", "active", {"apps": {"android": {"applicationId": "a b"}}}, "d")
    with pytest.raises(OrganizationError) as caught:
        check_app_ids(org, client="prairie-fcu")
    assert str(caught.value).startswith(
        'client prairie-fcu: organization field apps.android.applicationId: "a b" is not valid: '
    )


BACKGROUND_FLAGS = {"location": True, "background_location": True, "push": True}
FOREGROUND_FLAGS = {"location": True, "background_location": False, "push": False}
PUSH_ONLY_FLAGS = {"location": False, "background_location": False, "push": True}


def test_store_forms_read_the_table_in_the_stores_words():
    precise = CollectedLocation("Precise Location", ("App Functionality",), True, False)
    approximate = CollectedLocation("Approximate location", ("App functionality",), True, False)
    precise_android = CollectedLocation("Precise location", ("App functionality",), True, False)
    assert store_forms(rules_for(BACKGROUND_FLAGS)) == StoreForms(
        play_background_location=True,
        foreground_service_types=("location",),
        app_privacy=(precise,),
        data_safety=(approximate, precise_android),
    )
    foreground = store_forms(rules_for(FOREGROUND_FLAGS))
    assert foreground == StoreForms(False, (), (precise,), (approximate, precise_android))
    assert foreground.collects_location
    push_only = store_forms(rules_for(PUSH_ONLY_FLAGS))
    assert push_only == StoreForms(False, (), (), ())
    assert not push_only.collects_location


@pytest.mark.parametrize("location", [False, True])
@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("push", [False, True])
def test_every_flag_set_gets_the_rules_stated_for_it(location, background, push):
    # The table caches its answers; start from an empty cache so this run computes them.
    table._rules.cache_clear()
    rules = rules_for({"location": location, "background_location": background, "push": push})
    located = location or background
    assert rules.flags == table.FlagSet(location, background, push)
    assert rules.location_mode == (
        "background" if background else "foreground" if located else "false"
    )
    ios, android, expo = rules.ios, rules.android, rules.expo
    purposes = [(p.key, p.text) for p in ios.purpose_strings]
    assert purposes == (
        [("NSLocationWhenInUseUsageDescription", "location_when_in_use")] if located else []
    ) + (
        [
            ("NSLocationAlwaysAndWhenInUseUsageDescription", "location_always"),
            ("NSLocationAlwaysUsageDescription", "location_always"),
        ]
        if background
        else []
    )
    assert set(ios.forbidden_keys) == set(table.IOS_OWNED_KEYS) - {k for k, _ in purposes}
    assert ios.background_modes == (("location",) if background else ()) + (
        ("remote-notification",) if push else ()
    )
    assert ios.forbidden_modes == (() if background else ("location",))
    assert ios.sdk_version == ("nudgeGeo" if background else "nudgeStandard")
    precise = "NSPrivacyCollectedDataTypePreciseLocation"
    coarse = "NSPrivacyCollectedDataTypeCoarseLocation"
    assert ios.privacy_collected_types == ((precise,) if located else ())
    assert ios.privacy_forbidden_types == (() if located else (precise, coarse))
    if located:
        (entry,) = ios.privacy_collected
        assert entry == table.CollectedData(
            precise, True, False, ("NSPrivacyCollectedDataTypePurposeAppFunctionality",)
        )
    else:
        assert ios.privacy_collected == ()
    fine, coarse_p = table.FINE, table.COARSE
    wanted = (
        [fine, coarse_p] * located
        + [
            table.BACKGROUND,
            table.FOREGROUND_SERVICE,
            table.FOREGROUND_SERVICE_LOCATION,
        ]
        * background
        + [table.POST_NOTIFICATIONS] * push
    )
    assert android.permissions == tuple(wanted)
    assert set(android.removed_permissions) == (
        set(table.ANDROID_OWNED_PERMISSIONS) - set(wanted) - {table.FOREGROUND_SERVICE}
    )
    assert android.location_service is background
    assert android.persistent_notification is background
    assert expo.uses_location_plugin is located
    assert expo.text_options == tuple(
        (table.EXPO_LOCATION_TEXT_OPTIONS[key], text) for key, text in purposes
    )
    assert expo.bool_options == (
        *((table.EXPO_LOCATION_TEXT_OPTIONS[key], False) for key in ios.forbidden_keys),
        ("isIosBackgroundLocationEnabled", background),
        ("isAndroidBackgroundLocationEnabled", background),
        ("isAndroidForegroundServiceEnabled", background),
        ("isAndroidMotionActivityEnabled", False),
    )
    assert expo.app_text_options == (("motionUsagePermission", "NSMotionUsageDescription"),)
    # A FlagSet and a mapping of the same flags get the same rules.
    assert rules_for(rules.flags) == rules
