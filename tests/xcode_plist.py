"""An app's own Info.plist, written the way Xcode writes it, for the merge tests."""

from __future__ import annotations

import plistlib
import subprocess
from pathlib import Path

from tests.platform_tools import debian_tool

# Tabs, the DOCTYPE, keys in Xcode's order, the app's own background mode (fetch) after
# remote-notification, a purpose string the app already had, nested dicts and an empty one.
XCODE_INFO_PLIST = b"""\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>CFBundleDevelopmentRegion</key>
\t<string>$(DEVELOPMENT_LANGUAGE)</string>
\t<key>CFBundleDisplayName</key>
\t<string>Prairie FCU</string>
\t<key>CFBundleExecutable</key>
\t<string>$(EXECUTABLE_NAME)</string>
\t<key>CFBundleIdentifier</key>
\t<string>$(PRODUCT_BUNDLE_IDENTIFIER)</string>
\t<key>CFBundleShortVersionString</key>
\t<string>$(MARKETING_VERSION)</string>
\t<key>CFBundleVersion</key>
\t<string>$(CURRENT_PROJECT_VERSION)</string>
\t<key>LSRequiresIPhoneOS</key>
\t<true/>
\t<key>NSLocationWhenInUseUsageDescription</key>
\t<string>Find branches near you.</string>
\t<key>UIApplicationSceneManifest</key>
\t<dict>
\t\t<key>UIApplicationSupportsMultipleScenes</key>
\t\t<false/>
\t\t<key>UISceneConfigurations</key>
\t\t<dict>
\t\t\t<key>UIWindowSceneSessionRoleApplication</key>
\t\t\t<array>
\t\t\t\t<dict>
\t\t\t\t\t<key>UISceneConfigurationName</key>
\t\t\t\t\t<string>Default Configuration</string>
\t\t\t\t\t<key>UISceneDelegateClassName</key>
\t\t\t\t\t<string>$(PRODUCT_MODULE_NAME).SceneDelegate</string>
\t\t\t\t</dict>
\t\t\t</array>
\t\t</dict>
\t</dict>
\t<key>UIBackgroundModes</key>
\t<array>
\t\t<string>remote-notification</string>
\t\t<string>fetch</string>
\t</array>
\t<key>UILaunchScreen</key>
\t<dict/>
\t<key>UIRequiredDeviceCapabilities</key>
\t<array>
\t\t<string>armv7</string>
\t</array>
</dict>
</plist>
"""

# The same app after an earlier build for a background client: what a push-only build removes.
WAS_BACKGROUND_PLIST = XCODE_INFO_PLIST.replace(
    b"\t\t<string>fetch</string>\n", b"\t\t<string>fetch</string>\n\t\t<string>location</string>\n"
).replace(
    b"\t<key>UIApplicationSceneManifest</key>\n",
    b"\t<key>NSLocationAlwaysAndWhenInUseUsageDescription</key>\n"
    b"\t<string>Alerts near branches.</string>\n"
    b"\t<key>NSLocationAlwaysUsageDescription</key>\n"
    b"\t<string>Alerts near branches.</string>\n"
    b"\t<key>UIApplicationSceneManifest</key>\n",
)

NUDGE_KEYS = (
    "NSLocationWhenInUseUsageDescription",
    "NSLocationAlwaysAndWhenInUseUsageDescription",
    "NSLocationAlwaysUsageDescription",
)


def outside_nudge_lines(data: bytes) -> list[bytes]:
    """Every line but nudge's own: its keys with their value line, and `location` modes."""
    lines = data.splitlines(keepends=True)
    kept: list[bytes] = []
    skip_next = False
    for line in lines:
        if skip_next:
            skip_next = False
            continue
        if any(line.strip() == f"<key>{k}</key>".encode() for k in NUDGE_KEYS):
            skip_next = True
            continue
        if line.strip() == b"<string>location</string>":
            continue
        kept.append(line)
    return kept


def plistutil_reads(path: Path, tmp: Path) -> dict[str, object]:
    """The file through libplist: XML to binary and back; both must equal plistlib's reading."""
    tool = debian_tool("plistutil", "libplist-utils")
    binary, xml = tmp / f"{path.name}.bin", tmp / f"{path.name}.xml"
    subprocess.run([tool, "-i", str(path), "-o", str(binary), "-f", "bin"], check=True)
    assert binary.read_bytes().startswith(b"bplist00")
    subprocess.run([tool, "-i", str(binary), "-o", str(xml), "-f", "xml"], check=True)
    values = plistlib.loads(path.read_bytes())
    assert plistlib.loads(binary.read_bytes()) == values  # libplist read every value exactly
    # libplist writes a CR raw into XML, which any XML parser then reads as LF: its own loss.
    back = plistlib.loads(xml.read_bytes())
    assert back == plistlib.loads(plistlib.dumps(values).replace(b"\r", b"\n"))
    return values
