"""Edit an XML Info.plist as Xcode writes it, changing only the lines of nudge's own keys.

The partner's Info.plist is theirs: its order, indentation, comments and every key nudge does not
own stay byte for byte. So this is not a load-and-dump (``plistlib.dumps`` would rewrite every
line) but a splice: expat reports where each element of the root dictionary starts and ends, and
only nudge's entries are replaced, removed or appended, each as whole lines in the file's own
indentation. The result is read back with ``plistlib`` and must equal the original dictionary
with exactly the intended changes; anything else is refused and nothing is written.

Binary plists are refused rather than converted: an edit would have to rewrite the whole file,
and Xcode projects keep their Info.plist as XML anyway.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from nudge_build import formats
from nudge_build.errors import ConfigError, RenderError
from nudge_build.platforms import IOS_OWNED_KEYS, IOS_OWNED_MODES

BACKGROUND_MODES_KEY = "UIBackgroundModes"

# A start tag with (quoted) attributes: where it ends is where an element's content begins.
_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")


def encode_plist_string(text: str, *, where: str = "a value") -> str:
    """``text`` as the content of a ``<string>`` that Xcode will show exactly as ``text``.

    The "infoplist" format: XML-escaped, every ``$`` doubled (Xcode expands build settings in
    Info.plist strings), U+0085/U+2028/U+2029 and CR as character references.
    """
    try:
        return formats.encode("infoplist", text)
    except formats.ValueRefused as exc:
        raise RenderError(f"{where}: {exc}") from None


def plist_reading(text: str) -> str:
    """What a plist reader (not Xcode) gets back from ``encode_plist_string(text)``."""
    return text.replace("$", "$$")


def merge_info_plist(
    data: bytes,
    *,
    strings: Mapping[str, str],
    remove_keys: Collection[str],
    add_modes: Sequence[str],
    remove_modes: Collection[str],
    where: str,
) -> bytes:
    """``data`` with ``strings`` set, ``remove_keys`` gone and ``UIBackgroundModes`` adjusted.

    Only the named keys and modes change; when none needs to, ``data`` itself comes back.
    Raises ConfigError (naming ``where``) for a plist this cannot edit safely.
    """
    if set(strings) & set(remove_keys) or set(add_modes) & set(remove_modes):
        raise ValueError("a key or mode cannot be both set and removed")
    values = _load(data, where)
    root = _root_dict(data, where)
    entries = _entries(root, where)
    edits: list[tuple[int, int, bytes]] = []
    appended: list[str] = []  # lines for new keys, added before the root's </dict>
    intended = dict(values)
    indent = _root_indent(data, root)
    unit = indent or "\t"

    for key, text in strings.items():
        encoded = encode_plist_string(text, where=f"{where}: {key}")
        intended[key] = plist_reading(text)
        entry = _single(entries, key, where)
        line = f"<string>{encoded}</string>"
        if entry is None:
            appended += [f"<key>{_xml(key)}</key>", line]
        elif entry.value.name != "string":
            raise _cannot(where, key, f"its value is a <{entry.value.name}>, not a <string>")
        elif values[key] != intended[key]:
            edits.append((entry.value.start, entry.value.end, line.encode("utf-8")))

    for key in remove_keys:
        for entry in entries.get(key, ()):
            edits.append((*_whole_lines(data, entry.key.start, entry.value.end), b""))
        intended.pop(key, None)

    if add_modes or remove_modes:
        entry = _single(entries, BACKGROUND_MODES_KEY, where)
        wanted = list(dict.fromkeys(add_modes))
        if entry is None:
            if wanted:
                intended[BACKGROUND_MODES_KEY] = wanted
                appended += [f"<key>{BACKGROUND_MODES_KEY}</key>", "<array>"]
                appended += [f"{unit}{_mode_line(m, where)}" for m in wanted]
                appended.append("</array>")
        else:
            array = entry.value
            current = values[BACKGROUND_MODES_KEY]
            if array.name != "array":
                raise _cannot(where, BACKGROUND_MODES_KEY, f"its value is a <{array.name}>")
            if any(child.name != "string" for child in array.children):
                raise _cannot(where, BACKGROUND_MODES_KEY, "it holds values other than <string>")
            missing = [m for m in wanted if m not in current]
            intended[BACKGROUND_MODES_KEY] = [m for m in current if m not in remove_modes] + missing
            for child, mode in zip(array.children, current, strict=True):
                if mode in remove_modes:
                    edits.append((*_whole_lines(data, child.start, child.end), b""))
            if missing:
                outer = _line_indent(data, array.start) or indent
                inner = _line_indent(data, array.children[0].start) if array.children else None
                lines = [_mode_line(m, where) for m in missing]
                edits.append(_append(data, array, lines, inner or outer + unit, outer))

    if appended:
        edits.append(_append(data, root, appended, indent, _line_indent(data, root.start) or ""))
    if not edits:
        return data
    result = _splice(data, edits, where)
    _verify(result, intended, where)
    return result


def nudge_part(
    data: bytes,
    *,
    keys: Collection[str] = IOS_OWNED_KEYS,
    modes: Collection[str] = IOS_OWNED_MODES,
    where: str = "Info.plist",
) -> bytes:
    """nudge's keys and background modes as found, canonically serialized (for a digest).

    Nothing else of the file is in it, so the partner's edits elsewhere never change it; the
    order of keys and modes in the file does not either.
    """
    values = _load(data, where)
    found: Any = values.get(BACKGROUND_MODES_KEY, [])
    if isinstance(found, list):
        found = sorted({m for m in found if isinstance(m, str) and m in modes})
    part = {"keys": {k: values[k] for k in keys if k in values}, BACKGROUND_MODES_KEY: found}
    return plistlib.dumps(part, sort_keys=True)


# -- reading ------------------------------------------------------------------------------------


@dataclass
class _Node:
    """An element and where it is in the bytes."""

    name: str
    start: int  # its '<'
    end: int = -1  # just after its last '>'
    text: list[str] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    close: int | None = None  # the '<' of its end tag; None for <name/>


@dataclass(frozen=True)
class _Entry:
    key: _Node
    value: _Node


def _load(data: bytes, where: str) -> dict[str, Any]:
    if data.startswith(b"bplist"):
        raise ConfigError(
            f"{where}: is a binary plist; nudge-build edits Info.plist files only as XML, the way "
            "Xcode writes them: convert it once with `plutil -convert xml1` and commit that",
            file=where,
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: is not UTF-8 text ({exc.reason})", file=where) from None
    try:
        values = plistlib.loads(data, fmt=plistlib.FMT_XML)
    except Exception as exc:  # plistlib lets ExpatError, ValueError, KeyError … through
        raise ConfigError(f"{where}: is not a readable XML plist ({exc})", file=where) from None
    if not isinstance(values, dict):
        raise ConfigError(
            f"{where}: the plist's root is {type(values).__name__}, not a dictionary", file=where
        )
    return values


def _root_dict(data: bytes, where: str) -> _Node:
    """The root <dict> with every element under it, from expat's byte offsets."""
    parser = expat.ParserCreate()
    top: list[_Node] = []
    stack: list[_Node] = []

    def declaration(version: str, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower().replace("-", "") != "utf8":
            raise ConfigError(f"{where}: declares encoding {encoding!r}; expected UTF-8")

    def start(name: str, attributes: object) -> None:
        node = _Node(name, parser.CurrentByteIndex)
        (stack[-1].children if stack else top).append(node)
        stack.append(node)

    def end(name: str) -> None:
        node = stack.pop()
        index = parser.CurrentByteIndex
        tag_end = _tag_end(data, node.start)
        # <name/> has no end tag; expat may then point its end event at the tag after it
        # (`<dict/></plist>`), which must not be taken for this element's own.
        if data[tag_end - 2 : tag_end] == b"/>":
            node.end = tag_end
        else:
            node.close = index
            node.end = data.index(b">", index) + 1

    def characters(text: str) -> None:
        if stack:
            stack[-1].text.append(text)

    parser.XmlDeclHandler = declaration
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:  # plistlib read it, so this is not expected
        raise ConfigError(f"{where}: is not well-formed XML ({exc})", file=where) from None
    if len(top) != 1 or top[0].name != "plist" or [c.name for c in top[0].children] != ["dict"]:
        raise ConfigError(f"{where}: expected <plist> holding one <dict>", file=where)
    return top[0].children[0]


def _entries(root: _Node, where: str) -> dict[str, list[_Entry]]:
    children = root.children
    if len(children) % 2 or any(k.name != "key" for k in children[::2]):
        raise ConfigError(f"{where}: the root <dict> is not a list of <key>/value pairs")
    entries: dict[str, list[_Entry]] = {}
    for key, value in zip(children[::2], children[1::2], strict=True):
        entries.setdefault("".join(key.text), []).append(_Entry(key, value))
    return entries


def _single(entries: Mapping[str, list[_Entry]], key: str, where: str) -> _Entry | None:
    found = entries.get(key, [])
    if len(found) > 1:
        raise _cannot(where, key, f"it appears {len(found)} times")
    return found[0] if found else None


def _cannot(where: str, key: str, reason: str) -> ConfigError:
    return ConfigError(
        f"{where}: {key}: {reason}; nudge-build cannot edit it safely: fix it by hand (or delete "
        "the key) and run again",
        file=where,
    )


# -- writing ------------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mode_line(mode: str, where: str) -> str:
    return f"<string>{encode_plist_string(mode, where=f'{where}: {BACKGROUND_MODES_KEY}')}</string>"


def _tag_end(data: bytes, start: int) -> int:
    match = _START_TAG.match(data, start)
    if match is None:
        raise ValueError(f"no start tag at byte {start}")
    return match.end()


def _line_start(data: bytes, position: int) -> int:
    return data.rfind(b"\n", 0, position) + 1


def _line_indent(data: bytes, position: int) -> str | None:
    """The blanks before ``position`` on its line, or None when something else precedes it."""
    prefix = data[_line_start(data, position) : position]
    return prefix.decode("utf-8") if prefix.strip(b" \t") == b"" else None


def _root_indent(data: bytes, root: _Node) -> str:
    if root.children:
        found = _line_indent(data, root.children[0].start)
        if found is not None:
            return found
    return "\t"  # as Xcode indents


def _newline(data: bytes) -> str:
    return "\r\n" if b"\r\n" in data else "\n"


def _whole_lines(data: bytes, start: int, end: int) -> tuple[int, int]:
    """``start``-``end`` widened to whole lines when nothing else shares them."""
    line_start = _line_start(data, start)
    newline = data.find(b"\n", end)
    line_end = len(data) if newline < 0 else newline + 1
    if data[line_start:start].strip(b" \t") == b"" and data[end:line_end].strip() == b"":
        return line_start, line_end
    return start, end


def _append(
    data: bytes, container: _Node, lines: Sequence[str], indent: str, outer: str
) -> tuple[int, int, bytes]:
    """An edit adding ``lines`` as the last children of ``container`` (a dict or array)."""
    nl = _newline(data)
    body = "".join(f"{indent}{line}{nl}" for line in lines)
    if container.close is None:  # <array/>: it becomes <array> … </array>
        text = f"<{container.name}>{nl}{body}{outer}</{container.name}>"
        return container.start, container.end, text.encode("utf-8")
    if _line_indent(data, container.close) is not None:
        at = _line_start(data, container.close)
        return at, at, body.encode("utf-8")
    # The end tag shares its line with other content: add inline, as that file does.
    return container.close, container.close, "".join(lines).encode("utf-8")


def _splice(data: bytes, edits: list[tuple[int, int, bytes]], where: str) -> bytes:
    pieces: list[bytes] = []
    position = 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < position:
            raise ConfigError(f"{where}: nudge's keys overlap on one line; cannot edit it safely")
        pieces += [data[position:start], replacement]
        position = end
    pieces.append(data[position:])
    return b"".join(pieces)


def _verify(result: bytes, intended: Mapping[str, Any], where: str) -> None:
    """The edit must read back as exactly the intended dictionary, or it is not written."""
    try:
        values = plistlib.loads(result, fmt=plistlib.FMT_XML)
    except Exception as exc:  # as in _load
        raise ConfigError(
            f"{where}: the edited plist would not read back ({exc}); left unchanged", file=where
        ) from None
    if values != intended:
        raise ConfigError(
            f"{where}: the edited plist would not read back as intended; left unchanged",
            file=where,
        )
