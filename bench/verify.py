"""How long ``nudge-build verify`` takes over a fleet of built apps.

    python bench/verify.py [--artifacts N]   # default 300: N/2 clients, an .ipa and an .apk each

A project of N/2 clients (the three flag sets in turn) gets a lockfile and, per client, an
``.ipa`` (binary Info.plist and PrivacyInfo.xcprivacy under ``Payload/``) and an ``.apk`` whose
manifest aapt2 compiled to binary XML (three compilations, one per flag set, copied; without
aapt2 on PATH the Android artifacts are merged-manifest text, and the output says so). Every
artifact is what the platform table asks for, so the run must exit 0. The figure is the real CLI
as a subprocess, start-up included, as a CI step pays it; and the same check in-process.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from nudge_build.config import load_config
from nudge_build.lock import Lock, LockedClient, dump_lock
from nudge_build.pipeline import prepare
from nudge_build.platforms import FlagSet, PlatformRules, rules_for
from nudge_build.verify import run_verify

FLAG_SETS = (
    FlagSet(location=True, background_location=True, push=True),
    FlagSet(location=True, background_location=False, push=True),
    FlagSet(location=False, background_location=False, push=True),
)
TARGET_SECONDS = 10.0  # "hundreds of artifacts in seconds"
ANDROID_NS = "http://schemas.android.com/apk/res/android"
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")


def app_id(flag_index: int) -> str:
    # One id per flag set, so that three aapt2 compilations serve every client.
    return f"com.example.bench.set{flag_index}"


def organization(number: int, flag_index: int) -> dict[str, Any]:
    flags = FLAG_SETS[flag_index]
    return {
        "organizationId": f"org_{number:05d}",
        "name": f"Bench Bank {number}",
        "features": {
            "timeBasedNudges": flags.push,
            "locationBasedNudges": flags.location,
            "backgroundLocation": flags.background_location,
        },
        "apps": {
            "ios": {"bundleId": app_id(flag_index)},
            "android": {"applicationId": app_id(flag_index)},
        },
    }


def write_project(root: Path, clients: int) -> list[str]:
    ids = [f"client-{n:05d}" for n in range(clients)]
    lines = ["[output]", 'root = "build"', ""]
    entries = {}
    for number, client in enumerate(ids):
        lines += [f"[clients.{client}]", f'api_key = "key-{number}"', ""]
        flags = FLAG_SETS[number % len(FLAG_SETS)]
        values = {
            "location": flags.location,
            "background_location": flags.background_location,
            "push": flags.push,
        }
        entries[client] = LockedClient(
            organization=organization(number, number % len(FLAG_SETS)),
            digest=f"sha256:{number:064x}",
            flags=values,
            flag_sources={name: "derived" for name in values},
        )
    (root / "nudge-build.toml").write_text("\n".join(lines), encoding="utf-8")
    (root / "nudge-build.lock").write_bytes(dump_lock(Lock(entries)))
    return ids


def info_plist(rules: PlatformRules, bundle_id: str) -> bytes:
    info: dict[str, Any] = {"CFBundleIdentifier": bundle_id, "CFBundleName": "Bench"}
    for purpose in rules.ios.purpose_strings:
        info[purpose.key] = "Bench Bank uses your location to show nearby branches and ATMs."
    info["UIBackgroundModes"] = list(rules.ios.background_modes)
    return plistlib.dumps(info, fmt=plistlib.FMT_BINARY)


def privacy_manifest(rules: PlatformRules) -> bytes:
    entries = [
        {"NSPrivacyCollectedDataType": t, "NSPrivacyCollectedDataTypeLinked": True}
        for t in rules.ios.privacy_collected_types
    ]
    return plistlib.dumps({"NSPrivacyTracking": False, "NSPrivacyCollectedDataTypes": entries})


def manifest_text(rules: PlatformRules, package: str) -> str:
    name = f"{{{ANDROID_NS}}}name"
    ET.register_namespace("android", ANDROID_NS)
    manifest = ET.Element("manifest", {"package": package})
    for permission in rules.android.permissions:
        ET.SubElement(manifest, "uses-permission", {name: permission})
    application = ET.SubElement(manifest, "application")
    if rules.android.location_service:
        service = {
            name: "com.example.Location",
            f"{{{ANDROID_NS}}}foregroundServiceType": "location",
        }
        ET.SubElement(application, "service", service)
    return ET.tostring(manifest, "unicode")


def android_artifacts(work: Path) -> tuple[list[Path], str]:
    """One Android artifact per flag set: an .apk when aapt2 is here, else the merged text."""
    aapt2 = shutil.which("aapt2")
    made = []
    for index, flags in enumerate(FLAG_SETS):
        text = manifest_text(rules_for(flags), app_id(index))
        source = work / f"manifest-{index}.xml"
        source.write_text(text, encoding="utf-8")
        if aapt2 is None or not FRAMEWORK_RES.is_file():
            made.append(source)
            continue
        linked = work / f"linked-{index}.apk"
        command = [
            aapt2,
            "link",
            "--manifest",
            str(source),
            "-I",
            str(FRAMEWORK_RES),
            "-o",
            str(linked),
        ]
        subprocess.run(command, check=True, capture_output=True)
        apk = work / f"set-{index}.apk"
        with zipfile.ZipFile(linked) as compiled, zipfile.ZipFile(apk, "w") as archive:
            archive.writestr("AndroidManifest.xml", compiled.read("AndroidManifest.xml"))
            archive.writestr("classes.dex", b"dex\n035\x00" + b"\0" * 4096)
        made.append(apk)
    kind = ".apk (aapt2 binary XML)" if made[0].suffix == ".apk" else "merged manifest text"
    return made, kind


def write_artifacts(root: Path, ids: list[str]) -> tuple[str, str, str]:
    work = root / "work"
    work.mkdir()
    android, android_kind = android_artifacts(work)
    suffix = android[0].suffix
    for number, client in enumerate(ids):
        index = number % len(FLAG_SETS)
        rules = rules_for(FLAG_SETS[index])
        folder = root / "artifacts" / client
        folder.mkdir(parents=True)
        with zipfile.ZipFile(folder / "App.ipa", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("Payload/App.app/Info.plist", info_plist(rules, app_id(index)))
            archive.writestr("Payload/App.app/PrivacyInfo.xcprivacy", privacy_manifest(rules))
            archive.writestr("Payload/App.app/App", os.urandom(64 * 1024))  # an executable's bulk
        shutil.copyfile(android[index], folder / f"app{suffix}")
    ios_path = str(root / "artifacts" / "{client}" / "App.ipa")
    android_path = str(root / "artifacts" / "{client}" / f"app{suffix}")
    return ios_path, android_path, android_kind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=int, default=300, help="artifacts to verify (even)")
    args = parser.parse_args(argv)
    clients = max(1, args.artifacts // 2)
    with tempfile.TemporaryDirectory(prefix="nudge-verify-bench-") as temp:
        root = Path(temp)
        ids = write_project(root, clients)
        ios, android, android_kind = write_artifacts(root, ids)
        config = root / "nudge-build.toml"
        command = [sys.executable, "-m", "nudge_build", "--config", str(config), "-q", "verify"]
        started = time.perf_counter()
        result = subprocess.run(
            [*command, "--ios", ios, "--android", android], capture_output=True, text=True
        )
        cli_seconds = time.perf_counter() - started
        if result.returncode != 0:
            print(f"verify exited {result.returncode}:\n{result.stdout}{result.stderr}")
            return 1
        job = prepare(load_config(config, {}), render=False)
        started = time.perf_counter()
        report = run_verify(job, ios=ios, android=android)
        in_process = time.perf_counter() - started
    artifacts = 2 * clients
    assert report.checked == artifacts and not report.findings and not report.errors
    verdict = "PASS" if cli_seconds <= TARGET_SECONDS else "FAIL"
    print(f"verify: {artifacts} artifacts ({clients} clients: .ipa + {android_kind})")
    for label, seconds in (
        ("CLI, start-up included", cli_seconds),
        ("in-process check", in_process),
    ):
        per_artifact = 1000 * seconds / artifacts
        print(f"  {label + ':':<24}{seconds:.2f} s ({per_artifact:.2f} ms per artifact)")
    print(f"target: {artifacts} artifacts in under {TARGET_SECONDS:.0f} s: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
