"""Flag derivation: built-ins, config expressions, literal overrides, bool-only results."""

from __future__ import annotations

import pytest

from nudge_build.errors import ConfigError
from nudge_build.flags import compile_rules, derive
from nudge_build.org import parse_organization


def org(**features):
    status = features.pop("status", "active")
    payload = {
        "organizationId": "org_1",
        "name": "Bank",
        "status": status,
        "features": {"locationBasedNudges": True, **features},
    }
    return parse_organization(payload, client="c").template_view()


def values(view, extra=None, overrides=None):
    rules = compile_rules(extra or {}, config_path="cfg.toml")
    return derive(view, rules, overrides or {}, client="c").as_dict()


def test_background_location_defaults_to_true_when_location_is_on():
    assert values(org()) == {"location": True, "background_location": True, "push": True}


def test_foreground_only():
    flags = values(org(backgroundLocation=False))
    assert flags["location"] is True
    assert flags["background_location"] is False


def test_location_off_means_no_background_even_when_enabled():
    flags = values(org(locationBasedNudges=False, backgroundLocation=True, timeBasedNudges=True))
    assert flags == {"location": False, "background_location": False, "push": True}


def test_suspended_organization_gets_no_location():
    flags = values(org(status="suspended"))
    assert flags["location"] is False
    assert flags["background_location"] is False


def test_push_off_when_neither_time_nor_location_nudges():
    flags = values(org(locationBasedNudges=False, timeBasedNudges=False))
    assert flags["push"] is False


def test_override_wins_and_later_flags_see_it():
    rules = compile_rules({}, config_path="cfg.toml")
    flags = derive(org(), rules, {"location": False}, client="c")
    # push still holds: time-based nudges default to on.
    assert flags.as_dict() == {"location": False, "background_location": False, "push": True}
    sources = {f.name: f.source for f in flags}
    assert sources == {"location": "override", "background_location": "derived", "push": "derived"}


def test_config_expression_replaces_builtin_and_adds_new_flag():
    extra = {
        "location": "org.features.locationBasedNudges and org.status == 'active'",
        "many_geofences": "flags.location and org.features.geofenceCount >= 10",
    }
    assert values(org(status="onboarding"), extra)["location"] is False
    assert values(org(geofenceCount=12), extra)["many_geofences"] is True
    assert list(values(org(), extra)) == [
        "location",
        "background_location",
        "push",
        "many_geofences",
    ]


def test_non_bool_result_names_client_flag_and_value():
    with pytest.raises(ConfigError) as info:
        values(org(), {"location": "org.name"})
    assert "client c: flag location: expression 'org.name' gave 'Bank' (Sourced)" in str(info.value)


def test_background_without_location_override_is_refused():
    rules = compile_rules({}, config_path="cfg.toml")
    with pytest.raises(ConfigError, match="background_location is true but location is false"):
        derive(org(), rules, {"location": False, "background_location": True}, client="c")


def test_expression_cannot_reach_python_internals():
    with pytest.raises(ConfigError, match="flag evil"):
        values(org(), {"evil": "org.__class__.__mro__[1].__subclasses__() is none"})


def test_undefined_name_in_expression_is_reported():
    with pytest.raises(
        ConfigError, match="client c: flag x: expression 'org.features.nope' failed"
    ):
        values(org(), {"x": "org.features.nope"})


def test_push_stays_on_for_location_nudges_without_time_based_ones():
    # Location nudges arrive as notifications: an app with them must keep push even when the
    # organization sends no time-based nudges.
    flags = values(org(locationBasedNudges=True, timeBasedNudges=False))
    assert flags == {"location": True, "background_location": True, "push": True}


def test_push_stays_on_for_time_based_nudges_without_location():
    flags = values(org(locationBasedNudges=False, timeBasedNudges=True))
    assert flags["location"] is False and flags["push"] is True


def test_a_misspelt_field_under_not_is_an_error_not_true():
    # With a lenient Undefined, `not <undefined>` is True and the typo would switch a flag on
    # silently; only a bare undefined name fails either way.
    with pytest.raises(ConfigError) as info:
        values(org(), {"x": "not org.features.typo"})
    assert str(info.value) == (
        "client c: flag x: expression 'not org.features.typo' failed: "
        "'dict object' has no attribute 'typo'"
    )


def test_a_misspelt_field_in_a_comparison_or_a_boolean_test_is_an_error():
    for expression in ("org.features.typo == false", "flags.location and not org.typo"):
        with pytest.raises(ConfigError, match=r"client c: flag x: expression .* failed: "):
            values(org(), {"x": expression})
