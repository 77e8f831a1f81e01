"""Android binary XML (the ``AndroidManifest.xml`` inside an ``.apk``) as an ElementTree.

The format is a sequence of chunks, each starting with ``type: u16, header_size: u16,
size: u32`` (little-endian). A document is one ``RES_XML_TYPE`` chunk holding a string pool, an
optional resource map (the attribute resource id of each of the first pool strings), then one
chunk per start/end of a namespace or element. We read only what a manifest check needs:
element and attribute names with their namespaces, and each attribute's value as text.

Attribute names are taken from the resource map when it knows the id, since tools that shrink
APKs blank the names in the string pool and the platform itself only looks at the id.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

from nudge_build.verify.findings import UnreadableArtifact

RES_STRING_POOL_TYPE = 0x0001
RES_XML_TYPE = 0x0003
RES_XML_START_NAMESPACE_TYPE = 0x0100
RES_XML_END_NAMESPACE_TYPE = 0x0101
RES_XML_START_ELEMENT_TYPE = 0x0102
RES_XML_END_ELEMENT_TYPE = 0x0103
RES_XML_RESOURCE_MAP_TYPE = 0x0180

UTF8_FLAG = 0x100
NO_INDEX = 0xFFFFFFFF

# Res_value data types (ResourceTypes.h) that a manifest attribute can have.
TYPE_REFERENCE = 0x01
TYPE_ATTRIBUTE = 0x02
TYPE_STRING = 0x03
TYPE_INT_DEC = 0x10
TYPE_INT_HEX = 0x11
TYPE_INT_BOOLEAN = 0x12

ANDROID_NS = "http://schemas.android.com/apk/res/android"
# The framework's public attribute ids for the android: attributes the checks read, as
# `aapt2 dump resources /usr/share/android-framework-res/framework-res.apk` lists them.
ANDROID_ATTRIBUTE_IDS: dict[int, str] = {
    0x01010003: "name",
    0x01010599: "foregroundServiceType",
}

_HEADER = struct.Struct("<HHI")
_NODE_SIZE = 16  # chunk header + line number + comment string index
_ELEMENT = struct.Struct("<IIHHHHHH")  # ns, name, attributeStart, attributeSize, count, ...
_ATTRIBUTE = struct.Struct("<IIIHBBI")  # ns, name, rawValue, Res_value(size, res0, type, data)


def read_binary_xml(data: bytes) -> ET.Element:
    """The document's root element; attribute names in ``{namespace}name`` form."""
    try:
        return _read(data)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise UnreadableArtifact(f"damaged Android binary XML ({exc})") from exc


def is_binary_xml(data: bytes) -> bool:
    return len(data) >= 8 and _HEADER.unpack_from(data)[0] == RES_XML_TYPE


def _read(data: bytes) -> ET.Element:
    kind, header_size, size = _HEADER.unpack_from(data)
    if kind != RES_XML_TYPE:
        raise UnreadableArtifact("not Android binary XML (no RES_XML_TYPE chunk at the start)")
    end = min(size, len(data))
    strings: list[str] = []
    resource_ids: list[int] = []
    stack: list[ET.Element] = []
    root: ET.Element | None = None
    offset = header_size
    while offset + 8 <= end:
        kind, header_size, size = _HEADER.unpack_from(data, offset)
        if size < 8 or offset + size > end:
            raise UnreadableArtifact(f"damaged Android binary XML (chunk at byte {offset})")
        chunk = data[offset : offset + size]
        if kind == RES_STRING_POOL_TYPE:
            strings = _string_pool(chunk)
        elif kind == RES_XML_RESOURCE_MAP_TYPE:
            count = (size - header_size) // 4
            resource_ids = list(struct.unpack_from(f"<{count}I", chunk, header_size))
        elif kind == RES_XML_START_ELEMENT_TYPE:
            element = _element(chunk, strings, resource_ids)
            if stack:
                stack[-1].append(element)
            elif root is None:
                root = element
            stack.append(element)
        elif kind == RES_XML_END_ELEMENT_TYPE:
            if stack:
                stack.pop()
        # Namespace chunks need no handling: each name carries its namespace URI already.
        offset += size
    if root is None:
        raise UnreadableArtifact("Android binary XML without an element")
    return root


def _string_pool(chunk: bytes) -> list[str]:
    _, header_size, _, count, _, flags, strings_start, _ = struct.unpack_from("<HHIIIIII", chunk)
    offsets = struct.unpack_from(f"<{count}I", chunk, header_size)
    utf8 = bool(flags & UTF8_FLAG)
    return [
        _utf8_string(chunk, strings_start + o) if utf8 else _utf16_string(chunk, strings_start + o)
        for o in offsets
    ]


def _utf8_string(chunk: bytes, at: int) -> str:
    # Two lengths, each one byte or (high bit set) two: in UTF-16 units, then in bytes.
    _, at = _length8(chunk, at)
    length, at = _length8(chunk, at)
    return chunk[at : at + length].decode("utf-8")


def _length8(chunk: bytes, at: int) -> tuple[int, int]:
    first = chunk[at]
    if first & 0x80:
        return ((first & 0x7F) << 8) | chunk[at + 1], at + 2
    return first, at + 1


def _utf16_string(chunk: bytes, at: int) -> str:
    (first,) = struct.unpack_from("<H", chunk, at)
    if first & 0x8000:
        (second,) = struct.unpack_from("<H", chunk, at + 2)
        length, at = ((first & 0x7FFF) << 16) | second, at + 4
    else:
        length, at = first, at + 2
    return chunk[at : at + 2 * length].decode("utf-16-le")


def _element(chunk: bytes, strings: list[str], resource_ids: list[int]) -> ET.Element:
    ns, name, attribute_start, attribute_size, count, *_ = _ELEMENT.unpack_from(chunk, _NODE_SIZE)
    element = ET.Element(_qualified(strings, ns, strings[name]))
    first = _NODE_SIZE + attribute_start
    for index in range(count):
        a_ns, a_name, raw, _, _, value_type, value = _ATTRIBUTE.unpack_from(
            chunk, first + index * attribute_size
        )
        resource_id = resource_ids[a_name] if a_name < len(resource_ids) else 0
        known = ANDROID_ATTRIBUTE_IDS.get(resource_id)
        if known is not None:  # the id decides, whatever the pool says (or does not)
            key = f"{{{ANDROID_NS}}}{known}"
        else:
            local = strings[a_name] or f"0x{resource_id:08x}"
            key = _qualified(strings, a_ns, local)
        text = strings[raw] if raw != NO_INDEX else _typed_value(value_type, value, strings)
        element.set(key, text)
    return element


def _qualified(strings: list[str], ns: int, name: str) -> str:
    return f"{{{strings[ns]}}}{name}" if ns != NO_INDEX else name


def _typed_value(value_type: int, data: int, strings: list[str]) -> str:
    """A compiled attribute value as the text a manifest would carry (numbers as numbers)."""
    if value_type == TYPE_STRING:
        return strings[data]
    if value_type == TYPE_INT_BOOLEAN:
        return "true" if data else "false"
    if value_type == TYPE_INT_DEC:
        return str(data - (1 << 32) if data & 0x80000000 else data)
    if value_type == TYPE_INT_HEX:
        return f"0x{data:x}"
    if value_type == TYPE_REFERENCE:
        return f"@0x{data:08x}"
    if value_type == TYPE_ATTRIBUTE:
        return f"?0x{data:08x}"
    return f"0x{data:x}"
