"""nudge's keys as one marked block inside the partner's own ``.env``.

react-native-config reads exactly one env file, so nudge's keys go into the file the app already
reads rather than a file of their own::

    API_URL=https://api.example.com        <- the partner's lines, never touched
    # >>> nudge-build >>>
    NUDGE_ENABLED=true                     <- nudge's, rewritten on every build
    # <<< nudge-build <<<

Values are spelled by ``formats.encode("env", …)``, so the npm ``dotenv`` parser and
react-native-config's iOS and Android readers all read them back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NoReturn

from nudge_build.errors import ConfigError
from nudge_build.formats import ValueRefused, encode

BEGIN = b"# >>> nudge-build >>>"
END = b"# <<< nudge-build <<<"

# A key every reader accepts: ReadDotEnv.rb takes [[:alnum:]_], dotenv.gradle and dotenv also
# '.' and '-', and the generated BuildConfig field needs a Java identifier.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A line that some reader takes as setting KEY (dotenv also accepts "KEY: value").
_DEFINES = re.compile(rb"[ \t\f\v]*(?:export[ \t]+)?([A-Za-z0-9_.\-]+)[ \t]*(?:=|:[ \t])")


def merge_dotenv(data: bytes | None, entries: Sequence[tuple[str, str]], *, where: str) -> bytes:
    """The partner's ``.env`` (``None``: no file yet) with nudge's block holding ``entries``.

    ``entries`` are (KEY, value) pairs with values as the app should read them (not yet spelled
    for the file). An existing block is replaced where it stands; otherwise the block is
    appended. Every line outside the block comes back byte for byte, the block uses the file's
    line endings, and a file that already holds this block comes back identical.
    Raises ConfigError naming ``where`` for a damaged block, a value no ``.env`` spelling can
    carry, or a nudge key that the partner's own lines also set.
    """
    data = data or b""
    _check_text(data, where)
    lines = _split_lines(data)
    span = _find_block(lines, where)
    newline = _newline_of(lines)
    body = _block_lines(entries, newline, where)

    keys = {key for key, _ in entries}
    for number, line in enumerate(lines, start=1):
        if span is not None and span[0] <= number - 1 <= span[1]:
            continue
        match = _DEFINES.match(line)
        if match and match[1].decode() in keys:
            key = match[1].decode()
            raise ConfigError(
                f"{where}:{number}: {key} is set here and in the nudge-build block; which one "
                "the app gets depends on the reader (dotenv, react-native-config on iOS or "
                f"Android), so remove this line and let nudge-build write {key}",
                file=where,
                line=number,
            )

    if span is None:
        prefix = b"".join(lines)
        if prefix and not prefix.endswith(b"\n"):
            prefix += newline
        return prefix + BEGIN + newline + body + END + newline
    first, last = span
    # The closing marker keeps its own ending (none at the end of a file without one).
    end_line = lines[last]
    ending = end_line[len(end_line.rstrip(b"\r\n")) :]
    block = BEGIN + newline + body + END + ending
    return b"".join(lines[:first]) + block + b"".join(lines[last + 1 :])


def dotenv_part(data: bytes, *, where: str = ".env") -> bytes:
    """The lines between the markers, line endings as LF: what nudge owns in the file (the
    lockfile's digest for ``check``; a CRLF<->LF conversion of the file is not a hand edit).
    ``b""`` when the file has no block."""
    lines = _split_lines(data)
    span = _find_block(lines, where)
    if span is None:
        return b""
    inner = lines[span[0] + 1 : span[1]]
    return b"".join(line.rstrip(b"\r\n") + b"\n" for line in inner)


def _check_text(data: bytes, where: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # ReadDotEnv.rb reads the file as UTF-8 and fails the iOS build on anything else.
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{where}:{line}: is not UTF-8 text ({exc.reason})", file=where, line=line
        ) from None


def _split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings; every reader involved splits on LF only."""
    return re.findall(rb"[^\n]*\n|[^\n]+", data)


def _is_marker(line: bytes, marker: bytes) -> bool:
    return line.strip() == marker


def _find_block(lines: Sequence[bytes], where: str) -> tuple[int, int] | None:
    """Indexes of the begin and end marker lines, or None; any other arrangement is an error."""
    begin, end = BEGIN.decode(), END.decode()
    opened: int | None = None
    span: tuple[int, int] | None = None
    for index, line in enumerate(lines):
        if _is_marker(line, BEGIN):
            if opened is not None:
                _damaged(where, index + 1, f"the block opened at line {opened + 1} is not closed")
            if span is not None:
                first = span[0] + 1
                _damaged(
                    where, index + 1, f"a second block starts here (the first at line {first})"
                )
            opened = index
        elif _is_marker(line, END):
            if opened is None:
                _damaged(where, index + 1, f"'{end}' comes before any '{begin}'")
            span = (opened, index)
            opened = None
    if opened is not None:
        _damaged(where, opened + 1, f"the block opened here is never closed by '{end}'")
    return span


def _damaged(where: str, line: int, problem: str) -> NoReturn:
    raise ConfigError(
        f"{where}:{line}: {problem}; nudge-build keeps its keys in one block, from "
        f"'{BEGIN.decode()}' to '{END.decode()}'. Fix or remove the markers and run again",
        file=where,
        line=line,
    )


def _newline_of(lines: Sequence[bytes]) -> bytes:
    """The file's line ending, from its first ended line (LF for a new or one-line file)."""
    for line in lines:
        if line.endswith(b"\n"):
            return b"\r\n" if line.endswith(b"\r\n") else b"\n"
    return b"\n"


def _block_lines(entries: Sequence[tuple[str, str]], newline: bytes, where: str) -> bytes:
    seen: set[str] = set()
    out: list[bytes] = []
    for key, value in entries:
        if not _KEY.fullmatch(key):
            raise ConfigError(
                f"{where}: {key!r} cannot be a .env key for react-native-config "
                "(letters, digits and '_', not starting with a digit)",
                file=where,
            )
        if key in seen:
            raise ConfigError(f"{where}: nudge-build would write {key} twice", file=where)
        seen.add(key)
        try:
            spelled = encode("env", value)
        except ValueRefused as exc:
            raise ConfigError(f"{where}: {key} {exc}", file=where) from None
        if newline == b"\r\n" and spelled[:1] in ("'", '"'):
            # ReadDotEnv.rb splits on LF only, and its pattern then ends a quoted value at the
            # CR: it reads the closing quote as part of the value.
            raise ConfigError(
                f"{where}: has CRLF line endings, and {key}'s value needs quotes, which "
                "react-native-config's iOS reader misreads on a CRLF line (it keeps the closing "
                "quote); convert the file to LF line endings",
                file=where,
            )
        out.append(f"{key}={spelled}".encode() + newline)
    return b"".join(out)
