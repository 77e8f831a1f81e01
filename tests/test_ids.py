"""App ids and flag combinations are checked before render: a bad one fails its client clearly."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest
import tomli_w

from nudge_build.platforms.ids import application_id_problem, bundle_id_problem
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, project_env, write_project


@pytest.mark.parametrize(
    "value", ["org.prairiefcu.mobile", "com.Harbor-Main.banking2", "1com.bank-app", "app"]
)
def test_apple_takes_these_bundle_ids(value):
    assert bundle_id_problem(value) is None


@pytest.mark.parametrize(
    "value", ["com.bank app!/x", "com..bank", ".com.bank", "com.bank.", "com.bänk", "com_bank", ""]
)
def test_apple_refuses_these_bundle_ids(value):
    assert bundle_id_problem(value) is not None


@pytest.mark.parametrize("value", ["org.prairiefcu.mobile", "com.Bank_2.app", "a.b"])
def test_android_takes_these_application_ids(value):
    assert application_id_problem(value) is None


@pytest.mark.parametrize(
    "value",
    ["1com.bank-app", "com.bank-app", "bank", "com.1bank", "com._bank", "com..bank", "com.bänk"],
)
def test_android_refuses_these_application_ids(value):
    assert application_id_problem(value) is not None


@pytest.fixture
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


def _org(key: str, **apps: dict) -> dict:
    org = copy.deepcopy(next(o for o in SAMPLE_ORGS if o["apiKey"] == key))
    org["apps"].update(apps)
    return org


def test_a_bad_app_id_fails_only_its_client_and_names_field_and_value(tmp_path):
    orgs = [
        _org("sbx-prairie-fcu", ios={"bundleId": "com.bank app!/x"}),
        _org("sbx-harbor-bank", android={"applicationId": "1com.bank-app"}),
        _org("sbx-summit-cu"),
    ]
    clients = ["prairie-fcu", "harbor-bank", "summit-cu"]
    keys = {c: SAMPLE_KEYS[c] for c in clients}
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=clients)
        result = cli(config, "build", env=project_env(keys))

    assert result.exit_code == 3, result.output
    assert (
        'error: client prairie-fcu: organization field apps.ios.bundleId: "com.bank app!/x" '
        "is not valid: an Apple bundle id has letters A-Z a-z, digits, '-' and '.', with no "
        "empty part between periods"
    ) in result.output
    assert (
        "error: client harbor-bank: organization field apps.android.applicationId: "
        '"1com.bank-app" is not valid: an Android application id has at least two parts'
    ) in result.output
    assert "2 client(s) failed: prairie-fcu, harbor-bank" in result.output
    out = tmp_path / "nudge"
    assert sorted(p.name for p in out.iterdir()) == ["summit-cu"]
    lock = tomllib.loads((tmp_path / "nudge-build.lock").read_text(encoding="utf-8"))
    assert sorted(lock["clients"]) == ["summit-cu"]


def test_a_bad_app_id_in_the_lockfile_stops_render(tmp_path, api):
    config = write_project(tmp_path, api.base_url, clients=["summit-cu"])
    assert cli(config, "build", env=project_env()).exit_code == 0
    lockfile = tmp_path / "nudge-build.lock"
    lock = tomllib.loads(lockfile.read_text(encoding="utf-8"))
    lock["clients"]["summit-cu"]["organization"]["apps"]["ios"]["bundleId"] = "org/summit"
    lockfile.write_text(tomli_w.dumps(lock), encoding="utf-8")

    result = cli(config, "render")
    assert result.exit_code == 2
    assert result.output.startswith(
        f"error: {lockfile}: client summit-cu: organization field apps.ios.bundleId: "
        '"org/summit" is not valid'
    )


UNWORKABLE = [
    (
        "push = false",
        "background_location is true but push is false; the SDK would be off",
    ),
    (
        "location = false\nbackground_location = true",
        "background_location is true but location is false",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), UNWORKABLE)
def test_unworkable_flags_are_a_config_error_naming_client_and_flags(
    tmp_path, api, overrides, message
):
    extra = f"[clients.prairie-fcu.flags]\n{overrides}\n"
    config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"], extra=extra)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2
    assert result.output.startswith(f"error: client prairie-fcu: flag {message}")
    assert "set allow_unusual_flags = true in [clients.prairie-fcu]" in result.output
    assert not (tmp_path / "nudge").exists()


def test_allow_unusual_flags_builds_them_anyway(tmp_path, api):
    # The recipe in docs/review.md, as it stands there.
    docs = (Path(__file__).resolve().parent.parent / "docs" / "review.md").read_text("utf-8")
    extra = docs.split("```toml\n")[-1].split("```")[0]
    assert "allow_unusual_flags = true" in extra
    config = write_project(tmp_path, api.base_url, clients=[], extra=extra)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    xcconfig = (tmp_path / "nudge/prairie-fcu/ios/Nudge.xcconfig").read_text("utf-8")
    assert "NUDGE_VERSION = nudgeGeo\n" in xcconfig


def test_allow_unusual_flags_must_be_a_boolean(tmp_path):
    extra = '[clients.a]\napi_key = "k"\nallow_unusual_flags = "yes"\n'
    config = write_project(tmp_path, "https://api.example.com", clients=[], extra=extra)
    result = cli(config, "flags")
    assert result.exit_code == 2
    assert "[clients.a].allow_unusual_flags: expected true or false, got 'yes'" in result.output
