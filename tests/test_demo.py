"""`nudge-build demo` as a user runs it: a real subprocess of the installed command."""

from __future__ import annotations

import plistlib
import subprocess
import sys
import xml.etree.ElementTree as ET

TOOLS_NODE = "{http://schemas.android.com/tools}node"
ANDROID_NAME = "{http://schemas.android.com/apk/res/android}name"


def test_demo_builds_every_sample_client(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "nudge_build", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 of 5 clients built: wrote 50 new" in proc.stdout
    assert f"files:    {out / 'nudge'}/<client>/<platform>/" in proc.stdout
    assert "sandbox-secret" not in proc.stdout + proc.stderr

    root = out / "nudge"
    background = {"prairie-fcu", "ridgeline-trust"}
    no_location = {"summit-cu", "lakeside-savings"}
    for client in [
        "prairie-fcu",
        "harbor-bank",
        "summit-cu",
        "lakeside-savings",
        "ridgeline-trust",
    ]:
        info = plistlib.loads((root / client / "ios" / "NudgeInfo.plist").read_bytes())
        has_always = "NSLocationAlwaysAndWhenInUseUsageDescription" in info
        assert has_always == (client in background), client
        assert ("location" in info.get("UIBackgroundModes", [])) == (client in background)
        manifest = ET.fromstring((root / client / "android" / "AndroidManifest.xml").read_bytes())
        removed = {
            e.get(ANDROID_NAME)
            for e in manifest.iter("uses-permission")
            if e.get(TOOLS_NODE) == "remove"
        }
        fine = "android.permission.ACCESS_FINE_LOCATION"
        assert (fine in removed) == (client in no_location), client
    assert (out / "nudge-build.lock").is_file()
