"""The Jinja sandbox that templates and flag expressions run in, with size limits.

Partner templates and ``[flags]`` expressions are code we did not write, run in a process that
holds the client secret and API keys. Jinja's immutable sandbox already refuses Python internals
(``__globals__``, ``__class__`` …), unsafe callables and changes to the context's lists and
dicts (the platform table is shared by every client). It does not bound what an expression may
allocate: ``'x' * 10**9`` or ``10 ** 10**9`` would take the machine's memory or minutes of CPU
before any error. :class:`LimitedSandbox` refuses, *before* computing, any operation whose result
would exceed :data:`MAX_SIZE` items, and turns ``range``'s own limit into the sandbox's error.

Every refusal is a ``jinja2.sandbox.SecurityError``, a ``TemplateError``: callers report it with
the template's file and line, or the flag's name and client, like any other template error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment

# Items (characters, list entries) one operation may produce. Build config files are small; no
# honest template or flag needs a megabyte from one expression.
MAX_SIZE = 1_000_000
# An integer this wide (about 20,000 digits) is already no flag's or template's business.
MAX_INT_BITS = 65_536
# Paragraphs ``lipsum`` may invent: each costs a few hundred characters.
MAX_LIPSUM = 100

# String methods whose integer arguments set the size of what they return.
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# Filters whose integer arguments set the size of what they return (widths, counts, fills).
_SIZED_FILTERS = frozenset({"center", "indent", "batch", "slice"})
_DIGITS = re.compile(r"\d+")


def refuse(what: str) -> SecurityError:
    return SecurityError(f"{what}; the sandbox's limit is {MAX_SIZE:,} items")


def _check_size(what: str, size: int) -> None:
    if size > MAX_SIZE:
        raise refuse(f"{what} would make {size:,} items")


def _check_numbers(what: str, values: Any) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
            raise refuse(f"{what} with {value:,}")


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
            _check_size("repeating a sequence", len(seq) * max(times, 0))


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = abs(base).bit_length() * exponent
        if bits > MAX_INT_BITS:
            raise SecurityError(
                f"a power of about {bits:,} bits; the sandbox's limit is {MAX_INT_BITS:,} bits"
            )


def _check_format_string(text: str, arguments: Any) -> None:
    """A width or precision in the format, or passed for ``*``, is the size of the output."""
    for digits in _DIGITS.findall(text):
        if len(digits) > 7 or int(digits) > MAX_SIZE:
            raise refuse(f"a format width of {digits}")
    if isinstance(arguments, Mapping):
        arguments = arguments.values()
    elif not isinstance(arguments, (tuple, list)):
        arguments = (arguments,)
    _check_numbers("a format", arguments)


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        times = len(text) + 1 if not old else text.count(old)
        if isinstance(count, int) and count >= 0:
            times = min(times, count)
        _check_size("replacing text", len(text) + times * max(len(new) - len(old), 0))


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, refusing operations that would make huge values."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _limited_range
        lipsum = self.globals["lipsum"]
        assert callable(lipsum)
        self.globals["lipsum"] = _limited_lipsum(lipsum)
        for name in _SIZED_FILTERS:
            self.filters[name] = _sized_filter(name, self.filters[name])
        self.filters["format"] = _format_filter(self.filters["format"])
        self.filters["replace"] = _replace_filter(self.filters["replace"])

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_format_string(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        method = getattr(__obj, "__wrapped__", __obj)  # str.format arrives wrapped by the sandbox
        owner = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "")
        if isinstance(owner, (str, bytes)):
            if name in _SIZED_METHODS:
                _check_numbers(f"str.{name}", [*args, *kwargs.values()])
            elif name in ("format", "format_map") and isinstance(owner, str):
                _check_format_string(owner, [*args, *kwargs.values()])
            elif name == "replace" and isinstance(owner, str):
                _check_replace(owner, *args, **kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _limited_range(*args: int) -> range:
    """``range`` as the sandbox allows it; past ``MAX_RANGE`` a SecurityError, not OverflowError."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(
            f"range of {len(numbers):,} numbers; the sandbox's limit is {MAX_RANGE:,}"
        )
    return numbers


def _limited_lipsum(lipsum: Callable[..., Any]) -> Callable[..., Any]:
    def limited(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:  # noqa: A002
        if n > MAX_LIPSUM or max > MAX_LIPSUM or min > MAX_LIPSUM:
            raise SecurityError(f"lipsum above {MAX_LIPSUM} paragraphs or words")
        return lipsum(n=n, html=html, min=min, max=max)

    return limited


def _sized_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    # After the context Jinja may pass first, and the filtered value, come the sizes.
    skip = 2 if hasattr(original, "jinja_pass_arg") else 1

    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_numbers(f"|{name}", [*args[skip:], *kwargs.values()])
        return original(*args, **kwargs)

    return _passing_like(original, checked)


def _format_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            _check_format_string(value, [*args, *kwargs.values()])
        return original(value, *args, **kwargs)

    return _passing_like(original, checked)


def _replace_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def checked(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(str(value), str(old), str(new), -1 if count is None else count)
        return original(eval_ctx, value, old, new, count)

    return _passing_like(original, checked)


def _passing_like(original: Callable[..., Any], wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja passes a filter its context first when the filter is marked so; keep the mark."""
    if hasattr(original, "jinja_pass_arg"):
        setattr(wrapper, "jinja_pass_arg", original.jinja_pass_arg)  # noqa: B010
    return wrapper
