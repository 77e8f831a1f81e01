"""Parsing GetOrganization responses: required fields, types, field paths, null handling."""

from __future__ import annotations

import pytest

from nudge_build.org import OrganizationError, parse_organization

BASE = {
    "organizationId": "org_1",
    "name": "Bank",
    "features": {"locationBasedNudges": False},
}


def parse(payload):
    return parse_organization(payload, client="acme")


@pytest.mark.parametrize(
    "path", ["organizationId", "name", "features", "features.locationBasedNudges"]
)
def test_missing_required_field_names_client_and_path(path):
    payload = {**BASE, "features": dict(BASE["features"])}
    head, _, tail = path.partition(".")
    if tail:
        del payload[head][tail]
    else:
        del payload[head]
    with pytest.raises(OrganizationError) as info:
        parse(payload)
    assert str(info.value) == f"client acme: organization field {path} is missing"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"features": {"locationBasedNudges": "yes"}},
            'features.locationBasedNudges: expected a boolean, got string "yes"',
        ),
        ({"name": 7}, "name: expected a string, got integer 7"),
        (
            {"status": "closed"},
            'status: expected one of active, onboarding, suspended, got string "closed"',
        ),
        (
            {"apps": {"ios": {"bundleId": ["x"]}}},
            'apps.ios.bundleId: expected a string, got array ["x"]',
        ),
        (
            {"features": {"locationBasedNudges": True, "geofenceCount": 1.5}},
            "features.geofenceCount: expected an integer, got number 1.5",
        ),
    ],
)
def test_wrong_type_names_the_field_path(change, message):
    with pytest.raises(OrganizationError) as info:
        parse({**BASE, **change})
    assert str(info.value) == f"client acme: organization field {message}"


def test_not_an_object():
    with pytest.raises(OrganizationError, match="client acme: response is a JSON array"):
        parse([1, 2])


def test_nulls_mean_absent_and_defaults_apply():
    org = parse({**BASE, "timeZone": None, "messaging": {"locationPermissionText": None}})
    assert "timeZone" not in org.snapshot
    view = org.template_view()
    assert view["status"] == "active"
    assert view["features"]["backgroundLocation"] is True
    assert view["messaging"]["locationPermissionText"] is None


def test_unknown_fields_are_kept_for_templates():
    org = parse({**BASE, "brandColor": "#123456", "extra": {"nested": [1, "two"]}})
    view = org.template_view()
    assert view["brandColor"] == "#123456"
    assert view["extra"]["nested"] == [1, "two"]
    assert view["extra"]["nested"][1].field == "org.extra.nested[1]"


def test_digest_is_stable_and_order_independent():
    a = parse(
        {"name": "Bank", "organizationId": "org_1", "features": {"locationBasedNudges": False}}
    )
    b = parse(BASE)
    assert a.digest == b.digest
    assert a.digest.startswith("sha256:")


def test_lone_surrogate_names_the_field():
    payload = {**BASE, "messaging": {"backgroundNotificationText": "ok \ud800 no"}}
    with pytest.raises(OrganizationError) as info:
        parse(payload)
    assert str(info.value) == (
        "client acme: organization field messaging.backgroundNotificationText: "
        "contains U+D800, a lone surrogate, which is not text"
    )
