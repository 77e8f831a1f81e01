"""Android binary XML read from hand-built documents: the parts aapt2's own output never has.

aapt2 writes UTF-8 string pools of short strings with names in the pool, so the fixtures built
by the real tool never reach UTF-16 pools, lengths that need two bytes (or two units), names
known only by resource id, or damaged chunk headers. Each test here builds such a document
byte by byte and asserts exactly what `read_binary_xml` makes of it.
"""

from __future__ import annotations

import struct

import pytest

from nudge_build.verify.axml import ANDROID_NS, NO_INDEX, read_binary_xml
from nudge_build.verify.findings import UnreadableArtifact

NAME_ID = 0x01010003  # android:name
REFERENCE, ATTRIBUTE, STRING, INT_DEC, INT_HEX, BOOLEAN = 0x01, 0x02, 0x03, 0x10, 0x11, 0x12


def chunk(kind: int, header: bytes, body: bytes) -> bytes:
    """One chunk: its 8-byte header, the rest of its header, then its body."""
    header_size = 8 + len(header)
    return struct.pack("<HHI", kind, header_size, header_size + len(body)) + header + body


def utf8_length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x80 | (n >> 8), n & 0xFF])


def utf16_length(n: int) -> bytes:
    if n < 0x8000:
        return struct.pack("<H", n)
    return struct.pack("<HH", 0x8000 | (n >> 16), n & 0xFFFF)


def string_pool(strings: list[str], utf8: bool, count: int | None = None) -> bytes:
    data = b""
    offsets = []
    for s in strings:
        offsets.append(len(data))
        if utf8:
            raw = s.encode("utf-8")
            data += utf8_length(len(s)) + utf8_length(len(raw)) + raw + b"\0"
        else:
            data += utf16_length(len(s)) + s.encode("utf-16-le") + b"\0\0"
    data += b"\0" * (-len(data) % 4)
    n = len(strings) if count is None else count
    header = struct.pack("<IIIII", n, 0, 0x100 if utf8 else 0, 28 + 4 * len(strings), 0)
    return chunk(0x0001, header, struct.pack(f"<{len(offsets)}I", *offsets) + data)


def resource_map(ids: list[int]) -> bytes:
    return chunk(0x0180, b"", struct.pack(f"<{len(ids)}I", *ids))


Attribute = tuple[int, int, int, int, int]  # ns, name, raw, type, data


def start(ns: int, name: int, attributes: list[Attribute] = ()) -> bytes:  # type: ignore[assignment]
    body = struct.pack("<IIHHHHHH", ns, name, 20, 20, len(attributes), 0, 0, 0)
    for a_ns, a_name, raw, kind, data in attributes:
        body += struct.pack("<IIIHBBI", a_ns, a_name, raw, 8, 0, kind, data)
    return chunk(0x0102, struct.pack("<II", 1, NO_INDEX), body)


def end(ns: int, name: int) -> bytes:
    return chunk(0x0103, struct.pack("<II", 1, NO_INDEX), struct.pack("<II", ns, name))


def document(*chunks: bytes) -> bytes:
    return chunk(0x0003, b"", b"".join(chunks))


def damaged(data: bytes) -> str:
    with pytest.raises(UnreadableArtifact) as caught:
        read_binary_xml(data)
    return str(caught.value)


@pytest.mark.parametrize("utf8", [True, False], ids=["utf8", "utf16"])
def test_names_namespaces_and_raw_values_come_from_the_pool(utf8):
    pool = ["manifest", "urn:x", "label", "hello", ""]
    data = document(
        string_pool(pool, utf8),
        start(1, 0, [(1, 2, 3, INT_DEC, 7), (NO_INDEX, 4, NO_INDEX, INT_DEC, 5)]),
        end(1, 0),
    )
    root = read_binary_xml(data)
    assert root.tag == "{urn:x}manifest"
    # The raw string wins over the typed value; an empty name without a known id shows the id.
    assert root.attrib == {"{urn:x}label": "hello", "0x00000000": "5"}


def test_a_name_past_the_resource_map_is_read_from_the_pool():
    data = document(
        string_pool(["manifest", "", "label", "x"], utf8=True),
        resource_map([0x7F010000, NAME_ID]),
        start(NO_INDEX, 0, [(NO_INDEX, 1, 3, STRING, 3), (NO_INDEX, 2, 3, STRING, 3)]),
    )
    root = read_binary_xml(data)
    # Index 1 is known by id with a blank pool name; index 2 is past the map's two entries.
    assert root.attrib == {f"{{{ANDROID_NS}}}name": "x", "label": "x"}


def test_typed_values_read_as_the_manifest_text_without_a_raw_string():
    data = document(
        string_pool(["manifest", "a", "b", "c", "d", "e", "f", "str"], utf8=False),
        start(
            NO_INDEX,
            0,
            [
                (NO_INDEX, 1, NO_INDEX, BOOLEAN, 0),
                (NO_INDEX, 2, NO_INDEX, STRING, 7),
                (NO_INDEX, 3, NO_INDEX, INT_DEC, 0xFFFFFFFE),
                (NO_INDEX, 4, NO_INDEX, INT_HEX, 0x1F),
                (NO_INDEX, 5, NO_INDEX, REFERENCE, 0x7F010000),
                (NO_INDEX, 6, NO_INDEX, ATTRIBUTE, 0x7F010001),
            ],
        ),
    )
    assert read_binary_xml(data).attrib == {
        "a": "false",
        "b": "str",
        "c": "-2",
        "d": "0x1f",
        "e": "@0x7f010000",
        "f": "?0x7f010001",
    }


def test_utf8_strings_longer_than_127_bytes_use_two_byte_lengths():
    long = "é" * 200  # 200 characters, 400 bytes: both lengths take two bytes
    data = document(
        string_pool(["manifest", "label", long, "next"], utf8=True),
        start(NO_INDEX, 0, [(NO_INDEX, 1, 2, STRING, 2), (NO_INDEX, 3, 3, STRING, 3)]),
    )
    assert read_binary_xml(data).attrib == {"label": long, "next": "next"}


@pytest.mark.parametrize("length", [0x8123, 0x18123], ids=["one-high-unit", "two-full-units"])
def test_utf16_strings_of_32768_units_or_more_use_two_unit_lengths(length):
    long = "ab" * (length // 2) + "c" * (length % 2)
    data = document(
        string_pool(["manifest", "label", long, "next"], utf8=False),
        start(NO_INDEX, 0, [(NO_INDEX, 1, 2, STRING, 2), (NO_INDEX, 3, 3, STRING, 3)]),
    )
    attrib = read_binary_xml(data).attrib
    assert len(attrib["label"]) == length
    assert attrib == {"label": long, "next": "next"}


def test_an_unknown_eight_byte_chunk_is_skipped():
    data = document(
        string_pool(["manifest"], utf8=True),
        struct.pack("<HHI", 0x0777, 8, 8),
        start(NO_INDEX, 0),
    )
    assert read_binary_xml(data).tag == "manifest"


def test_a_chunk_running_past_the_document_is_refused_with_its_offset():
    body = string_pool(["manifest"], utf8=True) + start(NO_INDEX, 0)
    data = document(body, struct.pack("<HHI", 0x0777, 8, 16))
    assert damaged(data) == f"damaged Android binary XML (chunk at byte {8 + len(body)})"


def test_a_chunk_shorter_than_its_header_is_refused():
    data = document(string_pool(["manifest"], utf8=True), struct.pack("<HHI", 0x0777, 8, 4))
    assert damaged(data) == f"damaged Android binary XML (chunk at byte {8 + 28 + 4 + 12})"


def test_other_data_and_documents_without_elements_are_refused_in_words():
    assert damaged(struct.pack("<HHI", 0x0001, 8, 8)) == (
        "not Android binary XML (no RES_XML_TYPE chunk at the start)"
    )
    assert damaged(document(string_pool(["manifest"], utf8=True))) == (
        "Android binary XML without an element"
    )


def test_an_element_without_a_string_pool_is_damaged():
    assert damaged(document(start(NO_INDEX, 0))) == (
        "damaged Android binary XML (list index out of range)"
    )


def test_a_string_count_beyond_the_pool_is_damaged():
    data = document(string_pool(["manifest"], utf8=True, count=0x80000000), start(NO_INDEX, 0))
    assert damaged(data).startswith("damaged Android binary XML (unpack_from requires a buffer")
