"""An HTTP answer's body, read within bounds: size while reading, nesting before decoding.

Both caps exist so that what a server sends cannot decide how much memory or stack the run
uses. The size counts decoded bytes, and decoding inflates at most ``_CHUNK`` bytes at a time,
so a small gzip answer that would inflate to a gigabyte is refused after the cap, not after
the gigabyte. The nesting depth is found by a scan that does not recurse, before ``json.loads``
(which does): an answer nested deeper than ``MAX_DEPTH`` never reaches the decoder, nor
anything after it that walks the data recursively (the lockfile writer among them).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

# httpx only for the API client: the lockfile reader imports MAX_DEPTH from here, and `render`
# and `check` do not pay for importing httpx.
if TYPE_CHECKING:
    import httpx

# Deep enough for any organization (the contract's is 3 levels); shallow enough that every
# recursive walk of the data, tomli-w's included (it fails near 150 levels of arrays of
# tables), has its stack to spare.
MAX_DEPTH = 64
# What the run asks for; anything else a server sends is refused rather than decoded by a
# decoder whose output we cannot bound.
ACCEPT_ENCODING = "gzip, deflate"
_CHUNK = 64 * 1024  # the most a decoder inflates per step
_MAX_CODINGS = 4  # gzip over gzip is legal, if odd; a thousand layers are an attack
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class AnswerRefused(Exception):
    """The answer breaks a cap or cannot be decoded; the message says which, without quoting."""


async def read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, or AnswerRefused once it is larger than ``max_bytes``.

    Read from the raw stream: httpx's own decoders inflate a whole network chunk at once."""
    too_large = AnswerRefused(
        f"answer larger than {max_bytes} bytes ([api].max_response_bytes); not reading the rest"
    )
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise too_large
    decoders = _decoders(response.headers.get_list("Content-Encoding", split_commas=True))
    parts: list[bytes] = []
    raw = size = 0
    async for chunk in response.aiter_raw():
        raw += len(chunk)
        if raw > max_bytes:  # also bounds data after a compressed stream's end
            raise too_large
        for piece in _decode(decoders, chunk):
            size += len(piece)
            if size > max_bytes:
                raise too_large
            parts.append(piece)
    return b"".join(parts)


def decode_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for a body whose depth has been checked first.

    ValueError when it is not JSON; AnswerRefused when it is nested too deep."""
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    if nested_deeper(text, max_depth):
        raise AnswerRefused(f"answer nested deeper than {max_depth} levels; not decoding it")
    return json.loads(text)


def nested_deeper(text: str, limit: int) -> bool:
    """Whether JSON ``text`` opens more than ``limit`` arrays/objects inside one another.

    Brackets inside strings do not count (an unterminated string runs to the end). Malformed
    text gets an answer too; ``json.loads`` then says what is wrong with it."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    depth = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class _Inflater:
    """One content coding, inflated at most ``_CHUNK`` bytes per step."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._inflater: Any = None  # zlib's decompress object, made on the first bytes

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            if not data:
                return
            self._inflater = zlib.decompressobj(self._wbits(data))
        inflater = self._inflater
        while not inflater.eof:
            try:
                out = inflater.decompress(data, _CHUNK)
            except zlib.error:
                import httpx

                raise httpx.DecodingError(f"the {self._coding} body does not decode") from None
            if out:
                yield out
            data = inflater.unconsumed_tail
            if not data and len(out) < _CHUNK:
                return  # all input taken and nothing left pending

    def _wbits(self, first: bytes) -> int:
        if self._coding == "gzip":
            return 16 + zlib.MAX_WBITS
        # "deflate" means the zlib format (RFC 9110 8.4.1.2); some servers send raw deflate.
        if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
            return zlib.MAX_WBITS
        return -zlib.MAX_WBITS


def _decoders(codings: list[str]) -> list[_Inflater]:
    """The decoders for a Content-Encoding list, in the order they are to be applied."""
    codings = [c.strip().lower() for c in codings]
    if len(codings) > _MAX_CODINGS:
        raise AnswerRefused(f"answer with more than {_MAX_CODINGS} content encodings")
    decoders = []
    for coding in reversed(codings):
        if coding in ("", "identity"):
            continue
        if coding in ("gzip", "x-gzip"):
            decoders.append(_Inflater("gzip"))
        elif coding == "deflate":
            decoders.append(_Inflater("deflate"))
        else:
            shown = re.sub(r"[^a-z0-9_.+-]", "?", coding[:20])
            raise AnswerRefused(f"answer in a content encoding that was not asked for ({shown})")
    return decoders


def _decode(decoders: list[_Inflater], chunk: bytes) -> Iterator[bytes]:
    """``chunk`` through every decoder, each step bounded, so no stage holds much at once."""
    if not decoders:
        yield chunk
        return
    first, rest = decoders[0], decoders[1:]
    for piece in first.feed(chunk):
        yield from _decode(rest, piece)
