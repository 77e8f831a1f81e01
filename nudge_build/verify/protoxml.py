"""aapt2's protobuf XML (``base/manifest/AndroidManifest.xml`` in an ``.aab``) as an ElementTree.

An App Bundle keeps its manifest as an ``aapt.pb.XmlNode`` message (aapt2's Resources.proto).
Only these fields are read; every other field is skipped by its wire type:

    XmlNode       element = 1 (XmlElement), text = 2
    XmlElement    namespace_uri = 2, name = 3, attribute = 4 (repeated), child = 5 (repeated)
    XmlAttribute  namespace_uri = 1, name = 2, value = 3, resource_id = 5, compiled_item = 6
    Item          ref = 1 (Reference: id = 2), str = 2 (String: value = 1), prim = 7
    Primitive     int_decimal_value = 6, int_hexadecimal_value = 7, boolean_value = 8

aapt2 keeps an attribute's source text in ``value``; the compiled item is the fallback for a
value without it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from nudge_build.verify.axml import ANDROID_ATTRIBUTE_IDS, ANDROID_NS
from nudge_build.verify.findings import UnreadableArtifact

# Wire types of the protobuf encoding.
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_MAX_DEPTH = 200  # a manifest is a few levels deep; a deeper one is damaged or hostile


Fields = dict[int, list[int | bytes]]


def read_proto_xml(data: bytes) -> ET.Element:
    try:
        node = _fields(data)
        element = _first_bytes(node, 1)
        if element is None:
            raise UnreadableArtifact("protobuf XML without a root element")
        return _element(element, 0)
    except (IndexError, UnicodeDecodeError, RecursionError) as exc:
        raise UnreadableArtifact(f"damaged protobuf XML ({exc})") from exc


def _element(data: bytes, depth: int) -> ET.Element:
    if depth > _MAX_DEPTH:
        raise UnreadableArtifact("protobuf XML nested too deeply")
    fields = _fields(data)
    element = ET.Element(_qualified(_text(fields, 2), _text(fields, 3)))
    for raw in _all_bytes(fields, 4):
        key, value = _attribute(_fields(raw))
        element.set(key, value)
    for raw in _all_bytes(fields, 5):
        child = _first_bytes(_fields(raw), 1)
        if child is not None:  # a text node has no element
            element.append(_element(child, depth + 1))
    return element


def _attribute(fields: Fields) -> tuple[str, str]:
    resource_id = _first_int(fields, 5)
    known = ANDROID_ATTRIBUTE_IDS.get(resource_id) if resource_id is not None else None
    if known is not None:
        key = f"{{{ANDROID_NS}}}{known}"
    else:
        key = _qualified(_text(fields, 1), _text(fields, 2) or f"0x{resource_id or 0:08x}")
    text = _text(fields, 3)
    item = _first_bytes(fields, 6)
    if text or item is None:
        return key, text
    return key, _compiled(_fields(item))


def _compiled(item: Fields) -> str:
    string = _first_bytes(item, 2)
    if string is not None:
        return _text(_fields(string), 1)
    reference = _first_bytes(item, 1)
    if reference is not None:
        return f"@0x{_first_int(_fields(reference), 2) or 0:08x}"
    primitive = _first_bytes(item, 7)
    if primitive is not None:
        prim = _fields(primitive)
        if (number := _first_int(prim, 7)) is not None:
            return f"0x{number:x}"
        if (number := _first_int(prim, 6)) is not None:
            number &= 0xFFFFFFFF  # an int32: a negative one is sign-extended to 64 bits
            return str(number - (1 << 32) if number & 0x80000000 else number)
        if (flag := _first_int(prim, 8)) is not None:
            return "true" if flag else "false"
    return ""


def _qualified(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


# -- wire format ------------------------------------------------------------------------------


def _fields(data: bytes) -> Fields:
    fields: Fields = {}
    for number, value in _scan(data):
        fields.setdefault(number, []).append(value)
    return fields


def _scan(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, at = _varint(data, at)
            yield number, value
        elif wire_type == _LENGTH:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise UnreadableArtifact("damaged protobuf XML (a field runs past the end)")
            yield number, data[at : at + length]
            at += length
        elif wire_type == _FIXED64:
            at += 8
        elif wire_type == _FIXED32:
            at += 4
        else:  # groups (3, 4) are not used by Resources.proto; 6 and 7 do not exist
            raise UnreadableArtifact(f"damaged protobuf XML (wire type {wire_type})")
    if at != len(data):
        raise UnreadableArtifact("damaged protobuf XML (a fixed-size field runs past the end)")


def _varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, at
        shift += 7
        if shift > 63:
            raise UnreadableArtifact("damaged protobuf XML (a varint is too long)")


def _first_bytes(fields: Fields, number: int) -> bytes | None:
    for value in fields.get(number, ()):
        if isinstance(value, bytes):
            return value
    return None


def _all_bytes(fields: Fields, number: int) -> list[bytes]:
    return [v for v in fields.get(number, ()) if isinstance(v, bytes)]


def _first_int(fields: Fields, number: int) -> int | None:
    for value in fields.get(number, ()):
        if isinstance(value, int):
            return value
    return None


def _text(fields: Fields, number: int) -> str:
    value = _first_bytes(fields, number)
    return value.decode("utf-8") if value is not None else ""
