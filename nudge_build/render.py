"""Jinja rendering with per-format value encoding and validation of every output.

Every ``{{ value }}`` passes through ``finalize``, which encodes it for the target file's format
(XML, JSON, Java properties, xcconfig …; chosen by the target's extension). Organization data is
only ever such a value: it is never compiled as a template. After rendering, each file is parsed
back with its format's reader before anything is written.

Templates are partner code run beside the client secret: they render in the sandbox of
:mod:`nudge_build.jinja_sandbox` (no Python internals, environment or files; bounded sizes).
"""

from __future__ import annotations

import contextvars
import functools
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.nodes import EvalContext
from markupsafe import Markup

from nudge_build import formats
from nudge_build.errors import RenderError
from nudge_build.jinja_sandbox import LimitedSandbox
from nudge_build.org import Sourced

# The format of the file being rendered. Not a template variable: a macro from an
# `{% import %}`ed template runs without the caller's context and would lose it, and its values
# would then go out unencoded.
_current_format: contextvars.ContextVar[str] = contextvars.ContextVar("nudge_format")


@dataclass(frozen=True)
class RenderTarget:
    template: str  # loader name
    path: str  # output-root-relative, client already filled in


class _ValueRefused(Exception):
    """Carries a refused value out of the template, so the caller can add the template line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _finalize(value: object) -> object:
    # Markup is already in the output's syntax: macro output, |safe, |tojson.
    if isinstance(value, Markup):
        return value
    if isinstance(value, jinja2.Undefined):
        # finalize sees the Undefined before Jinja stringifies it: raise its own error.
        value._fail_with_undefined_error()
    fmt = _current_format.get()
    try:
        return Markup(formats.encode(fmt, value))
    except formats.ValueRefused as exc:
        field = value.field if isinstance(value, Sourced) else "a value"
        raise _ValueRefused(f"{field} {exc}") from None


def _run_finalize() -> Callable[[EvalContext, object], object]:
    """``_finalize`` for one environment (one run), keeping what it made of plain values.

    Plain strings and booleans (the platform table's keys, permissions and modes, flag values)
    recur in every client's files, and their encoding depends on nothing but format and value:
    each is encoded once per run. Organization strings (``Sourced``) differ per client and are
    encoded each time; a refused value raises every time, naming its field.

    It takes the evaluation context (unused) only so that Jinja calls it while rendering:
    a plain finalize lets Jinja fold a constant (``{{ "it's & co" }}``) at compile time, where
    autoescape HTML-escapes it first and the encoder then takes it for finished output."""
    kept: dict[tuple[str, object], object] = {}

    @jinja2.pass_eval_context
    def finalize(eval_ctx: EvalContext, value: object) -> object:
        if type(value) is not str and type(value) is not bool:  # subclasses: Sourced, Markup
            return _finalize(value)
        key = (_current_format.get(), value)
        encoded = kept.get(key)
        if encoded is None:
            encoded = kept[key] = _finalize(value)
        return encoded

    return finalize


def make_environment(search_dirs: Sequence[Path]) -> Environment:
    """The one Jinja environment: sandboxed, strict, stable output, encoding per target format."""
    env = LimitedSandbox(
        loader=FileSystemLoader([str(d) for d in search_dirs]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        # On so that macro and |safe output arrive at finalize as Markup and are not encoded a
        # second time; finalize returns Markup, so nothing is HTML-escaped on top.
        autoescape=True,
        finalize=_run_finalize(),
        cache_size=-1,
    )
    env.filters.update(formats.TEMPLATE_FILTERS)
    return env


def render_client(
    env: Environment,
    targets: Sequence[RenderTarget],
    context: Mapping[str, Any],
    *,
    client: str,
) -> dict[str, bytes]:
    """Render and validate every target for one client; RenderError names template and line."""
    outputs: dict[str, bytes] = {}
    for target in targets:
        fmt = _format_of("/".join(target.path.split("/")[-2:]))
        template = load_template(env, target.template)
        try:
            token = _current_format.set(fmt)
            try:
                text = template.render(context)
            finally:
                _current_format.reset(token)
        except _ValueRefused as exc:
            raise _located(exc, template, f"client {client}: {exc.message} in {fmt}") from None
        except jinja2.TemplateError as exc:
            raise _located(exc, template, f"client {client}: {exc}") from None
        except Exception as exc:  # a template is code: 1/0 or 'a' + 1 is its error, not ours
            message = f"client {client}: {type(exc).__name__}: {exc}"
            raise _located(exc, template, message) from exc
        try:
            formats.validate(fmt, text)
        except formats.InvalidOutput as exc:
            line = f" line {exc.line}" if exc.line else ""
            raise RenderError(
                f"client {client}: {target.path} (from {_display(template.filename)}) is not "
                f"valid {fmt}:{line}: {exc}",
                file=template.filename,
            ) from None
        outputs[target.path] = text.encode("utf-8")
    return outputs


@functools.lru_cache(maxsize=256)
def _format_of(folder_and_name: str) -> str:
    """``formats.format_for`` by the last two parts of a path, the only ones it reads (name and
    folder): a target's copies for every client share them (unless the client id is in them),
    so its format is found once, not once per client."""
    return formats.format_for(folder_and_name)


def load_template(env: Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        filename = exc.filename or name
        raise RenderError(
            f"{_display(filename)}:{exc.lineno}: template syntax error: {exc.message}",
            file=filename,
            line=exc.lineno,
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found") from None


def _located(exc: BaseException, template: jinja2.Template, message: str) -> RenderError:
    filename = template.filename or template.name or "?"
    line = _template_line(exc.__traceback__, filename)
    where = f"{_display(filename)}:{line}" if line else _display(filename)
    return RenderError(f"{where}: {message}", file=filename, line=line)


def _template_line(tb: types.TracebackType | None, filename: str) -> int | None:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _display(filename: str | None) -> str:
    if filename is None:
        return "?"
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename
