"""`nudge-build verify --android` on merged manifests, `.apk` (aapt2's binary XML) and `.aab`
(aapt2's protobuf XML), and the two readers on what real tools may write."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from nudge_build.verify.android import service_types
from nudge_build.verify.axml import read_binary_xml
from nudge_build.verify.findings import UnreadableArtifact
from nudge_build.verify.protoxml import read_proto_xml
from tests import verify_artifacts as art

CLIENTS = art.CLIENTS
ANDROID = "{http://schemas.android.com/apk/res/android}"
BACKGROUND = "android.permission.ACCESS_BACKGROUND_LOCATION"
FGS_LOCATION = "android.permission.FOREGROUND_SERVICE_LOCATION"
POST_NOTIFICATIONS = "android.permission.POST_NOTIFICATIONS"
FINE = "android.permission.ACCESS_FINE_LOCATION"
COARSE = "android.permission.ACCESS_COARSE_LOCATION"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return art.build_project(tmp_path_factory.mktemp("verify-android"))


def one_finding(result, client: str, rule: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if not line.startswith("verify: ")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{client}: ") and f": {rule}: found " in lines[0], lines[0]
    assert "; expected " in lines[0] and "; fix: " in lines[0]
    return lines[0]


# -- correct artifacts pass ---------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_correct_merged_manifest_apk_and_aab_pass(project, tmp_path, client):
    manifest = project.manifest(client)
    text = tmp_path / "AndroidManifest.xml"
    text.write_text(manifest)
    apk = art.write_apk(tmp_path / "app.apk", manifest)
    aab = art.write_aab(tmp_path / "app.aab", manifest)
    with zipfile.ZipFile(apk) as archive:
        assert archive.read("AndroidManifest.xml")[:2] == b"\x03\x00"  # RES_XML_TYPE
    for artifact in (text, apk, aab):
        result = project.verify(client, "--android", str(artifact))
        assert result.exit_code == 0, result.output
        assert result.output == "verified 1 artifact(s): all match their clients' flags\n"


def test_removal_instructions_in_a_text_manifest_are_not_declarations(project, tmp_path):
    # nudge-build's own fragment for the push-only client: it names every location permission,
    # each marked tools:node="remove"; as the merger applies it, none is declared.
    fragment = (project.out / "summit-cu" / "android" / "AndroidManifest.xml").read_text()
    assert f'android:name="{FINE}" tools:node="remove"' in fragment
    with_package = fragment.replace("<manifest ", '<manifest package="org.summitcu.app" ', 1)
    path = tmp_path / "AndroidManifest.xml"
    path.write_text(with_package)
    result = project.verify("summit-cu", "--android", str(path))
    assert result.exit_code == 0, result.output


# -- planted defects ----------------------------------------------------------------------------


def test_library_merged_background_permission_on_a_foreground_client(project, tmp_path):
    manifest = project.manifest("harbor-bank", extra_permissions=(BACKGROUND,))
    apk = art.write_apk(tmp_path / "app.apk", manifest)
    result = project.verify("harbor-bank", "--android", str(apk))
    line = one_finding(result, "harbor-bank", "android.forbidden-permission")
    assert f"found {BACKGROUND} declared; expected no {BACKGROUND} for this client's flags" in line
    assert line.startswith(f"harbor-bank: {apk}: ")
    # docs/verify.md shows this very line as its example.
    doc = (Path(__file__).resolve().parent.parent / "docs" / "verify.md").read_text()
    assert line.replace(str(apk), "build/harbor-bank/app.apk") + "\n" in doc


def test_missing_post_notifications_for_a_push_client(project, tmp_path):
    manifest = project.manifest("summit-cu", without_permissions=(POST_NOTIFICATIONS,))
    aab = art.write_aab(tmp_path / "app.aab", manifest)
    line = one_finding(
        project.verify("summit-cu", "--android", str(aab)), "summit-cu", "android.permission"
    )
    assert f"found no {POST_NOTIFICATIONS}" in line


def test_missing_background_permission_for_a_background_client(project, tmp_path):
    manifest = project.manifest("prairie-fcu", without_permissions=(BACKGROUND,))
    path = tmp_path / "AndroidManifest.xml"
    path.write_text(manifest)
    line = one_finding(
        project.verify("prairie-fcu", "--android", str(path)), "prairie-fcu", "android.permission"
    )
    assert f"found no {BACKGROUND}" in line


def test_wrong_application_id(project, tmp_path):
    manifest = project.manifest("prairie-fcu").replace(
        'package="org.prairiefcu.mobile"', 'package="com.harborandmain.banking"'
    )
    apk = art.write_apk(tmp_path / "app.apk", manifest)
    line = one_finding(
        project.verify("prairie-fcu", "--android", str(apk)),
        "prairie-fcu",
        "android.application-id",
    )
    assert 'found package = "com.harborandmain.banking"' in line
    assert "expected package = org.prairiefcu.mobile" in line


def test_location_permission_without_a_location_service(project, tmp_path):
    manifest = project.manifest("prairie-fcu").replace(
        'android:foregroundServiceType="location"', 'android:foregroundServiceType="dataSync"'
    )
    apk = art.write_apk(tmp_path / "app.apk", manifest)
    line = one_finding(
        project.verify("prairie-fcu", "--android", str(apk)),
        "prairie-fcu",
        "android.location-service",
    )
    assert f"found {FGS_LOCATION} without a service of foregroundServiceType location" in line


def test_location_service_merged_into_a_foreground_client(project, tmp_path):
    service = (
        f'<service android:name="{art.SDK_LOCATION_SERVICE}" '
        'android:foregroundServiceType="dataSync|location" /></application>'
    )
    manifest = project.manifest("harbor-bank").replace("</application>", service)
    aab = art.write_aab(tmp_path / "app.aab", manifest)
    line = one_finding(
        project.verify("harbor-bank", "--android", str(aab)),
        "harbor-bank",
        "android.location-service",
    )
    assert f'found service "{art.SDK_LOCATION_SERVICE}" of foregroundServiceType location' in line


def test_ios_and_android_findings_together_and_as_json(project, tmp_path):
    info = project.info("harbor-bank")
    info["CFBundleIdentifier"] = "com.example.other"
    art.write_ipa(tmp_path / "harbor-bank.ipa", info, project.privacy("harbor-bank"))
    manifest = project.manifest("harbor-bank", extra_permissions=(BACKGROUND,))
    art.write_apk(tmp_path / "harbor-bank.apk", manifest)
    result = project.verify(
        "harbor-bank",
        "--ios",
        f"{tmp_path}/{{client}}.ipa",
        "--android",
        f"{tmp_path}/{{client}}.apk",
        "--json",
    )
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert [(f["platform"], f["rule"]) for f in document["findings"]] == [
        ("ios", "ios.bundle-id"),
        ("android", "android.forbidden-permission"),
    ]
    assert document["checked"] == 2


def test_missing_and_unreadable_android_artifacts_are_exit_2(project, tmp_path):
    (tmp_path / "bad.apk").write_bytes(b"PK\x03\x04 not really")
    with zipfile.ZipFile(tmp_path / "empty.aab", "w") as archive:
        archive.writestr("base/dex/classes.dex", b"")
    (tmp_path / "AndroidManifest.xml").write_text("<manifest><uses-permission")
    for name, reason in (
        ("missing.apk", "missing: no such file or directory"),
        ("bad.apk", "unreadable: not a readable .apk (zip)"),
        ("empty.aab", "unreadable: no base/manifest/AndroidManifest.xml in the .aab"),
        ("AndroidManifest.xml", "unreadable: not well-formed XML"),
    ):
        result = project.verify("harbor-bank", "--android", str(tmp_path / name))
        assert result.exit_code == 2, result.output
        assert f"error: {tmp_path / name}: {reason}" in result.output


# -- the binary XML reader ----------------------------------------------------------------------


def compiled(project, tmp_path, client: str = "prairie-fcu") -> bytes:
    apk = art.write_apk(tmp_path / "app.apk", project.manifest(client))
    with zipfile.ZipFile(apk) as archive:
        return archive.read("AndroidManifest.xml")


def declarations(root) -> tuple[str | None, list[str | None], list[tuple[str | None, str | None]]]:
    permissions = [e.get(f"{ANDROID}name") for e in root.iter("uses-permission")]
    services = [
        (e.get(f"{ANDROID}name"), e.get(f"{ANDROID}foregroundServiceType"))
        for e in root.iter("service")
    ]
    return root.get("package"), permissions, services


def test_binary_xml_reads_aapt2s_output(project, tmp_path):
    root = read_binary_xml(compiled(project, tmp_path))
    package, permissions, services = declarations(root)
    assert package == "org.prairiefcu.mobile"
    assert FINE in permissions and BACKGROUND in permissions and FGS_LOCATION in permissions
    # aapt2 compiles the flag to its bit: location is 0x8 in framework-res.
    assert services == [(art.SDK_LOCATION_SERVICE, "0x8")]
    assert service_types("0x8") == ("location",)
    assert root.find("application/activity").get(f"{ANDROID}exported") == "true"


def test_binary_xml_names_attributes_by_resource_id_when_the_pool_blanks_them(project, tmp_path):
    data = compiled(project, tmp_path)
    # What APK shrinkers do: the attribute names' strings emptied (length 0), ids kept.
    for name in ("name", "foregroundServiceType"):
        utf16 = struct.pack("<H", len(name)) + name.encode("utf-16-le") + b"\0\0"
        assert data.count(utf16) == 1
        data = data.replace(utf16, b"\0\0" + utf16[2:])
    root = read_binary_xml(data)
    assert declarations(root) == declarations(read_binary_xml(compiled(project, tmp_path)))


def test_binary_xml_with_a_utf8_string_pool(project, tmp_path):
    utf16 = compiled(project, tmp_path)
    utf8 = to_utf8_pool(utf16)
    assert utf8 != utf16
    assert declarations(read_binary_xml(utf8)) == declarations(read_binary_xml(utf16))


def test_damaged_binary_xml_is_unreadable(project, tmp_path):
    data = compiled(project, tmp_path)
    for damaged in (data[:40], data[:8] + b"\xff" * 40, b"\x03\x00\x08\x00\x10\x00\x00\x00"):
        with pytest.raises(UnreadableArtifact):
            read_binary_xml(damaged)


def to_utf8_pool(data: bytes) -> bytes:
    """The same document with its string pool re-encoded as UTF-8 (as aapt and d8 may write)."""
    _, file_header, _ = struct.unpack_from("<HHI", data)
    pool_at = file_header
    kind, header, size, count, styles, flags, start, _ = struct.unpack_from(
        "<HHIIIIII", data, pool_at
    )
    assert kind == 1 and styles == 0 and not flags & 0x100
    offsets = struct.unpack_from(f"<{count}I", data, pool_at + header)
    strings = []
    for offset in offsets:
        at = pool_at + start + offset
        (length,) = struct.unpack_from("<H", data, at)
        strings.append(data[at + 2 : at + 2 + 2 * length].decode("utf-16-le"))

    def length8(n: int) -> bytes:
        return bytes([n]) if n < 0x80 else bytes([0x80 | (n >> 8), n & 0xFF])

    body, new_offsets = b"", []
    for text in strings:
        new_offsets.append(len(body))
        encoded = text.encode("utf-8")
        body += (
            length8(len(text.encode("utf-16-le")) // 2) + length8(len(encoded)) + encoded + b"\0"
        )
    body += b"\0" * (-len(body) % 4)
    new_start = 28 + 4 * count
    pool = struct.pack(
        "<HHIIIIII", 1, 28, new_start + len(body), count, 0, flags | 0x100, new_start, 0
    )
    pool += struct.pack(f"<{count}I", *new_offsets) + body
    rest = data[pool_at + size :]
    return struct.pack("<HHI", 3, file_header, file_header + len(pool) + len(rest)) + pool + rest


# -- the protobuf XML reader --------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def length_field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def int_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def proto_attribute(resource_id: int, item: bytes, name: str = "") -> bytes:
    """An XmlAttribute with an empty name and no source text: only the id and compiled item."""
    return length_field(
        4,
        length_field(1, b"http://schemas.android.com/apk/res/android")
        + length_field(2, name.encode())
        + int_field(5, resource_id)
        + length_field(6, item),
    )


def proto_element(name: str, *parts: bytes) -> bytes:
    return length_field(1, length_field(3, name.encode()) + b"".join(parts))


def test_proto_xml_with_compiled_values_only(project, tmp_path):
    def string_item(text: str) -> bytes:
        return length_field(2, length_field(1, text.encode()))

    def permission(name: str) -> bytes:
        return length_field(
            5, proto_element("uses-permission", proto_attribute(0x01010003, string_item(name)))
        )

    hex_location = length_field(7, int_field(7, 0x8))  # Item.prim.int_hexadecimal_value
    service = proto_element(
        "service",
        proto_attribute(0x01010003, string_item(art.SDK_LOCATION_SERVICE)),
        proto_attribute(0x01010599, hex_location),
        int_field(15, 1) + varint(14 << 3 | 1) + b"\0" * 8 + varint(13 << 3 | 5) + b"\0" * 4,
    )
    manifest = proto_element(
        "manifest",
        length_field(
            4, length_field(2, b"package") + length_field(3, b"com.harborandmain.banking")
        ),
        permission(FINE),
        permission(COARSE),
        permission(POST_NOTIFICATIONS),
        length_field(5, length_field(2, b"\n  ")),  # a text node
        length_field(5, proto_element("application", length_field(5, service))),
    )
    root = read_proto_xml(manifest)
    package, permissions, services = declarations(root)
    assert package == "com.harborandmain.banking"
    assert permissions == [FINE, COARSE, POST_NOTIFICATIONS]
    assert services == [(art.SDK_LOCATION_SERVICE, "0x8")]

    with zipfile.ZipFile(tmp_path / "app.aab", "w") as archive:
        archive.writestr("base/manifest/AndroidManifest.xml", manifest)
    result = project.verify("harbor-bank", "--android", str(tmp_path / "app.aab"))
    line = one_finding(result, "harbor-bank", "android.location-service")
    assert f'service "{art.SDK_LOCATION_SERVICE}" of foregroundServiceType location' in line


def test_damaged_proto_xml_is_unreadable():
    good = proto_element("manifest", length_field(4, length_field(2, b"package")))
    for damaged in (good[:-3], b"\x0b\x00", varint(1 << 3 | 2) + b"\xff" * 11):
        with pytest.raises(UnreadableArtifact):
            read_proto_xml(damaged)
