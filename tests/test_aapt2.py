"""The android set's outputs through aapt2, the resource compiler that Gradle runs on them.

Every client (the five samples and hostile ones covering each flag set) is built over real
HTTP; its ``res/values/nudge_strings.xml`` is compiled with ``aapt2 compile`` and linked with
its ``AndroidManifest.xml`` against the platform's framework-res.apk (Debian's ``aapt`` and
``android-framework-res``, Android 10). The linked apk is then read back with ``aapt2 dump``.

aapt2 is not the manifest merger: it drops every ``tools:`` attribute and acts on none, so in
a linked fragment a ``tools:node="remove"`` permission is an ordinary ``uses-permission``.
The tests therefore check what aapt2 can judge (the fragment and the strings compile, every
name and value survives, the tools markers are where the merger will look for them) and say
so where they stop.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nudge_build.formats import unescape_android_string
from nudge_build.platforms import ANDROID_OWNED_PERMISSIONS, rules_for
from nudge_build.platforms.table import FOREGROUND_SERVICE_LOCATION, POST_NOTIFICATIONS
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, project_env, write_project
from tests.platform_tools import debian_file, debian_tool

FRAMEWORK_RES = "/usr/share/android-framework-res/framework-res.apk"
ANDROID_NS = "http://schemas.android.com/apk/res/android"
TOOLS_NS = "http://schemas.android.com/tools"
# android:foregroundServiceType's flag value for "location" (framework attrs.xml).
LOCATION_SERVICE_TYPE = "0x00000008"
SERVICES = ["com.nudge.sdk.location.NudgeLocationService", ".location.AppGeofenceService"]
NOTIFICATION_TEXT = "@Watching \\ for 'nearby' \"offers\"\n  {{ x }} % s &amp; <b>  "


def _hostile(client: str, name: str, *, time: bool, location: bool, background: bool) -> dict:
    return {
        "client": client,
        "org": {
            "apiKey": f"key-{client}",
            "organizationId": f"org_{client.replace('-', '_')}",
            "name": name,
            "status": "active",
            "features": {
                "timeBasedNudges": time,
                "locationBasedNudges": location,
                "backgroundLocation": background,
            },
            "messaging": {"backgroundNotificationText": NOTIFICATION_TEXT},
        },
    }


# One client per flag set the android rules tell apart, each with a name aapt2 would misread
# unless nudge-build escaped it: quotes and apostrophes, a leading @ or ?, & and <, runs of
# spaces at the ends, non-ASCII, newline, tab, U+2028.
HOSTILE = [
    _hostile(
        "quote-bank",
        "Harbor & Main's \"Best\" <Bank> ]]> 'quoted'",
        time=True,
        location=True,
        background=True,
    ),
    _hostile(
        "at-union",
        "@string/app_name ?attr \\back\\slash",
        time=True,
        location=True,
        background=False,
    ),
    _hostile(
        "space-savings",
        "  leading and  double  spaces and trailing  ",
        time=True,
        location=False,
        background=False,
    ),
    _hostile(
        "unicode-coop",
        "Ünïcödé Crédit Coopératif 🏦 — 100% sûr = #1\nline two\ttabbed\u2028end",
        time=True,
        location=True,
        background=True,
    ),
    _hostile(
        "quiet-trust",
        "?Quiet & <Trust>",
        time=False,
        location=False,
        background=False,
    ),
]
# Which clients list location services in [clients.<id>.vars]: background and not.
WITH_SERVICES = ("quote-bank", "unicode-coop", "quiet-trust", "at-union")


@dataclass(frozen=True)
class Linked:
    """One client's outputs and what aapt2 made of them."""

    client: str
    flags: dict[str, bool]
    org: dict[str, Any]
    manifest_source: bytes
    strings_source: bytes
    elements: list[tuple[str, dict[str, str]]]  # `aapt2 dump xmltree` of the linked manifest
    xmltree: str
    strings: dict[str, str]  # `aapt2 dump resources`: name -> value
    badging: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("aapt2-build")
    orgs = [*SAMPLE_ORGS, *(h["org"] for h in HOSTILE)]
    keys = {**SAMPLE_KEYS, **{h["client"]: h["org"]["apiKey"] for h in HOSTILE}}
    services = ", ".join(f'"{s}"' for s in SERVICES)
    extra = "".join(
        f"[clients.{client}.vars]\nandroid_location_services = [{services}]\n"
        for client in WITH_SERVICES
    )
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(workdir, api.base_url, clients=keys, stock=["android"], extra=extra)
        result = cli(config, "build", env=project_env(keys))
    assert result.exit_code == 0, result.output
    lock = tomllib.loads((workdir / "nudge-build.lock").read_text(encoding="utf-8"))
    by_key = {org["apiKey"]: org for org in orgs}
    clients = {
        client: {"flags": lock["clients"][client]["flags"], "org": by_key[key]}
        for client, key in keys.items()
    }
    return workdir / "nudge", clients


@pytest.fixture(scope="module")
def linked(built: tuple[Path, dict[str, Any]], tmp_path_factory) -> dict[str, Linked]:
    out, clients = built
    aapt2 = debian_tool("aapt2", "aapt")
    framework = debian_file(FRAMEWORK_RES, "android-framework-res")
    work = tmp_path_factory.mktemp("aapt2-link")

    def one(client: str) -> Linked:
        return _link(aapt2, framework, out / client / "android", work / client, client, clients)

    # Two at a time: each client is a handful of short aapt2 runs.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {item.client: item for item in pool.map(one, clients)}


def _aapt2(*args: str | Path) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stdout


def _link(
    aapt2: str,
    framework: Path,
    android: Path,
    work: Path,
    client: str,
    clients: dict[str, Any],
) -> Linked:
    (work / "flat").mkdir(parents=True)
    strings_xml = android / "res" / "values" / "nudge_strings.xml"
    _aapt2(aapt2, "compile", "-o", work / "flat", strings_xml)
    # The fragment has no package: the Gradle merger takes it from the app. Give it the
    # client's application id (or an example one) as the merger would.
    properties = (android / "nudge.properties").read_text(encoding="ascii")
    found = re.search(r"^nudge\.applicationId=(.+)$", properties, re.MULTILINE)
    package = found.group(1) if found else "com.example.nudge." + client.replace("-", "")
    source = (android / "AndroidManifest.xml").read_bytes()
    manifest = work / "AndroidManifest.xml"
    manifest.write_bytes(
        source.replace(b"<manifest ", f'<manifest package="{package}" '.encode(), 1)
    )
    apk = work / "app.apk"
    flat = sorted((work / "flat").iterdir())
    _aapt2(
        *(aapt2, "link", "-o", apk, "-I", framework, "--manifest", manifest),
        *("--min-sdk-version", "24", "--target-sdk-version", "34", *flat),
    )
    xmltree = _aapt2(aapt2, "dump", "xmltree", apk, "--file", "AndroidManifest.xml")
    return Linked(
        client=client,
        flags=clients[client]["flags"],
        org=clients[client]["org"],
        manifest_source=source,
        strings_source=strings_xml.read_bytes(),
        elements=parse_xmltree(xmltree),
        xmltree=xmltree,
        strings=parse_string_resources(_aapt2(aapt2, "dump", "resources", apk)),
        badging=_aapt2(aapt2, "dump", "badging", apk),
    )


_ELEMENT = re.compile(r"^\s*E: (\S+) \(line=\d+\)$")
_ATTRIBUTE = re.compile(r'^\s*A: ([^(=]+?)(?:\(0x[0-9a-f]+\))?=(?:"(.*)" \(Raw: .*\)|(.*))$')


def parse_xmltree(dump: str) -> list[tuple[str, dict[str, str]]]:
    """``aapt2 dump xmltree`` as (tag, {namespace:attribute: value}) in document order."""
    elements: list[tuple[str, dict[str, str]]] = []
    for line in dump.splitlines():
        if element := _ELEMENT.match(line):
            elements.append((element.group(1), {}))
        elif (attribute := _ATTRIBUTE.match(line)) and elements:
            value = attribute.group(2) if attribute.group(2) is not None else attribute.group(3)
            elements[-1][1][attribute.group(1)] = value
    return elements


_STRING_RESOURCE = re.compile(r"^    resource 0x[0-9a-f]{8} string/(\w+)\n", re.MULTILINE)
_VALUE_PREFIX = '      () "'
_CONTINUATION = "\n      "  # aapt2's printer indents every line of a value


def parse_string_resources(dump: str) -> dict[str, str]:
    """``aapt2 dump resources``: each string prints raw between quotes, a newline inside it
    followed by the printer's six-space indent."""
    parts = _STRING_RESOURCE.split(dump)
    values: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        body = body.removesuffix("\n")
        assert body.startswith(_VALUE_PREFIX) and body.endswith('"'), body
        values[name] = body[len(_VALUE_PREFIX) : -1].replace(_CONTINUATION, "\n")
    return values


def _source_permissions(manifest: bytes) -> dict[str, str | None]:
    """permission -> its tools:node marker (None when it has none), from the source text."""
    root = ET.fromstring(manifest)
    return {
        e.attrib[f"{{{ANDROID_NS}}}name"]: e.get(f"{{{TOOLS_NS}}}node")
        for e in root.iter("uses-permission")
    }


def test_every_client_compiles_and_links_and_the_hostile_clients_cover_every_flag_set(linked):
    assert sorted(linked) == sorted([*SAMPLE_KEYS, *(h["client"] for h in HOSTILE)])
    hostile = [linked[h["client"]] for h in HOSTILE]
    android_rules = {rules_for(item.flags).android for item in hostile}
    # background, foreground, push only, nothing at all: four distinct android rule sets.
    assert len(android_rules) == 4
    assert any(not item.flags["push"] for item in hostile)


def test_linked_manifest_keeps_every_permission_name_and_drops_the_tools_markers(linked):
    for item in linked.values():
        rules = rules_for(item.flags).android
        linked_permissions = [
            attrs[f"{ANDROID_NS}:name"] for tag, attrs in item.elements if tag == "uses-permission"
        ]
        # aapt2 links each entry as written and applies no tools:node: the removed ones are
        # still uses-permission here; only Gradle's manifest merger removes them.
        assert sorted(linked_permissions) == sorted(rules.permissions + rules.removed_permissions)
        assert TOOLS_NS not in item.xmltree, item.client
        assert "tools:" not in item.xmltree, item.client
        # What the merger will act on: exactly the table's removed permissions carry
        # tools:node="remove", the required ones carry no marker.
        source = _source_permissions(item.manifest_source)
        assert {p: node for p, node in source.items() if node is not None} == {
            p: "remove" for p in rules.removed_permissions
        }, item.client
        assert [p for p, node in source.items() if node is None] == list(rules.permissions)
        assert set(source) <= set(ANDROID_OWNED_PERMISSIONS)


def test_post_notifications_is_marked_removed_exactly_when_push_is_off(linked):
    for item in linked.values():
        node = _source_permissions(item.manifest_source)[POST_NOTIFICATIONS]
        assert node == (None if item.flags["push"] else "remove"), item.client


def test_location_services_link_with_the_location_type_or_are_marked_removed(linked):
    for client in WITH_SERVICES:
        item = linked[client]
        background = rules_for(item.flags).android.location_service
        services = {
            attrs[f"{ANDROID_NS}:name"]: attrs for tag, attrs in item.elements if tag == "service"
        }
        assert sorted(services) == sorted(SERVICES), client
        source = {
            e.attrib[f"{{{ANDROID_NS}}}name"]: e.attrib
            for e in ET.fromstring(item.manifest_source).iter("service")
        }
        for name in SERVICES:
            linked_type = services[name].get(f"{ANDROID_NS}:foregroundServiceType")
            tools = {k: v for k, v in source[name].items() if k.startswith(f"{{{TOOLS_NS}}}")}
            if background:
                # A valid flag value for the platform: aapt2 resolved "location" to its bit.
                assert linked_type == LOCATION_SERVICE_TYPE, client
                # tools:replace overrides a type the SDK's manifest declares; merge would fail.
                assert tools == {f"{{{TOOLS_NS}}}replace": "android:foregroundServiceType"}
            else:
                assert linked_type is None, client
                assert tools == {f"{{{TOOLS_NS}}}node": "remove"}, client
    for item in linked.values():
        if item.client not in WITH_SERVICES:
            assert not any(tag in ("application", "service") for tag, _ in item.elements)


@pytest.mark.parametrize(
    "client", [*SAMPLE_KEYS, *(h["client"] for h in HOSTILE)], ids=lambda c: str(c)
)
def test_every_string_reads_back_exactly_from_the_linked_apk(linked, client):
    item = linked[client]
    name = item.org["name"]
    own_text = item.org.get("messaging", {}).get("backgroundNotificationText")
    # Defined for every client, whether or not it shows the notification.
    assert set(item.strings) == {
        "nudge_organization_name",
        "nudge_persistent_notification_title",
        "nudge_persistent_notification_text",
    }
    assert item.strings["nudge_organization_name"] == name
    assert item.strings["nudge_persistent_notification_title"] == name
    if own_text is not None:
        assert item.strings["nudge_persistent_notification_text"] == own_text
    else:
        # The default text: aapt2 reads what nudge-build meant to write.
        source = ET.fromstring(item.strings_source)
        wanted = {e.get("name"): unescape_android_string(e.text or "") for e in source}
        assert (
            item.strings["nudge_persistent_notification_text"]
            == (wanted["nudge_persistent_notification_text"])
        )
        assert name in item.strings["nudge_persistent_notification_text"]


def test_permissions_newer_than_the_framework_link_as_plain_names(linked):
    """framework-res.apk is Android 10 (API 29): it defines neither POST_NOTIFICATIONS (33)
    nor FOREGROUND_SERVICE_LOCATION (34). A uses-permission name is a string that aapt2 does
    not resolve, so both link and read back."""
    framework = debian_file(FRAMEWORK_RES, "android-framework-res")
    aapt2 = debian_tool("aapt2", "aapt")
    defined = _aapt2(aapt2, "dump", "xmltree", framework, "--file", "AndroidManifest.xml")
    assert f'"{ANDROID_OWNED_PERMISSIONS[0]}"' in defined  # fine location: it does define it
    for newer in (POST_NOTIFICATIONS, FOREGROUND_SERVICE_LOCATION):
        assert f'"{newer}"' not in defined
        assert f"uses-permission: name='{newer}'" in linked["prairie-fcu"].badging
