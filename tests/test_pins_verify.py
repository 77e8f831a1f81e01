"""verify in GitHub Actions mode, called in-process: the annotations and the step summary.

The CLI tests run ``verify`` with ``GITHUB_ACTIONS=true`` end to end; these pin the exact
Markdown table, its truncation, and that the caller's environment (its workspace and summary
file) is the one every annotation and the summary use.
"""

from __future__ import annotations

import plistlib
import re
import struct
import zipfile
from pathlib import Path

import pytest

from nudge_build import github
from nudge_build.platforms import rules_for, table
from nudge_build.verify import archive
from nudge_build.verify.android import check_android, read_android_artifact
from nudge_build.verify.axml import NO_INDEX, RES_XML_TYPE, is_binary_xml
from nudge_build.verify.findings import (
    ArtifactError,
    Collector,
    Finding,
    UnreadableArtifact,
    VerifyReport,
    quote,
)
from nudge_build.verify.ios import IosArtifact, check_ios, read_ios_artifact
from nudge_build.verify.output import report_github, summary_markdown
from nudge_build.verify.protoxml import read_proto_xml
from nudge_build.verify.purpose_text import purpose_text_problem
from tests import test_pins_axml as axml
from tests.test_verify_android import int_field, length_field, proto_attribute, proto_element


def finding(n: int = 0) -> Finding:
    return Finding(
        client="prairie-fcu",
        platform="ios",
        artifact=f"apps/prairie-{n}.ipa",
        rule="purpose string",
        found='"Where"',
        expected="the client's text",
        fix="rebuild",
    )


def test_summary_lists_findings_and_errors_exactly():
    report = VerifyReport(
        findings=[finding()],
        errors=[ArtifactError("harbor-bank", "android", "apps/harbor.apk", "no such file")],
        checked=1,
    )
    assert summary_markdown(report) == (
        "## nudge-build verify\n"
        "\n"
        "verify: 1 finding\\(s\\) in 1 artifact\\(s\\) checked; 1 artifact\\(s\\) missing or "
        "unreadable\n"
        "\n"
        "| client | artifact | rule | found | expected | fix |\n"
        "|---|---|---|---|---|---|\n"
        '| prairie-fcu | apps/prairie-0.ipa | purpose string | "Where" | the client\'s text '
        "| rebuild |\n"
        "\n"
        "**Missing or unreadable artifacts: 1**\n"
        "\n"
        "- apps/harbor.apk: no such file \\(client harbor-bank\\)\n"
    )


def test_summary_shows_at_most_the_cap_and_counts_the_rest():
    cap = github.SUMMARY_MAX_PATHS
    at_cap = summary_markdown(VerifyReport(findings=[finding(n) for n in range(cap)], checked=1))
    assert "more |" not in at_cap
    assert at_cap.count("| prairie-fcu |") == cap
    over = summary_markdown(VerifyReport(findings=[finding(n) for n in range(cap + 3)], checked=1))
    assert over.count("| prairie-fcu |") == cap
    assert over.endswith("| … | 3 more | | | | |\n")


def test_annotations_and_summary_use_the_environment_passed_in(tmp_path, monkeypatch, capsys):
    workspace = tmp_path / "repo"
    (workspace / "apps").mkdir(parents=True)
    (workspace / "apps" / "harbor.apk").write_bytes(b"PK")
    (workspace / "prairie-fcu").write_text("")  # a file named like the client: annotated too
    monkeypatch.chdir(workspace)
    summary = tmp_path / "summary.md"
    # The process's own environment points elsewhere: only the mapping passed in may be used.
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    outputs = tmp_path / "outputs.txt"
    environ = {
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
    }
    report = VerifyReport(
        findings=[finding()],
        errors=[ArtifactError("harbor-bank", "android", "apps/harbor.apk", "not a zip")],
        checked=1,
    )
    report_github(report, environ)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "::error file=prairie-fcu,title=nudge-build verify%3A prairie-fcu%3A purpose string::"
        + finding().line(),
        "::error file=apps/harbor.apk,title=nudge-build verify%3A harbor-bank::"
        "apps/harbor.apk: not a zip (client harbor-bank)",
    ]
    assert summary.read_text(encoding="utf-8") == summary_markdown(report)
    # The step outputs a workflow reads (`steps.<id>.outputs.findings`): counts, by name.
    blocks = re.findall(r"^(\w+)<<(\S+)\n(.*)\n\2$", outputs.read_text(), re.M)
    assert [(name, value) for name, _, value in blocks] == [("findings", "1"), ("checked", "1")]


def test_the_json_report_is_indented_keeps_text_as_it_is_and_lists_errors():
    report = VerifyReport(
        findings=[],
        errors=[ArtifactError("zürich-cu", "ios", "apps/zürich.ipa", "no such file")],
        checked=0,
    )
    assert report.as_json() == (
        "{\n"
        '  "ok": false,\n'
        '  "checked": 0,\n'
        '  "findings": [],\n'
        '  "errors": [\n'
        "    {\n"
        '      "client": "zürich-cu",\n'
        '      "platform": "ios",\n'
        '      "artifact": "apps/zürich.ipa",\n'
        '      "message": "no such file"\n'
        "    }\n"
        "  ]\n"
        "}"
    )


# -- iOS: every finding's words, and how each kind of artifact is read -------------------------

BACKGROUND_IOS = rules_for({"location": True, "background_location": True, "push": True}).ios
PUSH_ONLY_IOS = rules_for({"location": False, "background_location": False, "push": True}).ios
MERGE_FIX = (
    "merge nudge-build's Info.plist keys into the app's Info.plist (see [merge] info_plist) "
    "and rebuild"
)


def ios_findings(artifact: IosArtifact, rules, bundle_id=None) -> list[tuple[str, ...]]:
    out = Collector("prairie-fcu", "ios", "App.ipa")
    check_ios(artifact, rules, bundle_id, out)
    return [(f.rule, f.found, f.expected, f.fix) for f in out.findings]


def test_a_background_app_missing_everything_gets_every_finding_in_words():
    info = {
        "NSLocationWhenInUseUsageDescription": 7,
        "NSLocationAlwaysAndWhenInUseUsageDescription": "Allow MyApp to access your location.",
        "UIBackgroundModes": "location",  # not a list: no modes at all
        "CFBundleIdentifier": None,
    }
    privacy = {"NSPrivacyCollectedDataTypes": "not a list"}
    findings = ios_findings(IosArtifact(info, privacy, has_bundle=True), BACKGROUND_IOS, "a.b")
    text_problem = purpose_text_problem("Allow MyApp to access your location.")
    assert text_problem is not None
    assert findings == [
        (
            "ios.purpose-string",
            "NSLocationWhenInUseUsageDescription = 7",
            "NSLocationWhenInUseUsageDescription with the client's own text",
            MERGE_FIX,
        ),
        (
            "ios.purpose-text",
            "NSLocationAlwaysAndWhenInUseUsageDescription = "
            f'"Allow MyApp to access your location." ({text_problem})',
            "text that says what the app uses the location for",
            "set the key to the client's text: the build step that writes generic text "
            "(e.g. expo-location's plugin option) must get nudge-build's text",
        ),
        (
            "ios.purpose-string",
            "no NSLocationAlwaysUsageDescription",
            "NSLocationAlwaysUsageDescription with the client's own text",
            MERGE_FIX,
        ),
        (
            "ios.background-mode",
            "no UIBackgroundModes",
            "'location' in UIBackgroundModes",
            "add 'location' to UIBackgroundModes (nudge-build's Info.plist merge does)",
        ),
        (
            "ios.background-mode",
            "no UIBackgroundModes",
            "'remote-notification' in UIBackgroundModes",
            "add 'remote-notification' to UIBackgroundModes (nudge-build's Info.plist merge does)",
        ),
        (
            "ios.bundle-id",
            "CFBundleIdentifier = missing",
            "CFBundleIdentifier = a.b (the organization's apps.ios.bundleId)",
            "build this client's target (PRODUCT_BUNDLE_IDENTIFIER), or correct the "
            "organization's bundle id",
        ),
        (
            "ios.privacy-manifest",
            "no NSPrivacyCollectedDataTypePreciseLocation in PrivacyInfo.xcprivacy",
            "NSPrivacyCollectedDataTypePreciseLocation collected for app functionality",
            "use nudge-build's PrivacyInfo.xcprivacy (or add the entry to the app's own)",
        ),
    ]


def test_an_app_without_background_modes_or_manifest_is_told_what_to_add():
    info = {
        "NSLocationWhenInUseUsageDescription": "Find branches near you.",
        "NSLocationAlwaysAndWhenInUseUsageDescription": "Alerts near your branches.",
        "NSLocationAlwaysUsageDescription": "Alerts near your branches.",
        "CFBundleIdentifier": ["a.b"],
    }
    findings = ios_findings(IosArtifact(info, None, has_bundle=True), BACKGROUND_IOS, "a.b")
    assert findings == [
        (
            "ios.background-mode",
            "no UIBackgroundModes",
            "'location' in UIBackgroundModes",
            "add 'location' to UIBackgroundModes (nudge-build's Info.plist merge does)",
        ),
        (
            "ios.background-mode",
            "no UIBackgroundModes",
            "'remote-notification' in UIBackgroundModes",
            "add 'remote-notification' to UIBackgroundModes (nudge-build's Info.plist merge does)",
        ),
        (
            "ios.bundle-id",
            "CFBundleIdentifier = ['a.b']",
            "CFBundleIdentifier = a.b (the organization's apps.ios.bundleId)",
            "build this client's target (PRODUCT_BUNDLE_IDENTIFIER), or correct the "
            "organization's bundle id",
        ),
        (
            "ios.privacy-manifest",
            "no PrivacyInfo.xcprivacy in the app",
            "PrivacyInfo.xcprivacy listing NSPrivacyCollectedDataTypePreciseLocation",
            "add nudge-build's PrivacyInfo.xcprivacy to the app target",
        ),
    ]
    # A bare Info.plist has no manifest to read: no privacy finding for it.
    assert ios_findings(IosArtifact(info, None, has_bundle=False), BACKGROUND_IOS)[-1][0] == (
        "ios.background-mode"
    )


def test_a_push_only_app_declaring_location_is_told_what_to_remove():
    info = {
        "NSLocationAlwaysUsageDescription": "Old text.",
        "UIBackgroundModes": ["fetch", 3, "location", "remote-notification"],
    }
    privacy = {
        "NSPrivacyCollectedDataTypes": [
            "junk",
            {"NSPrivacyCollectedDataType": "NSPrivacyCollectedDataTypeCoarseLocation"},
        ]
    }
    findings = ios_findings(IosArtifact(info, privacy, has_bundle=True), PUSH_ONLY_IOS)
    assert findings == [
        (
            "ios.forbidden-key",
            'NSLocationAlwaysUsageDescription = "Old text."',
            "no NSLocationAlwaysUsageDescription for this client's flags",
            "remove NSLocationAlwaysUsageDescription from the app's Info.plist (stale text, or "
            "a plugin added it)",
        ),
        (
            "ios.background-mode",
            "'location' in UIBackgroundModes",
            "no 'location' in UIBackgroundModes for this client's flags",
            "remove 'location' from UIBackgroundModes",
        ),
        (
            "ios.privacy-manifest",
            "NSPrivacyCollectedDataTypeCoarseLocation in PrivacyInfo.xcprivacy",
            "no NSPrivacyCollectedDataTypeCoarseLocation for this client's flags",
            "remove the NSPrivacyCollectedDataTypeCoarseLocation entry from PrivacyInfo.xcprivacy",
        ),
    ]


def test_modes_found_are_shown_when_one_is_missing():
    info = {"UIBackgroundModes": ["fetch", "audio"]}
    findings = ios_findings(IosArtifact(info, None, has_bundle=False), PUSH_ONLY_IOS)
    assert findings == [
        (
            "ios.background-mode",
            'UIBackgroundModes = "fetch, audio"',
            "'remote-notification' in UIBackgroundModes",
            "add 'remote-notification' to UIBackgroundModes (nudge-build's Info.plist merge does)",
        )
    ]


def plist_bytes(value: object) -> bytes:
    return plistlib.dumps(value)


def write_ipa(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def unreadable(path: Path) -> str:
    with pytest.raises(UnreadableArtifact) as caught:
        read_ios_artifact(path)
    return str(caught.value)


def test_each_ios_artifact_kind_is_read_with_or_without_its_manifest(tmp_path):
    info = {"CFBundleIdentifier": "a.b"}
    manifest = {"NSPrivacyCollectedDataTypes": []}
    bare = tmp_path / "Info.plist"
    bare.write_bytes(plist_bytes(info))
    assert read_ios_artifact(bare) == IosArtifact(info, None, has_bundle=False)

    app = tmp_path / "App.app"
    app.mkdir()
    (app / "Info.plist").write_bytes(plist_bytes(info))
    assert read_ios_artifact(app) == IosArtifact(info, None, has_bundle=True)
    (app / "PrivacyInfo.xcprivacy").write_bytes(plist_bytes(manifest))
    assert read_ios_artifact(app) == IosArtifact(info, manifest, has_bundle=True)

    ipa = write_ipa(tmp_path / "a.ipa", {"Payload/App.app/Info.plist": plist_bytes(info)})
    assert read_ios_artifact(ipa) == IosArtifact(info, None, has_bundle=True)
    ipa = write_ipa(
        tmp_path / "b.ipa",
        {
            "Payload/App.app/Info.plist": plist_bytes(info),
            "Payload/App.app/PrivacyInfo.xcprivacy": plist_bytes(manifest),
        },
    )
    assert read_ios_artifact(ipa) == IosArtifact(info, manifest, has_bundle=True)


def test_unreadable_ios_artifacts_say_which_file_and_why(tmp_path):
    assert unreadable(write_ipa(tmp_path / "none.ipa", {"README": b""})) == (
        "expected one Payload/<name>.app, found none"
    )
    two = {"Payload/A.app/Info.plist": b"", "Payload/B.app/Info.plist": b""}
    assert unreadable(write_ipa(tmp_path / "two.ipa", two)) == (
        "expected one Payload/<name>.app, found Payload/A.app/, Payload/B.app/"
    )
    no_info = {"Payload/A.app/PrivacyInfo.xcprivacy": plist_bytes({})}
    assert unreadable(write_ipa(tmp_path / "noinfo.ipa", no_info)) == (
        "no Payload/A.app/Info.plist in the .ipa"
    )
    broken = {"Payload/A.app/Info.plist": b"<plist"}
    assert unreadable(write_ipa(tmp_path / "broken.ipa", broken)).startswith(
        "Info.plist is not a readable property list ("
    )
    bad_manifest = {
        "Payload/A.app/Info.plist": plist_bytes({}),
        "Payload/A.app/PrivacyInfo.xcprivacy": b"<plist",
    }
    assert unreadable(write_ipa(tmp_path / "badmanifest.ipa", bad_manifest)).startswith(
        "PrivacyInfo.xcprivacy is not a readable property list ("
    )
    app = tmp_path / "Broken.app"
    app.mkdir()
    (app / "Info.plist").write_bytes(b"<plist")
    assert unreadable(app).startswith("Info.plist is not a readable property list (")
    (app / "Info.plist").write_bytes(plist_bytes({}))
    (app / "PrivacyInfo.xcprivacy").write_bytes(b"<plist")
    assert unreadable(app).startswith("PrivacyInfo.xcprivacy is not a readable property list (")
    top_array = tmp_path / "Array.plist"
    top_array.write_bytes(plist_bytes(["a"]))
    assert unreadable(top_array) == "Info.plist is not a dictionary at its top level"


# -- Android readers: compiled values in protobuf XML, the binary XML sniff ---------------------


def compiled_value(item: bytes) -> str:
    attribute = proto_attribute(0, item, name="value")
    (value,) = read_proto_xml(proto_element("manifest", attribute)).attrib.values()
    return value


@pytest.mark.parametrize(
    ("item", "text"),
    [
        (length_field(1, int_field(2, 0x7F020001)), "@0x7f020001"),  # Reference.id
        (length_field(1, b""), "@0x00000000"),  # a reference without an id
        (length_field(7, int_field(6, 42)), "42"),  # Primitive.int_decimal_value
        (length_field(7, int_field(6, (-5) & (2**64 - 1))), "-5"),  # sign-extended int32
        (length_field(7, int_field(6, 0x7FFFFFFF)), "2147483647"),
        (length_field(7, int_field(8, 1)), "true"),  # Primitive.boolean_value
        (length_field(7, int_field(8, 0)), "false"),
        (length_field(7, b""), ""),  # a primitive of a kind not read
        (b"", ""),  # an empty item
    ],
)
def test_a_compiled_attribute_value_reads_as_its_manifest_text(item, text):
    assert compiled_value(item) == text


def test_binary_xml_is_recognized_by_its_first_chunk_header_alone():
    assert is_binary_xml(struct.pack("<HHI", RES_XML_TYPE, 8, 8))
    assert is_binary_xml(struct.pack("<HHI", RES_XML_TYPE, 8, 1024) + b"\0" * 16)
    assert not is_binary_xml(struct.pack("<HHI", 2, RES_XML_TYPE, 8))
    assert not is_binary_xml(struct.pack("<HHI", RES_XML_TYPE, 8, 8)[:7])
    assert not is_binary_xml(b"<?xml version")


def test_whitespace_only_purpose_text_is_named():
    assert purpose_text_problem(" \t ") == "empty or whitespace-only text"


# -- Android: every finding's words, and how a text manifest is read ----------------------------

A = "http://schemas.android.com/apk/res/android"
T = "http://schemas.android.com/tools"
MERGE_MANIFEST = "merge nudge-build's AndroidManifest.xml into this client's flavor and rebuild"


def manifest_text(body: str, package: str | None = "com.example.bank") -> bytes:
    attribute = f' package="{package}"' if package is not None else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<manifest xmlns:android="{A}" xmlns:tools="{T}"{attribute}>\n{body}</manifest>\n'
    ).encode()


def android_findings(data: bytes, flags: dict, application_id=None, tmp_path=None):
    path = tmp_path / "AndroidManifest.xml"
    path.write_bytes(data)
    out = Collector("harbor-bank", "android", "AndroidManifest.xml")
    check_android(read_android_artifact(path), rules_for(flags).android, application_id, out)
    return [(f.rule, f.found, f.expected, f.fix) for f in out.findings]


def test_a_background_manifest_without_its_declarations_gets_every_finding(tmp_path):
    data = manifest_text(
        f'  <uses-permission android:name="{table.FOREGROUND_SERVICE_LOCATION}"/>\n'
        '  <service android:name="x.Other" android:foregroundServiceType="dataSync"/>\n',
        package=None,
    )
    flags = {"location": True, "background_location": True, "push": False}
    wanted = [table.FINE, table.COARSE, table.BACKGROUND, table.FOREGROUND_SERVICE]
    assert android_findings(data, flags, "com.example.bank", tmp_path) == [
        (
            "android.permission",
            f"no {permission}",
            f'<uses-permission android:name="{permission}"/>',
            MERGE_MANIFEST,
        )
        for permission in wanted
    ] + [
        (
            "android.location-service",
            f"{table.FOREGROUND_SERVICE_LOCATION} without a service of foregroundServiceType "
            "location",
            'the SDK\'s location service with android:foregroundServiceType="location"',
            "declare the location service (list it in the client's "
            "vars.android_location_services so nudge-build's manifest sets its type)",
        ),
        (
            "android.application-id",
            "package = missing",
            "package = com.example.bank (the organization's apps.android.applicationId)",
            "build this client's flavor (applicationId), or correct the organization's "
            "application id",
        ),
    ]


def test_a_location_service_without_its_permission_is_named_with_every_service(tmp_path):
    data = manifest_text(
        "  <application>\n"
        '    <service android:name="a.One" android:foregroundServiceType="location|dataSync"/>\n'
        '    <service android:foregroundServiceType="0x8"/>\n'
        '    <service android:name="a.Gone" android:foregroundServiceType="location"'
        ' tools:node="removeAll"/>\n'
        "  </application>\n"
    )
    flags = {"location": False, "background_location": False, "push": False}
    assert android_findings(data, flags, "com.example.other", tmp_path) == [
        (
            "android.location-service",
            'service "a.One", "?" of foregroundServiceType location',
            f"no location foreground service without {table.FOREGROUND_SERVICE_LOCATION}",
            "list the service in the client's vars.android_location_services, so "
            'nudge-build\'s manifest removes it (tools:node="remove")',
        ),
        (
            "android.application-id",
            'package = "com.example.bank"',
            "package = com.example.other (the organization's apps.android.applicationId)",
            "build this client's flavor (applicationId), or correct the organization's "
            "application id",
        ),
    ]


def test_a_text_manifest_is_found_after_a_byte_order_mark_and_blank_lines(tmp_path):
    body = f'  <uses-permission android:name="{table.POST_NOTIFICATIONS}"/>\n'
    without_declaration = manifest_text(body).split(b"\n", 1)[1]
    data = b"\xef\xbb\xbf\r\n\t " + without_declaration
    flags = {"location": False, "background_location": False, "push": True}
    assert android_findings(data, flags, tmp_path=tmp_path) == []


def test_a_binary_manifest_file_is_read_by_its_format(tmp_path):
    # aapt2's proto XML, then the same manifest as Android binary XML from an .apk's bytes.
    proto = tmp_path / "proto.xml"
    proto.write_bytes(
        proto_element(
            "manifest", length_field(4, length_field(2, b"package") + length_field(3, b"a.b"))
        )
    )
    assert read_android_artifact(proto).get("package") == "a.b"
    binary = tmp_path / "binary.xml"
    binary.write_bytes(
        axml.document(
            axml.string_pool(["manifest", "package", "a.b"], utf8=True),
            axml.start(NO_INDEX, 0, [(NO_INDEX, 1, 2, axml.STRING, 2)]),
            axml.end(NO_INDEX, 0),
        )
    )
    assert read_android_artifact(binary).get("package") == "a.b"


def test_a_file_not_starting_with_a_tag_is_read_as_protobuf_xml(tmp_path):
    # Only a byte order mark and blanks may precede a text manifest's first '<'.
    path = tmp_path / "AndroidManifest.xml"
    path.write_bytes(b'X<manifest package="a.b"/>')
    with pytest.raises(UnreadableArtifact) as caught:
        read_android_artifact(path)
    assert str(caught.value).startswith("damaged protobuf XML (")


def test_the_location_service_type_counts_only_on_a_service(tmp_path):
    # foregroundServiceType means something on <service> alone; Android ignores it elsewhere.
    data = manifest_text(
        f'  <uses-permission android:name="{table.FOREGROUND_SERVICE_LOCATION}"/>\n'
        "  <application>\n"
        '    <receiver android:name="a.Receiver" android:foregroundServiceType="location"/>\n'
        "  </application>\n"
    )
    flags = {"location": True, "background_location": True, "push": False}
    rules = [rule for rule, *_ in android_findings(data, flags, tmp_path=tmp_path)]
    assert "android.location-service" in rules


def apk_with_manifest_of(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("AndroidManifest.xml", bytes(size))  # zeros deflate to kilobytes
    return path


def test_a_manifest_member_over_the_size_limit_is_not_read(tmp_path):
    limit = archive.MAX_MEMBER_BYTES
    over = apk_with_manifest_of(tmp_path / "over.apk", limit + 1)
    with pytest.raises(UnreadableArtifact) as caught:
        read_android_artifact(over)
    assert (
        str(caught.value) == f"AndroidManifest.xml claims {limit + 1} bytes: too large for its kind"
    )
    # At the limit it is read, and then judged by its content (zeros are no binary XML).
    at = apk_with_manifest_of(tmp_path / "at.apk", limit)
    with pytest.raises(UnreadableArtifact) as caught:
        read_android_artifact(at)
    assert "too large" not in str(caught.value)


def test_found_text_is_quoted_on_one_line_and_kept_as_it_is():
    assert quote("Zürich\u2028\u2029\n") == '"Zürich\\u2028\\u2029\\n"'


def test_a_privacy_manifest_whose_data_types_are_not_a_list_lists_nothing():
    for entries in (5, "NSPrivacyCollectedDataTypePreciseLocation", {"a": 1}):
        privacy = {"NSPrivacyCollectedDataTypes": entries}
        findings = ios_findings(IosArtifact({}, privacy, has_bundle=True), BACKGROUND_IOS)
        assert findings[-1][1] == (
            "no NSPrivacyCollectedDataTypePreciseLocation in PrivacyInfo.xcprivacy"
        ), entries
