"""Android artifacts: read a merged manifest, ``.apk`` or ``.aab``, and check it against the
Android rules.

All three become one ElementTree (attributes as ``{namespace}name``, values as text), so the
checks do not care where a manifest came from:

- a text ``AndroidManifest.xml`` (the merged one Gradle writes under ``build/intermediates``);
- an ``.apk``: ``AndroidManifest.xml`` in Android binary XML (:mod:`.axml`);
- an ``.aab``: ``base/manifest/AndroidManifest.xml`` in aapt2's protobuf XML (:mod:`.protoxml`).

In a text manifest, an element marked ``tools:node="remove"`` or ``"removeAll"`` is an
instruction to the manifest merger, not a declaration: it is dropped before the checks. A merged
manifest has none left; a fragment like nudge-build's own has them, and is read as the merger
would apply it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from nudge_build.platforms import AndroidRules
from nudge_build.platforms.table import FOREGROUND_SERVICE_LOCATION
from nudge_build.verify.archive import open_archive, read_member
from nudge_build.verify.axml import ANDROID_NS, is_binary_xml, read_binary_xml
from nudge_build.verify.findings import Collector, UnreadableArtifact, quote
from nudge_build.verify.protoxml import read_proto_xml

TOOLS_NS = "http://schemas.android.com/tools"
APK_MANIFEST = "AndroidManifest.xml"
AAB_MANIFEST = "base/manifest/AndroidManifest.xml"
_NAME = f"{{{ANDROID_NS}}}name"
_SERVICE_TYPE = f"{{{ANDROID_NS}}}foregroundServiceType"
_TOOLS_NODE = f"{{{TOOLS_NS}}}node"
_PERMISSION_TAGS = ("uses-permission", "uses-permission-sdk-23")
# A compiled foregroundServiceType is a bit mask: location's bit, from framework-res's
# attr/foregroundServiceType flags (location=0x00000008).
LOCATION_SERVICE_BIT = 0x8


def read_android_artifact(path: Path) -> ET.Element:
    if path.suffix in (".apk", ".aab"):
        entry = APK_MANIFEST if path.suffix == ".apk" else AAB_MANIFEST
        with open_archive(path) as archive:
            if entry not in archive.namelist():
                raise UnreadableArtifact(f"no {entry} in the {path.suffix}")
            data = read_member(archive, entry)
        return read_binary_xml(data) if path.suffix == ".apk" else read_proto_xml(data)
    data = path.read_bytes()
    if is_binary_xml(data):
        return read_binary_xml(data)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _text_manifest(data)
    return read_proto_xml(data)


def _text_manifest(data: bytes) -> ET.Element:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise UnreadableArtifact(f"not well-formed XML ({exc})") from exc
    for parent in root.iter():
        for child in list(parent):
            if child.get(_TOOLS_NODE) in ("remove", "removeAll"):
                parent.remove(child)
    return root


def service_types(value: str | None) -> tuple[str, ...]:
    """A foregroundServiceType as names: text ``location|dataSync``, or a compiled mask."""
    if not value:
        return ()
    text = value.strip()
    try:
        mask = int(text, 0)
    except ValueError:
        return tuple(part.strip() for part in text.split("|") if part.strip())
    return ("location",) if mask & LOCATION_SERVICE_BIT else (f"0x{mask:x}",)


# -- checks -----------------------------------------------------------------------------------


def check_android(
    manifest: ET.Element, rules: AndroidRules, application_id: str | None, out: Collector
) -> None:
    """Add every Android rule that ``manifest`` breaks to ``out``."""
    declared = {e.get(_NAME) for e in manifest.iter() if e.tag in _PERMISSION_TAGS}
    for permission in rules.permissions:
        if permission not in declared:
            out.add(
                "android.permission",
                f"no {permission}",
                f'<uses-permission android:name="{permission}"/>',
                "merge nudge-build's AndroidManifest.xml into this client's flavor and rebuild",
            )
    for permission in rules.removed_permissions:
        if permission in declared:
            out.add(
                "android.forbidden-permission",
                f"{permission} declared",
                f"no {permission} for this client's flags",
                "a library's manifest merges it in: apply nudge-build's manifest, which marks it "
                'tools:node="remove", to this client\'s flavor',
            )
    _check_location_service(manifest, declared, rules, out)
    if application_id is not None:
        package = manifest.get("package")
        if package != application_id:
            out.add(
                "android.application-id",
                f"package = {quote(package) if package is not None else 'missing'}",
                f"package = {application_id} (the organization's apps.android.applicationId)",
                "build this client's flavor (applicationId), or correct the organization's "
                "application id",
            )


def _check_location_service(
    manifest: ET.Element, declared: set[str | None], rules: AndroidRules, out: Collector
) -> None:
    """FOREGROUND_SERVICE_LOCATION ⇔ a service of type location.

    Only judged when the permission itself is as the table wants it: otherwise the permission's
    own finding already names the fix, and a second line would say the same.
    """
    services = [
        s.get(_NAME) or "?"
        for s in manifest.iter("service")
        if "location" in service_types(s.get(_SERVICE_TYPE))
    ]
    has_permission = FOREGROUND_SERVICE_LOCATION in declared
    if has_permission != (FOREGROUND_SERVICE_LOCATION in rules.permissions):
        return
    if has_permission and not services:
        out.add(
            "android.location-service",
            f"{FOREGROUND_SERVICE_LOCATION} without a service of foregroundServiceType location",
            'the SDK\'s location service with android:foregroundServiceType="location"',
            "declare the location service (list it in the client's "
            "vars.android_location_services so nudge-build's manifest sets its type)",
        )
    elif services and not has_permission:
        out.add(
            "android.location-service",
            "service " + ", ".join(quote(s) for s in services) + " of foregroundServiceType "
            "location",
            f"no location foreground service without {FOREGROUND_SERVICE_LOCATION}",
            "list the service in the client's vars.android_location_services, so "
            'nudge-build\'s manifest removes it (tools:node="remove")',
        )
