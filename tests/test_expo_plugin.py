"""withNudge, the stock expo set's config plugin, judged by Expo's own config tools.

A real build over HTTP (the sample organizations, plus one whose text is full of ``$`` and two
flag sets the samples lack) renders the expo set into an Expo app that wires it in exactly as
docs/wiring-expo.md says. One Node process (tests/npm/expo_config.js) then reads every client
with the pinned @expo/config (``getConfig``, what the app sees at run time) and with the steps of
``expo config --type introspect`` (@expo/prebuild-config + every plugin's mods, expo-location's
included): the Info.plist and AndroidManifest.xml that prebuild would write.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nudge_build.context import user_facing_texts
from nudge_build.lock import read_lock
from nudge_build.org import parse_organization
from nudge_build.platforms import IOS_OWNED_KEYS, PlatformRules, rules_for
from nudge_build.platforms.table import ALWAYS_AND_WHEN_IN_USE_KEY, WHEN_IN_USE_KEY
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests import swift_build_macros as xcode
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SAMPLE_KEYS,
    cli,
    key_env_name,
    project_env,
    write_project,
)
from tests.platform_tools import NPM_DIR, npm_modules, run_node

DOCS = Path(__file__).resolve().parent.parent / "docs" / "wiring-expo.md"
READER = NPM_DIR / "expo_config.js"

DOLLAR_TEXT = "Dollar CU: $(PRODUCT_NAME) ${HOME} $HOME $5 $$ (USD)$ \"q\" \\ <b> & 'a'\nok"
DOLLAR_ORG = {
    "apiKey": "sbx-dollar-cu",
    "organizationId": "org_d011a7",
    "name": "Dollar $(PRODUCT_NAME) Credit Union",
    "status": "active",
    "features": {"locationBasedNudges": True, "backgroundLocation": True},
    "messaging": {"locationPermissionText": DOLLAR_TEXT},
}
# The samples all have push on: these two add foreground-without-push and nothing-at-all.
QUIET = {"harbor-bank-quiet": "harbor-bank", "summit-cu-quiet": "summit-cu"}
KEYS = {
    **SAMPLE_KEYS,
    "dollar-cu": "sbx-dollar-cu",
    **{client: SAMPLE_KEYS[org] for client, org in QUIET.items()},
}
QUIET_CONFIG = "".join(
    f'[clients.{client}]\napi_key_env = "{key_env_name(org)}"\n'
    f"[clients.{client}.flags]\npush = false\n"
    for client, org in QUIET.items()
)
CLIENTS = sorted(KEYS)

MOTION_KEY = "NSMotionUsageDescription"
ICON_OPTION = "androidForegroundServiceIcon"
MOTION_TEXT = "Partner counts your steps for $(PRODUCT_NAME)'s step challenge."
# The app's own config: keys nudge must keep, and stale nudge keys it must fix.
APP_JSON = {
    "expo": {
        "name": "Partner",
        "slug": "partner",
        "ios": {
            "bundleIdentifier": "com.partner.app",
            "infoPlist": {
                "CFBundleDisplayName": "Partner Bank",
                "PartnerSettings": {"Region": "west", "Retries": [1, 2, 3]},
                "UIBackgroundModes": ["fetch", "location"],
                "NSLocationAlwaysUsageDescription": "stale text from an older build",
                MOTION_KEY: MOTION_TEXT,
            },
        },
        "android": {
            "package": "com.partner.app",
            "permissions": ["CAMERA", "ACCESS_BACKGROUND_LOCATION"],
            "blockedPermissions": ["android.permission.RECORD_AUDIO"],
        },
        "extra": {"partner": {"theme": "dark"}},
    }
}
ICON = "./assets/location-icon.png"
# The app lists expo-location itself: nudge's options replace its texts, its icon stays.
OWN_PLUGINS = [
    ["expo-location", {"locationWhenInUsePermission": "Use location?", ICON_OPTION: ICON}]
]
OWN_MODES = APP_JSON["expo"]["ios"]["infoPlist"]["UIBackgroundModes"]
PACKAGE_JSON = {
    "name": "partner-app",
    "version": "1.0.0",
    "dependencies": {"expo": "57.0.33", "expo-location": "57.0.20"},
}
# What Xcode has for the build settings an Info.plist string may name.
XCODE_SETTINGS = {"PRODUCT_NAME": "Partner", "HOME": "/Users/runner"}
GENERIC = re.compile(r"^Allow \$\(PRODUCT_NAME\) to ")


def docs_block(marker: str) -> str:
    """The fenced code block in docs/wiring-expo.md whose text contains ``marker``."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"docs/wiring-expo.md: {len(found)} blocks contain {marker!r}"
    return found[0]


def write_app(
    root: Path, modules: Path, *, app_config: str | None, package: dict, plugins: list | None = None
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    app_json = {"expo": {**APP_JSON["expo"], **({"plugins": plugins} if plugins else {})}}
    (root / "app.json").write_text(json.dumps(app_json, indent=2), encoding="utf-8")
    (root / "package.json").write_text(json.dumps(package), encoding="utf-8")
    if app_config is not None:
        (root / "app.config.js").write_text(app_config, encoding="utf-8")
    if not (root / "node_modules").exists():
        (root / "node_modules").symlink_to(modules, target_is_directory=True)


def modules_without(modules: Path, target: Path, left_out: str) -> Path:
    """A node_modules with every installed package but one, as links to the real ones."""
    target.mkdir()
    for entry in modules.iterdir():
        if entry.name != left_out and not entry.name.startswith("."):
            (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return target


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> dict[str, Any]:
    """The Expo app of the docs' recipes, every client read once; case name -> what Expo read."""
    modules = npm_modules()
    root = tmp_path_factory.mktemp("expo") / "partner-app"
    root.mkdir()
    with Sandbox(
        [*SAMPLE_ORGS, DOLLAR_ORG], client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    ) as api:
        config = write_project(
            root,
            api.base_url,
            clients=[c for c in CLIENTS if c not in QUIET],
            stock=["expo"],
            extra='[output]\nroot = "nudge"\n' + QUIET_CONFIG,
        )
        result = cli(config, "build", env=project_env(KEYS))
    assert result.exit_code == 0, result.output
    app_config = docs_block("process.env.APP_CLIENT")
    write_app(root, modules, app_config=app_config, package=PACKAGE_JSON, plugins=OWN_PLUGINS)

    # The fixed one-line recipe, in a second app that shares the rendered files.
    fixed = root.parent / "fixed-app"
    write_app(
        fixed,
        modules,
        app_config=docs_block("nudge/prairie-fcu/expo/withNudge"),
        package=PACKAGE_JSON,
    )
    (fixed / "nudge").symlink_to(root / "nudge", target_is_directory=True)

    # An app that never installed expo-location.
    bare = root.parent / "bare-app"
    bare.mkdir()
    modules_without(modules, bare / "node_modules", "expo-location")
    bare_package = {**PACKAGE_JSON, "dependencies": {"expo": "57.0.33"}}
    write_app(bare, modules, app_config=docs_block("process.env.APP_CLIENT"), package=bare_package)
    (bare / "nudge").symlink_to(root / "nudge", target_is_directory=True)

    # The same app without withNudge: what Expo does on its own.
    control = root.parent / "control-app"
    write_app(control, modules, app_config=None, package=PACKAGE_JSON)

    cases = {client: {"root": str(root), "env": {"APP_CLIENT": client}} for client in CLIENTS}
    cases["fixed"] = {"root": str(fixed), "env": {}}
    cases["bare"] = {"root": str(bare), "env": {"APP_CLIENT": "lakeside-savings"}}
    cases["control"] = {"root": str(control), "env": {}}
    cases["unset"] = {"root": str(root), "env": {"APP_CLIENT": None}}
    read = json.loads(run_node(READER, stdin=json.dumps(list(cases.values()))))
    for name, result in zip(cases, read, strict=True):
        assert name == "unset" or "error" not in result, f"{name}: {result.get('error')}"
    lock = read_lock(root / "nudge-build.lock")
    return {
        "read": dict(zip(cases, read, strict=True)),
        "flags": {client: dict(lock.clients[client].flags) for client in CLIENTS},
        "orgs": {client: lock.clients[client].organization for client in CLIENTS},
        "root": root,
    }


def rules(app: dict[str, Any], client: str) -> PlatformRules:
    return rules_for(app["flags"][client])


def texts(app: dict[str, Any], client: str) -> dict[str, str]:
    org = parse_organization(dict(app["orgs"][client]), client=client)
    return user_facing_texts(org.template_view())


def uses_permissions(manifest: dict) -> dict[str, str | None]:
    """AndroidManifest.xml's <uses-permission> entries: name -> tools:node (None if unset)."""
    entries = manifest["manifest"].get("uses-permission", [])
    return {e["$"]["android:name"]: e["$"].get("tools:node") for e in entries}


@pytest.mark.parametrize("client", CLIENTS)
def test_info_plist_has_exactly_the_tables_purpose_strings(app, client):
    read, table, text = app["read"][client], rules(app, client), texts(app, client)
    wanted = {p.key: text[p.text] for p in table.ios.purpose_strings}
    for info in (read["config"]["ios"]["infoPlist"], read["infoPlist"]):
        assert {k: info[k] for k in IOS_OWNED_KEYS if k in info}.keys() == wanted.keys()
        for key, value in wanted.items():
            # What the user reads once Xcode has expanded build settings in the plist.
            assert xcode.info_plist_value(info[key], XCODE_SETTINGS) == value, key


@pytest.mark.parametrize("client", CLIENTS)
def test_no_generic_expo_location_text_reaches_the_info_plist(app, client):
    info = app["read"][client]["infoPlist"]
    assert [k for k, v in info.items() if isinstance(v, str) and GENERIC.match(v)] == []
    assert info[MOTION_KEY] == MOTION_TEXT  # the app's own purpose string, not expo-location's


def test_without_the_plugin_expo_location_writes_its_generic_texts(app):
    """The control that makes the test above mean something: prebuild applies expo-location
    on its own when it is installed, with generic text for every key the app has no text for."""
    info = app["read"]["control"]["infoPlist"]
    generic = {k for k, v in info.items() if isinstance(v, str) and GENERIC.match(v)}
    assert generic == {WHEN_IN_USE_KEY, ALWAYS_AND_WHEN_IN_USE_KEY}
    assert info["NSLocationAlwaysUsageDescription"] == "stale text from an older build"


@pytest.mark.parametrize("client", CLIENTS)
def test_the_apps_own_info_plist_keys_and_modes_stay(app, client):
    table = rules(app, client)
    info = app["read"][client]["infoPlist"]
    assert info["CFBundleDisplayName"] == "Partner Bank"
    assert info["PartnerSettings"] == {"Region": "west", "Retries": [1, 2, 3]}
    own = [m for m in OWN_MODES if m not in table.ios.forbidden_modes]
    added = [m for m in table.ios.background_modes if m not in own]
    assert info["UIBackgroundModes"] == own + added
    assert "fetch" in info["UIBackgroundModes"]
    assert app["read"][client]["config"]["ios"]["infoPlist"]["UIBackgroundModes"] == own + added


@pytest.mark.parametrize("client", CLIENTS)
def test_android_permissions_and_blocked_permissions_follow_the_table(app, client):
    table = rules(app, client)
    read = app["read"][client]
    android = read["config"]["android"]
    assert set(table.android.permissions) <= set(android["permissions"])
    assert "CAMERA" in android["permissions"]
    # The app's own short-form entry goes when the client must not have it. (expo-location,
    # which runs after withNudge, lists fine and coarse location even when pinned off; the
    # blocked list below keeps them out of the manifest.)
    background = "android.permission.ACCESS_BACKGROUND_LOCATION"
    if background in table.android.removed_permissions:
        assert "ACCESS_BACKGROUND_LOCATION" not in android["permissions"]
    assert android["blockedPermissions"] == [
        "android.permission.RECORD_AUDIO",
        *table.android.removed_permissions,
    ]
    manifest = uses_permissions(read["manifest"])
    for permission in table.android.permissions:
        assert manifest[permission] is None, permission
    for permission in table.android.removed_permissions:
        # Marked so that no library manifest can merge it back in.
        assert manifest[permission] == "remove", permission
    assert manifest["android.permission.CAMERA"] is None


@pytest.mark.parametrize("client", CLIENTS)
def test_expo_location_gets_every_option_set(app, client):
    table, text = rules(app, client), texts(app, client)
    entries = [p for p in app["read"][client]["config"]["plugins"] if p[0] == "expo-location"]
    assert len(entries) == 1
    options = entries[0][1]
    expected: dict[str, object] = dict(table.expo.bool_options)
    for option, name in table.expo.text_options:
        expected[option] = text[name].replace("$", "$$")
    expected["motionUsagePermission"] = MOTION_TEXT
    expected[ICON_OPTION] = ICON
    assert options == expected


@pytest.mark.parametrize("client", CLIENTS)
def test_extra_nudge_holds_real_booleans(app, client):
    table = rules(app, client)
    extra = app["read"][client]["config"]["extra"]
    nudge = extra["nudge"]
    assert nudge["enabled"] is table.flags.push
    if table.location_mode == "false":
        assert nudge["location"] is False
    else:
        assert nudge["location"] == table.location_mode
    assert nudge["organizationId"] == app["orgs"][client]["organizationId"]
    assert nudge["organizationName"] == app["orgs"][client]["name"]  # as given: not for Xcode
    assert extra["partner"] == {"theme": "dark"}


def test_the_flag_sets_tested_cover_every_location_mode_with_and_without_push(app):
    seen = {(rules(app, c).location_mode, rules(app, c).flags.push) for c in CLIENTS}
    assert {("background", True), ("foreground", True), ("false", True)} <= seen
    assert {("foreground", False), ("false", False)} <= seen


def test_the_fixed_one_line_recipe_wires_its_client(app):
    assert app["read"]["fixed"]["infoPlist"] == app["read"]["prairie-fcu"]["infoPlist"]
    assert app["read"]["fixed"]["config"]["extra"] == app["read"]["prairie-fcu"]["config"]["extra"]


def test_an_app_without_expo_location_gets_no_plugin_entry(app):
    read = app["read"]["bare"]
    assert [p for p in read["config"]["plugins"] if p[0] == "expo-location"] == []
    assert not set(IOS_OWNED_KEYS) & set(read["infoPlist"])
    assert read["config"]["extra"]["nudge"]["location"] is False


def test_docs_name_the_files_the_build_writes(app):
    for client in CLIENTS:
        expo = app["root"] / "nudge" / client / "expo"
        assert sorted(p.name for p in expo.iterdir()) == ["app.config.nudge.json", "withNudge.js"]
    eas = json.loads(docs_block('"APP_CLIENT"'))
    for profile in eas["build"].values():
        assert profile["env"]["APP_CLIENT"] in SAMPLE_KEYS


def test_the_per_profile_recipe_names_the_variable_when_it_is_unset(app):
    assert "Set APP_CLIENT to a client id" in app["read"]["unset"]["error"]
