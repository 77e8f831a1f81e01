"""iOS artifacts: read an Info.plist, ``.app`` or ``.ipa``, and check it against the iOS rules.

An ``.app`` (and the one inside an ``.ipa``'s ``Payload/``) also carries the app's privacy
manifest, ``PrivacyInfo.xcprivacy``, beside its Info.plist; a bare Info.plist does not, so for
it the privacy rules are not checked. Frameworks inside the app have privacy manifests of their
own; the location rules are about what the app itself declares, so only the app's is read.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nudge_build.platforms import IosRules
from nudge_build.verify.archive import open_archive, read_member
from nudge_build.verify.findings import Collector, UnreadableArtifact, quote
from nudge_build.verify.purpose_text import purpose_text_problem

INFO_PLIST = "Info.plist"
PRIVACY_MANIFEST = "PrivacyInfo.xcprivacy"
_IPA_APP = re.compile(r"Payload/[^/]+\.app/")


@dataclass(frozen=True)
class IosArtifact:
    info: Mapping[str, Any]
    # The app's privacy manifest; None when it has none (a bare plist: none to read).
    privacy: Mapping[str, Any] | None
    has_bundle: bool  # an .app or .ipa: a missing privacy manifest is then a finding


def read_ios_artifact(path: Path) -> IosArtifact:
    if path.is_dir():
        return _from_files(path / INFO_PLIST, path / PRIVACY_MANIFEST)
    if path.suffix == ".ipa":
        return _from_ipa(path)
    return IosArtifact(_plist(path.read_bytes(), INFO_PLIST), None, has_bundle=False)


def _from_files(info: Path, privacy: Path) -> IosArtifact:
    if not info.is_file():
        raise UnreadableArtifact(f"no {INFO_PLIST} in this app bundle")
    manifest = _plist(privacy.read_bytes(), PRIVACY_MANIFEST) if privacy.is_file() else None
    return IosArtifact(_plist(info.read_bytes(), INFO_PLIST), manifest, has_bundle=True)


def _from_ipa(path: Path) -> IosArtifact:
    with open_archive(path) as archive:
        names = set(archive.namelist())
        apps = sorted({m.group(0) for name in names if (m := _IPA_APP.match(name))})
        if len(apps) != 1:
            found = ", ".join(apps) or "none"
            raise UnreadableArtifact(f"expected one Payload/<name>.app, found {found}")
        app = apps[0]
        if app + INFO_PLIST not in names:
            raise UnreadableArtifact(f"no {app}{INFO_PLIST} in the .ipa")
        info = _plist(read_member(archive, app + INFO_PLIST), INFO_PLIST)
        privacy = None
        if app + PRIVACY_MANIFEST in names:
            privacy = _plist(read_member(archive, app + PRIVACY_MANIFEST), PRIVACY_MANIFEST)
    return IosArtifact(info, privacy, has_bundle=True)


def _plist(data: bytes, name: str) -> Mapping[str, Any]:
    """An XML or binary property list (plistlib reads both) whose top level is a dictionary."""
    try:
        value = plistlib.loads(data)
    # Broad on purpose: besides InvalidFileException, plistlib lets the XML parser's ExpatError
    # and a damaged binary plist's struct/index/overflow errors through.
    except Exception as exc:
        raise UnreadableArtifact(f"{name} is not a readable property list ({exc})") from exc
    if not isinstance(value, dict):
        raise UnreadableArtifact(f"{name} is not a dictionary at its top level")
    return value


# -- checks -----------------------------------------------------------------------------------


def check_ios(
    artifact: IosArtifact, rules: IosRules, bundle_id: str | None, out: Collector
) -> None:
    """Add every iOS rule that ``artifact`` breaks to ``out``."""
    add = out.add
    info = artifact.info
    for purpose in rules.purpose_strings:
        value = info.get(purpose.key)
        if not isinstance(value, str) or not value.strip():
            found = "no " + purpose.key if value is None else f"{purpose.key} = {_shown(value)}"
            add(
                "ios.purpose-string",
                found,
                f"{purpose.key} with the client's own text",
                "merge nudge-build's Info.plist keys into the app's Info.plist "
                "(see [merge] info_plist) and rebuild",
            )
        elif (problem := purpose_text_problem(value)) is not None:
            add(
                "ios.purpose-text",
                f"{purpose.key} = {quote(value)} ({problem})",
                "text that says what the app uses the location for",
                "set the key to the client's text: the build step that writes generic text "
                "(e.g. expo-location's plugin option) must get nudge-build's text",
            )
    for key in rules.forbidden_keys:
        if key in info:
            add(
                "ios.forbidden-key",
                f"{key} = {_shown(info[key])}",
                f"no {key} for this client's flags",
                f"remove {key} from the app's Info.plist (stale text, or a plugin added it)",
            )
    modes = info.get("UIBackgroundModes", [])
    modes = [m for m in modes if isinstance(m, str)] if isinstance(modes, list) else []
    shown_modes = "no UIBackgroundModes"
    if modes:
        shown_modes = f"UIBackgroundModes = {quote(', '.join(modes))}"
    for mode in rules.background_modes:
        if mode not in modes:
            add(
                "ios.background-mode",
                shown_modes,
                f"{mode!r} in UIBackgroundModes",
                f"add {mode!r} to UIBackgroundModes (nudge-build's Info.plist merge does)",
            )
    for mode in rules.forbidden_modes:
        if mode in modes:
            add(
                "ios.background-mode",
                f"{mode!r} in UIBackgroundModes",
                f"no {mode!r} in UIBackgroundModes for this client's flags",
                f"remove {mode!r} from UIBackgroundModes",
            )
    if bundle_id is not None:
        found_id = info.get("CFBundleIdentifier")
        if found_id != bundle_id:
            add(
                "ios.bundle-id",
                f"CFBundleIdentifier = {_shown(found_id)}",
                f"CFBundleIdentifier = {bundle_id} (the organization's apps.ios.bundleId)",
                "build this client's target (PRODUCT_BUNDLE_IDENTIFIER), or correct the "
                "organization's bundle id",
            )
    if artifact.has_bundle:
        _check_privacy(artifact.privacy, rules, out)


def _check_privacy(privacy: Mapping[str, Any] | None, rules: IosRules, out: Collector) -> None:
    add = out.add
    if privacy is None:
        if rules.privacy_collected_types:
            add(
                "ios.privacy-manifest",
                f"no {PRIVACY_MANIFEST} in the app",
                f"{PRIVACY_MANIFEST} listing {', '.join(rules.privacy_collected_types)}",
                f"add nudge-build's {PRIVACY_MANIFEST} to the app target",
            )
        return
    entries = privacy.get("NSPrivacyCollectedDataTypes", [])
    listed = [
        e.get("NSPrivacyCollectedDataType")
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict)
    ]
    for data_type in rules.privacy_collected_types:
        if data_type not in listed:
            add(
                "ios.privacy-manifest",
                f"no {data_type} in {PRIVACY_MANIFEST}",
                f"{data_type} collected for app functionality",
                f"use nudge-build's {PRIVACY_MANIFEST} (or add the entry to the app's own)",
            )
    for data_type in rules.privacy_forbidden_types:
        if data_type in listed:
            add(
                "ios.privacy-manifest",
                f"{data_type} in {PRIVACY_MANIFEST}",
                f"no {data_type} for this client's flags",
                f"remove the {data_type} entry from {PRIVACY_MANIFEST}",
            )


def _shown(value: object) -> str:
    return quote(value) if isinstance(value, str) else "missing" if value is None else repr(value)
