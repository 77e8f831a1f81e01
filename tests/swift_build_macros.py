"""Xcode's build-setting expansion, re-implemented for tests from swift-build's published source.

Written from swiftlang/swift-build (Sources/SWBMacro, Sources/SWBCore, Sources/SWBTaskExecution)
and independent of ``nudge_build.readers``, so a test can check nudge-build's writers against
Xcode's rules rather than against nudge-build's own idea of them. Each rule names the file and
function it follows. What the tests never need (string-list semantics, most operators, macro
conditions) raises ``NotImplementedError`` instead of guessing.

Pipeline modelled:

* ``parse_xcconfig``: ``MacroConfigFileParser.parse`` / ``parseMacroValueAssignment`` /
  ``parseNonListAssignmentRHS`` (MacroConfigFileParser.swift).
* ``evaluate_string``: ``MacroNamespace.parseString`` -> ``MacroExpressionParser.parseAsString``
  (MacroExpressionParsing.swift) and ``MacroEvaluationProgram.executeInContext``
  (MacroEvaluationProgram.swift), for string-typed settings and Info.plist strings.
* ``generated_info_plist_value``: ``InfoPlistProcessorTaskAction.defaultInfoPlistContent`` takes
  an ``INFOPLIST_KEY_`` setting's evaluated value (``StringMacroDeclaration.propertyListValue``),
  merges it into the plist, and then ``PropertyListItem.byEvaluatingMacros``
  (SWBCore/MacroEvaluationExtensions.swift) expands every string of the plist once more.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

# -- InfoPlistProcessorTaskAction.swift: usageDescriptionStringKeys (location ones) -------------
# Only keys in that set (or generatedInfoPlistKeys) are read from INFOPLIST_KEY_<key>; any other
# INFOPLIST_KEY_ setting is ignored. Each also has a BuiltinMacros.declareStringMacro.
GENERATED_LOCATION_KEYS = frozenset(
    {
        "NSLocationAlwaysAndWhenInUseUsageDescription",
        "NSLocationAlwaysUsageDescription",
        "NSLocationUsageDescription",
        "NSLocationWhenInUseUsageDescription",
    }
)


# -- MacroConfigFileParser.swift ------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    name: str
    conditions: tuple[tuple[str, str], ...]
    value: str  # the raw right-hand side, before macro evaluation


def _is_ascii_space(char: str) -> bool:
    # UInt8.isASCIISpace at the top of the file: space, tab, VT, FF (not CR/LF).
    return char in " \t\v\f"


def _is_end_of_line(text: str, i: int) -> bool:
    # isAtEndOfLine: \n, \r, U+2028, U+2029 (matched on their UTF-8 bytes) or end of stream.
    return i >= len(text) or text[i] in "\n\r\u2028\u2029"


def _is_comment(text: str, i: int) -> bool:
    return text.startswith("//", i)  # isAtStartOfComment


def _skip_rest_of_line(text: str, i: int) -> int:
    while not _is_end_of_line(text, i):
        i += 1
    return i


def _skip_whitespace_and_comments(text: str, i: int) -> int:
    while i < len(text):
        if _is_ascii_space(text[i]):
            i += 1
        elif _is_comment(text, i):
            i = _skip_rest_of_line(text, i)
        else:
            break
    return i


def _scan_eol(text: str, i: int) -> int:
    if text.startswith("\r\n", i):
        return i + 2
    return i + 1 if i < len(text) and text[i] in "\n\r\u2028\u2029" else i


def _macro_name_first(char: str) -> bool:
    return char.isascii() and (char.isalpha() or char == "_")


def _macro_name_nth(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "._")


def _non_list_rhs(text: str, i: int) -> tuple[str | None, int]:
    """parseNonListAssignmentRHS: up to end of line or ``//``; trailing blanks and one ``;``
    (with the blanks before it) trimmed. None for an empty rest of line."""
    i = _skip_whitespace_and_comments(text, i)
    if _is_end_of_line(text, i):
        return None, i
    start = i
    while not (_is_end_of_line(text, i) or _is_comment(text, i)):
        i += 1
    end = i
    if _is_comment(text, i):
        i = _skip_rest_of_line(text, i)
    while end > start and _is_ascii_space(text[end - 1]):
        end -= 1
    if text[end - 1] == ";":
        end -= 1
        while end > start and _is_ascii_space(text[end - 1]):
            end -= 1
    return text[start:end], i


def parse_xcconfig(text: str) -> list[Assignment]:
    """MacroConfigFileParser.parse: assignments in order. ``#include`` lines are not followed;
    a line the parser reports as an error raises ValueError (Xcode shows it as a build error)."""
    found: list[Assignment] = []
    i = 0
    while i < len(text):
        i = _skip_whitespace_and_comments(text, i)
        if _is_end_of_line(text, i):
            pass
        elif text[i] == "#":
            i = _skip_rest_of_line(text, i)  # parsePreprocessorDirective: not modelled
        elif _macro_name_first(text[i]):
            assignment, i = _parse_assignment(text, i)
            found.append(assignment)
        else:
            raise ValueError(f"unexpected character {text[i]!r} at offset {i}")
        i = _scan_eol(text, i)
    return found


def _parse_assignment(text: str, i: int) -> tuple[Assignment, int]:
    """parseMacroValueAssignment."""
    start = i
    i += 1
    while i < len(text) and _macro_name_nth(text[i]):
        i += 1
    name = text[start:i]
    i = _skip_whitespace_and_comments(text, i)
    conditions: list[tuple[str, str]] = []
    while i < len(text) and text[i] == "[":
        close = text.find("]", i)
        if close < 0 or "=" not in text[i:close] or _is_end_of_line(text, close):
            raise ValueError(f"malformed condition in {name}")
        param, pattern = text[i + 1 : close].split("=", 1)
        conditions.append((param, pattern))
        i = _skip_whitespace_and_comments(text, close + 1)
    if i >= len(text) or text[i] != "=":
        raise ValueError(f"expected '=' after {name}")
    i += 1
    chunks: list[str] = []
    while True:
        chunk, i = _non_list_rhs(text, i)
        if chunk is None:
            break
        if chunk.endswith("\\"):
            # A trailing backslash continues the value on the next line (chunks joined by " ").
            trimmed = chunk[:-1].strip()
            if trimmed:
                chunks.append(trimmed)
            i = _scan_eol(text, i)
            continue
        chunks.append(chunk)
        break
    return Assignment(name, tuple(conditions), " ".join(chunks)), i


def settings_from_xcconfig(text: str) -> dict[str, str]:
    """Unconditional assignments, the later winning (as in one MacroValueAssignmentTable)."""
    settings: dict[str, str] = {}
    for assignment in parse_xcconfig(text):
        if assignment.conditions:
            raise NotImplementedError("conditional assignments")
        settings[assignment.name] = assignment.value
    return settings


# -- MacroExpressionParsing.swift: parseAsString ---------------------------------------------------


@dataclass
class _Literal:
    text: str


@dataclass
class _Operator:
    name: str
    operand: list[_Node] | None  # None: a retrieval operator; else a replacement's operand


@dataclass
class _Reference:
    name: list[_Node]
    bracketed: bool
    operators: list[_Operator] = field(default_factory=list)


_Node = _Literal | _Reference

_CLOSERS = {"(": ")", "{": "}", "[": "]"}  # getClosingDelimiter; '{' and '[' are deprecated
_OPERATOR_CHARS = re.compile(r"[A-Za-z0-9+\-._]*")  # isValidOperatorNameChar


class _Parser:
    """``MacroExpressionParser`` with string semantics (``parseAsString``). Diagnostics are
    dropped, as ``byEvaluatingMacros`` passes no diagnostics handler to ``parseString``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def char(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else None

    def parse(self) -> list[_Node]:
        nodes: list[_Node] = []
        while self.i < len(self.text):
            if self.text[self.i] == "$":
                nodes.append(self.substitution())
            else:
                end = self.text.find("$", self.i)
                end = len(self.text) if end < 0 else end
                nodes.append(_Literal(self.text[self.i : end]))
                self.i = end
        return nodes

    def substitution(self) -> _Node:
        """parseSubstitutionSubexpression, entered at the '$'."""
        self.i += 1
        nxt = self.char()
        if nxt is None:
            return _Literal("$")  # trailingDollarSign: an error, but kept as a literal '$'
        if nxt in _CLOSERS:
            return self.bracketed(_CLOSERS[nxt])
        if _macro_name_first(nxt):
            return self.unbracketed()
        if nxt == "$":
            self.i += 1  # "$$ is an escape for $"
        # Any other character after '$' (a digit, a space, ...): the '$' is literal and the
        # character is read as ordinary text afterwards.
        return _Literal("$")

    def bracketed(self, closer: str) -> _Node:
        self.i += 1  # the opening delimiter
        reference = _Reference(self.fragment(closer), bracketed=True)
        # unterminatedMacroSubexpression / missingMacroName are errors that still evaluate.
        while self.char() == ":":
            self.i += 1
            match = _OPERATOR_CHARS.match(self.text, self.i)
            assert match is not None
            name = match.group()
            self.i = match.end()
            stop = self.char()
            if stop is None:
                break  # unterminated: no operator is recorded
            if stop == ":" or stop == closer:
                if name:
                    reference.operators.append(_Operator(name, None))
            elif stop == "=":
                self.i += 1
                if name:
                    reference.operators.append(_Operator(name, self.fragment(closer)))
                else:
                    self.skip_to(":", closer)
            else:
                self.skip_to(":", closer)  # invalidOperatorCharacter: skipped, not literal
        if self.char() == closer:
            self.i += 1
        return reference

    def unbracketed(self) -> _Node:
        """The deprecated ``$NAME`` form: [A-Za-z_][A-Za-z0-9._]*, and a directly following
        ``$(`` continues the name (the rdar://12769727 hack)."""
        start = self.i
        self.i += 1
        while (c := self.char()) is not None and _macro_name_nth(c):
            self.i += 1
        name: list[_Node] = [_Literal(self.text[start : self.i])]
        if self.char() == "$" and self.char(1) == "(":
            name.append(self.substitution())
        return _Reference(name, bracketed=False)

    def fragment(self, closer: str) -> list[_Node]:
        """parseSubstitutionSubexpressionFragment: up to ':', the closer or the end."""
        nodes: list[_Node] = []
        while self.i < len(self.text):
            start = self.i
            while self.i < len(self.text) and self.text[self.i] not in ("$", ":", closer):
                self.i += 1
            if self.i > start:
                nodes.append(_Literal(self.text[start : self.i]))
            if self.char() != "$":
                break
            nodes.append(self.substitution())
        return nodes

    def skip_to(self, *stops: str) -> None:
        while (c := self.char()) is not None and c not in stops:
            self.i += 1


# -- MacroEvaluationProgram.swift: evaluation -----------------------------------------------------


def _rfc1034(value: str) -> str:
    """String.asLegalRfc1034Identifier (SWBUtil/String.swift): letters, digits after the first
    character and '-' stay, everything else becomes '-'. Swift walks grapheme clusters of the
    NFD form; modelled for ASCII only."""
    if not value.isascii():
        raise NotImplementedError("rfc1034identifier of non-ASCII text")
    out = []
    for index, char in enumerate(unicodedata.normalize("NFD", value)):
        keep = char.isalpha() or char == "-" or (char.isdigit() and index > 0)
        out.append(char if keep else "-")
    return "".join(out)


# MacroEvaluationRetrievalOperator.apply (the ones the tests use).
_RETRIEVAL = {"upper": str.upper, "lower": str.lower, "rfc1034identifier": _rfc1034}
_KNOWN_RETRIEVAL = {
    "quote", "upper", "lower", "identifier", "rfc1034identifier", "c99extidentifier", "__md5",
    "__stripslash", "dir", "file", "base", "suffix", "standardizepath", "not", "truncatedversion",
}  # fmt: skip
_KNOWN_REPLACEMENT = {"dir", "file", "base", "suffix", "relativeto", "isancestor", "default"}


def evaluate_string(text: str, settings: Mapping[str, str], *, _depth: int = 0) -> str:
    """What Xcode makes of ``text`` as a string-typed setting value or an Info.plist string.

    ``settings`` maps names to raw (unevaluated) values; each is parsed with string semantics,
    which is how a built-in string setting or an environment variable is parsed.
    """
    if _depth > 50:
        raise RecursionError("setting refers to itself")
    if "$" not in text:
        return text  # MacroNamespace.parseString fast path: a literal
    return _evaluate(_Parser(text).parse(), settings, _depth) or ""


def _evaluate(nodes: list[_Node], settings: Mapping[str, str], depth: int) -> str | None:
    """The text of ``nodes``; None when nothing at all was appended (hasHadAnyTextAppended)."""
    parts: list[str] = []
    appended = False
    for node in nodes:
        piece = node.text if isinstance(node, _Literal) else _reference(node, settings, depth)
        if piece is not None:
            parts.append(piece)
            appended = True
    return "".join(parts) if appended else None


def _reference(node: _Reference, settings: Mapping[str, str], depth: int) -> str | None:
    name = _evaluate(node.name, settings, depth) or ""
    value: str | None
    if name in ("inherited", "value"):
        raise NotImplementedError(f"$({name})")
    if name and name in settings:  # lookupMacroInContext; an empty name matches nothing
        value = evaluate_string(settings[name], settings, _depth=depth + 1)
    elif not node.bracketed:
        value = "$" + name  # evalNamedMacro(preserveOriginalIfUnresolved: true)
    else:
        value = None  # unknown, or known without a value: nothing (or "") is appended
    for operator in node.operators:
        value = _apply(operator, value, settings, depth)
    return value


def _apply(
    operator: _Operator, value: str | None, settings: Mapping[str, str], depth: int
) -> str | None:
    if operator.operand is None:
        if operator.name not in _KNOWN_RETRIEVAL:
            return value  # unknownRetrievalOperator: no instruction is emitted
        if operator.name not in _RETRIEVAL:
            raise NotImplementedError(f"retrieval operator {operator.name}")
        return None if value is None else _RETRIEVAL[operator.name](value)
    if operator.name not in _KNOWN_REPLACEMENT:
        return value  # unknownReplacementOperator: the operand is discarded
    if operator.name != "default":
        raise NotImplementedError(f"replacement operator {operator.name}")
    operand = _evaluate(operator.operand, settings, depth) or ""
    return operand if not value else value  # applyToEmptyResult; "" counts as empty


# -- What the app finally carries ----------------------------------------------------------------


def info_plist_value(plist_string: str, settings: Mapping[str, str]) -> str:
    """An Info.plist string after Xcode's processing with INFOPLIST_EXPAND_BUILD_SETTINGS=YES."""
    return evaluate_string(plist_string, settings)


def generated_info_plist_value(key: str, settings: Mapping[str, str]) -> str:
    """What ``INFOPLIST_KEY_<key>`` puts into a generated Info.plist: evaluated as a string
    setting, then expanded again with the rest of the plist."""
    if key not in GENERATED_LOCATION_KEYS:
        raise KeyError(f"Xcode does not generate {key} from INFOPLIST_KEY_{key}")
    setting = f"INFOPLIST_KEY_{key}"
    return info_plist_value(evaluate_string(settings[setting], settings), settings)
