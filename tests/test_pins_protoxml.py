"""aapt2's protobuf XML read from hand-built messages: namespaces, ids, depth and damage.

aapt2's own output always has names, values and well-formed fields; these build each message
byte by byte to pin what `read_proto_xml` makes of the rest, with each refusal's exact words.
"""

from __future__ import annotations

import struct

import pytest

from nudge_build.verify.axml import ANDROID_NS
from nudge_build.verify.findings import UnreadableArtifact
from nudge_build.verify.protoxml import read_proto_xml

NAME_ID = 0x01010003  # android:name


def varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([0x80 | low])


def number(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def message(field: int, body: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(body)) + body


def text(field: int, value: str) -> bytes:
    return message(field, value.encode("utf-8"))


def element(name: str, *parts: bytes, ns: str = "") -> bytes:
    """An XmlElement's fields (namespace 2, name 3, then attributes 4 / children 5)."""
    return (text(2, ns) if ns else b"") + text(3, name) + b"".join(parts)


def node(element_fields: bytes) -> bytes:
    return message(1, element_fields)


def attribute(*fields: bytes) -> bytes:
    return message(4, b"".join(fields))


def damaged(data: bytes) -> str:
    with pytest.raises(UnreadableArtifact) as caught:
        read_proto_xml(data)
    return str(caught.value)


def test_namespaces_of_elements_and_attributes_are_kept():
    root = read_proto_xml(
        node(
            element(
                "manifest", attribute(text(1, "urn:a"), text(2, "label"), text(3, "x")), ns="urn:m"
            )
        )
    )
    assert root.tag == "{urn:m}manifest"
    assert root.attrib == {"{urn:a}label": "x"}


def test_attribute_names_without_a_known_id_show_the_id_or_zero():
    root = read_proto_xml(
        node(
            element(
                "manifest",
                attribute(number(5, 0x7F010000), text(3, "a")),
                attribute(text(3, "b")),
                attribute(number(5, NAME_ID), text(2, "ignored"), text(3, "c")),
            )
        )
    )
    assert root.attrib == {"0x7f010000": "a", "0x00000000": "b", f"{{{ANDROID_NS}}}name": "c"}


def test_source_text_wins_over_the_compiled_item():
    boolean = message(7, number(8, 0))
    root = read_proto_xml(
        node(
            element(
                "manifest",
                attribute(text(2, "both"), text(3, "kept"), message(6, boolean)),
                attribute(text(2, "compiled"), message(6, boolean)),
            )
        )
    )
    assert root.attrib == {"both": "kept", "compiled": "false"}


def test_fixed_size_fields_are_skipped_by_their_width():
    fixed = varint(9 << 3 | 1) + struct.pack("<Q", 2**64 - 1) + varint(9 << 3 | 5) + b"\xff" * 4
    root = read_proto_xml(node(fixed + element("manifest", fixed)))
    assert root.tag == "manifest"


def chain(depth: int) -> bytes:
    fields = element("leaf")
    for _ in range(depth):
        fields = element("e", message(5, node(fields)))
    return node(fields)


def test_two_hundred_levels_below_the_root_are_read_and_one_more_is_refused():
    root = read_proto_xml(chain(200))
    assert len(list(root.iter())) == 201
    assert damaged(chain(201)) == "protobuf XML nested too deeply"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "protobuf XML without a root element"),
        (number(2, 1), "protobuf XML without a root element"),
        (b"\x08", "damaged protobuf XML (index out of range)"),
        (b"\x08" + b"\x80" * 10 + b"\x01", "damaged protobuf XML (a varint is too long)"),
        (b"\x0a\x05abc", "damaged protobuf XML (a field runs past the end)"),
        (b"\x0b", "damaged protobuf XML (wire type 3)"),
        (b"\x0d\x01\x02", "damaged protobuf XML (a fixed-size field runs past the end)"),
        (b"\x09" + b"\x00" * 7, "damaged protobuf XML (a fixed-size field runs past the end)"),
    ],
    ids=[
        "empty",
        "no-element",
        "truncated-varint",
        "long-varint",
        "short-field",
        "group",
        "short-fixed32",
        "short-fixed64",
    ],
)
def test_damaged_messages_are_refused_in_words(data, words):
    assert damaged(data) == words
