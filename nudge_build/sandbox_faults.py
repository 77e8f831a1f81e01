"""The sandbox's transport: scripted answers and how they are put on the wire.

An :class:`Answer` is pure data saying how a request is answered: normally, with an error
status, with a broken body, or by misbehaving at the TCP level (resets, delays, hangs,
trickles). :class:`AnswerHandler` is the HTTP/1.1 keep-alive request handler that carries any
answer out; :mod:`nudge_build.sandbox` builds the nudge API's endpoints on top of it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import selectors
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypedDict, get_args
from urllib.parse import urlsplit

from nudge_build import __version__
from nudge_build.errors import ConfigError

log = logging.getLogger("nudge_build.sandbox")
# How often an idle foreground sandbox looks for a signal that arrived on another thread.
_SIGNAL_POLL_S = 0.25

Kind: TypeAlias = Literal[
    "ok",
    "status",
    "reset_before",
    "reset_during",
    "close",
    "delay",
    "hang",
    "trickle",
    "malformed",
    "without",
    "replace",
]
KINDS: tuple[str, ...] = get_args(Kind)
# The JSON keys each kind takes besides "kind"; anything else is a typo worth reporting.
_KEYS: dict[str, tuple[str, ...]] = {
    "status": ("status", "retry_after", "body"),
    "delay": ("seconds",),
    "trickle": ("interval_s",),
    "malformed": ("text",),
    "without": ("path",),
    "replace": ("path", "value"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "delay": ("seconds",),
    "without": ("path",),
    "replace": ("path", "value"),
}


@dataclass(frozen=True)
class Answer:
    """One scripted answer; build it with the classmethods, which validate."""

    kind: Kind = "ok"
    code: int = 200
    retry_after: str | None = None
    body: Mapping[str, Any] | None = None
    seconds: float = 0.0
    interval_s: float = 0.5
    text: str | None = None
    path: str | None = None
    value: Any = None

    @classmethod
    def ok(cls) -> Answer:
        return cls()

    @classmethod
    def status(
        cls, code: int, retry_after: str | None = None, body: Mapping[str, Any] | None = None
    ) -> Answer:
        """Answer with ``code`` (e.g. 429, 503), an optional ``Retry-After`` and JSON body."""
        if isinstance(code, bool) or not isinstance(code, int) or not 200 <= code <= 599:
            raise ValueError(f"status must be an integer from 200 to 599, got {code!r}")
        # A line break would let a script inject headers.
        if retry_after is not None and (
            not isinstance(retry_after, str) or not retry_after.strip() or _multiline(retry_after)
        ):
            raise ValueError("retry_after must be a non-empty single-line string")
        if body is not None and not isinstance(body, Mapping):
            raise ValueError("body must be a JSON object")
        return cls(kind="status", code=code, retry_after=retry_after, body=body)

    @classmethod
    def reset_before(cls) -> Answer:
        """Close the connection with a TCP reset instead of answering."""
        return cls(kind="reset_before")

    @classmethod
    def close(cls) -> Answer:
        """Close the connection (FIN) without answering, as a server or proxy does when it
        drops a keep-alive connection just as a request arrives."""
        return cls(kind="close")

    @classmethod
    def reset_during(cls) -> Answer:
        """Send the head (with the full Content-Length) and half the body, then reset."""
        return cls(kind="reset_during")

    @classmethod
    def delay(cls, seconds: float) -> Answer:
        return cls(kind="delay", seconds=_number(seconds, "seconds", allow_zero=True))

    @classmethod
    def hang(cls) -> Answer:
        """Never answer; the connection is released only when the sandbox stops."""
        return cls(kind="hang")

    @classmethod
    def trickle(cls, interval_s: float = 0.5) -> Answer:
        """Send the head at once, then the normal body one byte every ``interval_s``."""
        return cls(kind="trickle", interval_s=_number(interval_s, "interval_s", allow_zero=False))

    @classmethod
    def malformed(cls, text: str | None = None) -> Answer:
        """200 with a body that is not JSON: ``text``, or by default the first half of the
        normal body, which is what a cut-off response looks like to a parser."""
        if text is not None and not isinstance(text, str):
            raise ValueError("text must be a string")
        return cls(kind="malformed", text=text)

    @classmethod
    def without(cls, path: str) -> Answer:
        """200 with the normal JSON object minus the field at a dotted path."""
        return cls(kind="without", path=_dotted(path))

    @classmethod
    def replace(cls, path: str, value: Any) -> Answer:
        """200 with the field at a dotted path set to ``value`` (created if missing)."""
        return cls(kind="replace", path=_dotted(path), value=value)

    @classmethod
    def from_json(cls, data: object) -> Answer:
        """Parse the JSON form: ``{"kind": ...}``, a parameterless kind name, or a status code."""
        if isinstance(data, int) and not isinstance(data, bool):
            return cls.status(data)
        if isinstance(data, str):
            if data.isdigit():
                return cls.status(int(data))
            data = {"kind": data}
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an answer object, got {json.dumps(data)}")
        return _from_mapping(data)

    def to_json(self) -> dict[str, Any]:
        """The dict form that :meth:`from_json` reads (for the admin endpoints)."""
        values = {
            "status": self.code,
            "retry_after": self.retry_after,
            "body": self.body,
            "seconds": self.seconds,
            "interval_s": self.interval_s,
            "text": self.text,
            "path": self.path,
        }
        fields = {key: values.get(key, self.value) for key in _KEYS.get(self.kind, ())}
        # A replacement value of null is meaningful; the other keys are omitted when unset.
        return {
            "kind": self.kind,
            **{k: v for k, v in fields.items() if v is not None or k == "value"},
        }


AnswerLike: TypeAlias = Answer | Mapping[str, Any] | str | int


def coerce_answers(answers: Iterable[AnswerLike]) -> list[Answer]:
    """Accept answers as :class:`Answer`, dict or short string; errors name the position."""
    if isinstance(answers, str | bytes | Mapping) or not isinstance(answers, Iterable):
        raise ValueError("expected a list of answers")
    parsed: list[Answer] = []
    for number, item in enumerate(answers, start=1):
        try:
            parsed.append(item if isinstance(item, Answer) else Answer.from_json(item))
        except ValueError as exc:
            raise ValueError(f"answer {number}: {exc}") from None
    return parsed


def _from_mapping(data: Mapping[str, Any]) -> Answer:
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f'"kind" must be one of {", ".join(KINDS)}, got {json.dumps(kind)}')
    unknown = sorted(set(data) - {"kind", *_KEYS.get(kind, ())})
    if unknown:
        raise ValueError(f'unknown key "{unknown[0]}" for kind "{kind}"')
    missing = [key for key in _REQUIRED.get(kind, ()) if key not in data]
    if missing:
        raise ValueError(f'kind "{kind}" needs "{missing[0]}"')
    if kind == "status":
        retry_after: Any = data.get("retry_after")
        # JSON writers naturally spell a number of seconds as a number.
        if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
            retry_after = f"{retry_after:g}"
        return Answer.status(data["status"], retry_after, data.get("body"))
    factories: dict[str, Callable[[], Answer]] = {
        "delay": lambda: Answer.delay(data["seconds"]),
        "trickle": lambda: Answer.trickle(data.get("interval_s", 0.5)),
        "malformed": lambda: Answer.malformed(data.get("text")),
        "without": lambda: Answer.without(data["path"]),
        "replace": lambda: Answer.replace(data["path"], data["value"]),
    }
    return factories.get(kind, lambda: Answer(kind=kind))()


def _number(value: object, name: str, *, allow_zero: bool) -> float:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    # "not >=" also refuses NaN.
    if number is None or not number >= 0 or (number == 0 and not allow_zero):
        raise ValueError(f"{name} must be a number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return float(number)


def _dotted(path: object) -> str:
    if not isinstance(path, str) or not all(path.split(".")):
        raise ValueError(f'path must be dotted field names like "features.x", got {path!r}')
    return path


def _multiline(text: str) -> bool:
    return "\r" in text or "\n" in text


@dataclass(frozen=True)
class Reply:
    """A complete HTTP answer; ``payload`` is the JSON value behind ``body`` when there is one."""

    status: int
    body: bytes
    payload: Any = None
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, payload, headers)


def error_reply(
    status: int,
    error: str,
    description: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    payload = {"error": error}
    if description is not None:
        payload["error_description"] = description
    return json_reply(status, payload, headers)


def shape_reply(answer: Answer, normal: Callable[[], Reply]) -> Reply:
    """The reply ``answer`` asks for; ``normal`` is called only when the answer needs it, so a
    scripted failure has no side effects such as issuing a token."""
    if answer.kind == "status":
        headers = () if answer.retry_after is None else (("Retry-After", answer.retry_after),)
        payload = answer.body if answer.body is not None else {"error": _error_name(answer.code)}
        return json_reply(answer.code, dict(payload), headers)
    reply = normal()
    if answer.kind == "malformed":
        text = reply.body[: len(reply.body) // 2] if answer.text is None else answer.text.encode()
        return Reply(200, text, None, reply.headers)
    # Field edits model a wrong organization, so they leave error answers (e.g. a 404) alone.
    editable = reply.status == 200 and isinstance(reply.payload, dict)
    if answer.kind in ("without", "replace") and editable and answer.path is not None:
        edited = copy.deepcopy(reply.payload)
        _edit(edited, answer.path.split("."), answer.kind == "replace", answer.value)
        return json_reply(200, edited, reply.headers)
    return reply


def _error_name(code: int) -> str:
    try:
        return HTTPStatus(code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _edit(target: dict[str, Any], keys: list[str], replace: bool, value: Any) -> None:
    for key in keys[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            if not replace:
                return  # nothing at that path to remove
            child = target[key] = {}
        target = child
    if replace:
        target[keys[-1]] = copy.deepcopy(value)
    else:
        target.pop(keys[-1], None)


class Refusal(Exception):
    """Raised inside a handler to answer with ``reply`` at once."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def bad_request(description: str) -> Refusal:
    return Refusal(error_reply(400, "invalid_request", description))


class AnswerServer(ThreadingHTTPServer):
    """A threaded HTTP server whose handlers can all be released at once when it stops."""

    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 drops bursts of concurrent connects
    timeout = 0.0  # handle_request() must not block: serve_until_stopped() waits instead

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[AnswerHandler],
        family: socket.AddressFamily,
    ) -> None:
        self.address_family = family
        self.stopping = threading.Event()
        self._handlers: set[AnswerHandler] = set()
        self._handlers_lock = threading.Lock()
        # Written to by stop_serving() so that the accept loop wakes at once; BaseServer's
        # serve_forever would only notice a shutdown after its poll interval. Created first:
        # a failed bind calls server_close(), which closes them.
        self._wake_reader, self._wake_writer = socket.socketpair()
        super().__init__(address, handler)

    def serve_until_stopped(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self.stopping.is_set():
                # A timeout, so a Ctrl-C or SIGTERM that the kernel delivered to a handler
                # thread still reaches the main thread's Python handler: that thread's C handler
                # only flags the signal, and a select() with no timeout would never return.
                ready = selector.select(timeout=_SIGNAL_POLL_S)
                if any(key.fileobj is self for key, _ in ready):
                    self.handle_request()

    def stop_serving(self) -> None:
        """End serve_until_stopped() and every pause() in the handlers."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall startup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer is routine here (resets, timeouts): no traceback.
        log.debug("error while serving %s", client_address, exc_info=True)

    def track(self, handler: AnswerHandler, *, add: bool) -> None:
        with self._handlers_lock:
            (self._handlers.add if add else self._handlers.discard)(handler)

    def release_handlers(self, timeout: float) -> None:
        """Wake handlers blocked on idle keep-alive reads or slow sends, and wait for them.

        Call after stop_serving(), which ends delays, hangs and trickles."""
        with self._handlers_lock:
            handlers = list(self._handlers)
        for handler in handlers:
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for handler in handlers:
            handler.thread.join(max(0.0, deadline - time.monotonic()))


class AnswerHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler with exact Content-Length; subclasses implement ``route``."""

    protocol_version = "HTTP/1.1"
    server_version = f"nudge-sandbox/{__version__}"
    sys_version = ""
    disable_nagle_algorithm = True  # StreamRequestHandler then sets TCP_NODELAY
    max_body_bytes = 1 << 20
    server: AnswerServer
    method = ""

    def route(self, path: str, body: bytes) -> None:
        raise NotImplementedError

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.thread = threading.current_thread()
        self.server.track(self, add=True)
        # Accepted just before a stop: release_handlers() may have missed it, so let go now.
        if self.server.stopping.is_set():
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self, add=False)

    def parse_request(self) -> bool:
        # Route every verb through do_DISPATCH so that any method, even an unknown one, gets a
        # JSON 405 from route() instead of http.server's HTML 501.
        if not super().parse_request():
            return False
        self.method, self.command = self.command, "DISPATCH"
        return True

    def do_DISPATCH(self) -> None:
        try:
            self.route(urlsplit(self.path).path, self._read_body())
        except Refusal as refusal:
            self.send_reply(refusal.reply)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines and headers, reported by http.server: answer in JSON too."""
        self.close_connection = True
        self.send_reply(error_reply(code, "invalid_request", message or HTTPStatus(code).phrase))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True  # we could not tell where that body ends
            raise Refusal(error_reply(411, "invalid_request", "send a Content-Length"))
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= self.max_body_bytes:
            self.close_connection = True
            raise bad_request(f"Content-Length must be from 0 to {self.max_body_bytes}")
        return self.rfile.read(length)

    def _head(self, reply: Reply) -> bytes:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(reply.body)}",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_reply(self, reply: Reply) -> None:
        # One write per response: with TCP_NODELAY, two writes would be two packets.
        head = self._head(reply)
        self.wfile.write(head if self.method == "HEAD" else head + reply.body)
        log.debug("%s %s -> %d", self.method or "-", self.path, reply.status)

    def pause(self, seconds: float | None) -> bool:
        """Sleep (None: until the server stops) unless the server stops first; False (and drop
        the connection) if it did."""
        if (seconds is None or seconds > 0) and self.server.stopping.wait(seconds):
            self.close_connection = True
            return False
        return True

    def deliver(self, answer: Answer, normal: Callable[[], Reply]) -> None:
        """Answer as ``answer`` says; ``normal`` builds the endpoint's normal reply."""
        if answer.kind == "reset_before":
            self._reset()
            return
        if answer.kind == "close":
            self.close_connection = True
            return
        if answer.kind == "hang":
            self.pause(None)
            return
        if answer.kind == "delay" and not self.pause(answer.seconds):
            return
        reply = shape_reply(answer, normal)
        if answer.kind == "reset_during":
            self.wfile.write(self._head(reply) + reply.body[: len(reply.body) // 2])
            self._reset()
        elif answer.kind == "trickle":
            self.wfile.write(self._head(reply))
            for index in range(len(reply.body)):
                if not self.pause(answer.interval_s):
                    return
                self.wfile.write(reply.body[index : index + 1])
        else:
            self.send_reply(reply)

    def _reset(self) -> None:
        self.close_connection = True
        # A zero linger time makes close() send a RST instead of a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # makefile() holds a reference that would keep the socket open
        self.connection.close()


class Faults(TypedDict):
    organizations: dict[str, list[Answer]]
    token: list[Answer]


def load_faults(path: str | os.PathLike[str]) -> Faults:
    """Read ``{"organizations": {apiKey: [answers]}, "token": [answers]}``; both keys optional.

    Errors name the file and the entry by position, not by API key, since keys may be secret.
    """
    name = os.fspath(path)
    data = read_json_file(name)
    if not isinstance(data, dict) or not set(data) <= {"organizations", "token"}:
        raise ConfigError(
            f'{name}: expected a JSON object with "organizations" and/or "token"', file=name
        )
    organizations = data.get("organizations", {})
    if not isinstance(organizations, dict):
        raise ConfigError(f'{name}: "organizations" must map apiKey to answers', file=name)
    faults: Faults = {
        "organizations": {},
        "token": _answers(name, '"token"', data.get("token", [])),
    }
    for position, (key, answers) in enumerate(organizations.items(), start=1):
        where = f'"organizations" entry {position}'
        if not key:
            raise ConfigError(f"{name}: {where}: the apiKey must not be empty", file=name)
        faults["organizations"][key] = _answers(name, where, answers)
    return faults


def _answers(name: str, where: str, answers: Any) -> list[Answer]:
    try:
        return coerce_answers(answers)
    except ValueError as exc:
        raise ConfigError(f"{name}: {where}: {exc}", file=name) from None


def read_json_file(name: str) -> object:
    """Parse a JSON file, turning every failure into a ConfigError that names the file."""
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}", file=name) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not UTF-8 text", file=name) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name}: not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})",
            file=name,
            line=exc.lineno,
        ) from None
