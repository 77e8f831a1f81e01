"""Built-app artifacts for the ``verify`` tests, assembled from what the stock templates render.

iOS: the app's own Info.plist (bundle id, name) with nudge-build's NudgeInfo.plist merged in,
written as a binary plist, an ``.app`` folder (with the rendered PrivacyInfo.xcprivacy, when the
ios set renders one) or an ``.ipa``. Android: the app's manifest (package, an activity, and the
nudge SDK's location service where the platform table says the client runs one) with the
rendered fragment's declarations, its ``tools:node="remove"`` elements dropped as the manifest
merger drops them; as merged text, an ``.apk`` (aapt2's binary XML) or an ``.aab`` (aapt2's
protobuf XML under ``base/manifest/``).
"""

from __future__ import annotations

import plistlib
import subprocess
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nudge_build.platforms import rules_for
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project
from tests.platform_tools import debian_file, debian_tool

ANDROID_NS = "http://schemas.android.com/apk/res/android"
TOOLS_NODE = "{http://schemas.android.com/tools}node"
SDK_LOCATION_SERVICE = "com.larky.nudge.NudgeLocationService"
EXPO_GENERIC = "Allow $(PRODUCT_NAME) to access your location"

CLIENTS = ("prairie-fcu", "harbor-bank", "summit-cu")  # background, foreground, push only
# The sandbox organizations' apps.ios.bundleId and apps.android.applicationId.
APP_IDS = {
    "prairie-fcu": "org.prairiefcu.mobile",
    "harbor-bank": "com.harborandmain.banking",
    "summit-cu": "org.summitcu.app",
}

ET.register_namespace("android", ANDROID_NS)


class Project:
    """A project built with the real CLI against the sandbox, and its artifacts' sources."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.out = config.parent / "nudge"
        self.lock = tomllib.loads((config.parent / "nudge-build.lock").read_text())

    def flags(self, client: str) -> dict[str, bool]:
        return self.lock["clients"][client]["flags"]

    def info(self, client: str) -> dict[str, Any]:
        return merged_info(self.out / client / "ios", APP_IDS[client])

    def privacy(self, client: str) -> bytes | None:
        return privacy_manifest(self.out / client / "ios")

    def manifest(self, client: str, **changes: Any) -> str:
        android = self.out / client / "android"
        return merged_manifest(android, APP_IDS[client], self.flags(client), **changes)

    def verify(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return cli(self.config, "verify", *args, env=env)


def build_project(root: Path) -> Project:
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(root, api.base_url, clients=CLIENTS)
        result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    return Project(config)


# -- iOS --------------------------------------------------------------------------------------


def merged_info(ios_dir: Path, bundle_id: str) -> dict[str, Any]:
    """The app's Info.plist after nudge-build's keys are merged in (modes joined, app's first)."""
    info: dict[str, Any] = {
        "CFBundleIdentifier": bundle_id,
        "CFBundleName": "Bank",
        "CFBundleExecutable": "Bank",
        "UIBackgroundModes": ["fetch"],
    }
    nudge = plistlib.loads((ios_dir / "NudgeInfo.plist").read_bytes())
    for key, value in nudge.items():
        if key == "UIBackgroundModes":
            info[key] = info[key] + [m for m in value if m not in info[key]]
        else:
            info[key] = value
    return info


def privacy_manifest(ios_dir: Path) -> bytes | None:
    path = ios_dir / "PrivacyInfo.xcprivacy"
    return path.read_bytes() if path.is_file() else None


def write_binary_plist(path: Path, info: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(dict(info), fmt=plistlib.FMT_BINARY))
    return path


def write_app(path: Path, info: Mapping[str, Any], privacy: bytes | None) -> Path:
    path.mkdir(parents=True)
    write_binary_plist(path / "Info.plist", info)
    (path / "Bank").write_bytes(b"\xcf\xfa\xed\xfe")  # stands in for the executable
    if privacy is not None:
        (path / "PrivacyInfo.xcprivacy").write_bytes(privacy)
    return path


def write_ipa(path: Path, info: Mapping[str, Any], privacy: bytes | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        app = "Payload/Bank.app/"
        archive.writestr(app + "Info.plist", plistlib.dumps(dict(info), fmt=plistlib.FMT_BINARY))
        archive.writestr(app + "Bank", b"\xcf\xfa\xed\xfe")
        # A framework's own privacy manifest: not the app's, and not what verify reads.
        archive.writestr(app + "Frameworks/Other.framework/PrivacyInfo.xcprivacy", b"junk")
        if privacy is not None:
            archive.writestr(app + "PrivacyInfo.xcprivacy", privacy)
    return path


# -- Android ----------------------------------------------------------------------------------


def merged_manifest(
    android_dir: Path,
    application_id: str,
    flags: Mapping[str, bool],
    *,
    extra_permissions: tuple[str, ...] = (),
    without_permissions: tuple[str, ...] = (),
) -> str:
    """The app's merged manifest: its own part, nudge-build's fragment as the merger applies it,
    and what a library merged in (``extra_permissions``)."""
    fragment = ET.fromstring((android_dir / "AndroidManifest.xml").read_bytes())
    manifest = ET.Element("manifest", {"package": application_id})
    declared = [
        e.get(f"{{{ANDROID_NS}}}name")
        for e in fragment.iter("uses-permission")
        if e.get(TOOLS_NODE) != "remove"
    ]
    for permission in [*declared, *extra_permissions]:
        if permission not in without_permissions:
            ET.SubElement(manifest, "uses-permission", {f"{{{ANDROID_NS}}}name": permission})
    application = ET.SubElement(manifest, "application", {f"{{{ANDROID_NS}}}label": "Bank"})
    ET.SubElement(
        application,
        "activity",
        {f"{{{ANDROID_NS}}}name": ".MainActivity", f"{{{ANDROID_NS}}}exported": "true"},
    )
    if rules_for(flags).android.location_service:
        ET.SubElement(
            application,
            "service",
            {
                f"{{{ANDROID_NS}}}name": SDK_LOCATION_SERVICE,
                f"{{{ANDROID_NS}}}foregroundServiceType": "location",
                f"{{{ANDROID_NS}}}exported": "false",
            },
        )
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(manifest, "unicode") + "\n"


def _aapt2_link(manifest_text: str, work: Path, *proto: str) -> bytes:
    aapt2 = debian_tool("aapt2", "aapt")
    framework = debian_file(
        "/usr/share/android-framework-res/framework-res.apk", "android-framework-res"
    )
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "AndroidManifest.xml"
    manifest.write_text(manifest_text, encoding="utf-8")
    linked = work / "linked.apk"
    command = [aapt2, "link", *proto, "--manifest", str(manifest), "-I", str(framework)]
    result = subprocess.run([*command, "-o", str(linked)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(linked) as archive:
        return archive.read("AndroidManifest.xml")


def write_apk(path: Path, manifest_text: str) -> Path:
    """An .apk whose AndroidManifest.xml aapt2 compiled to Android binary XML."""
    binary = _aapt2_link(manifest_text, path.parent / (path.name + ".work"))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("AndroidManifest.xml", binary)
        archive.writestr("classes.dex", b"dex\n035\x00")
    return path


def write_aab(path: Path, manifest_text: str) -> Path:
    """An .aab-shaped zip: aapt2's --proto-format manifest at base/manifest/."""
    proto = _aapt2_link(manifest_text, path.parent / (path.name + ".work"), "--proto-format")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("base/manifest/AndroidManifest.xml", proto)
        archive.writestr("BundleConfig.pb", b"")
    return path
