"""Click plumbing every command shares: the global options, colour, and command-name hints.

`-v`, `-q`, `--config` and `--no-color` are accepted before the command (``nudge-build -v
build``) and after it (``nudge-build build -v``), since people type them in both places. The
command class adds them to every command once, and they add up with the group's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from nudge_build.suggest import closest

if TYPE_CHECKING:
    from nudge_build.config import Config

COMMON_OPTIONS = ("config", "verbose", "quiet", "no_color")


class State:
    """The settings of one run: the group's options, with any given after the command."""

    def __init__(self, config: str | None, verbose: int, quiet: bool, no_color: bool) -> None:
        self.config_option = config
        self.verbose = verbose
        self.quiet = quiet
        self.no_color = no_color

    def merge(self, config: str | None, verbose: int, quiet: bool, no_color: bool) -> None:
        # The nearer option wins for --config; the counts and switches add up.
        if config is not None:
            self.config_option = config
        self.verbose += verbose
        self.quiet = self.quiet or quiet
        self.no_color = self.no_color or no_color

    def load(self) -> Config:
        from nudge_build.config import find_config_path, load_config

        return load_config(find_config_path(self.config_option, os.environ), os.environ)


def common_params() -> list[click.Parameter]:
    """Fresh option objects: click keeps per-command state on them."""
    return [
        click.Option(
            ["--config", "config"],
            metavar="PATH",
            help=(
                "Config file (default: $NUDGE_BUILD_CONFIG, else the nearest "
                "nudge-build.toml in this folder or a parent)."
            ),
        ),
        click.Option(["-v", "--verbose"], count=True, help="More detail, tracebacks on errors."),
        click.Option(["-q", "--quiet"], is_flag=True, help="Only errors."),
        click.Option(["--no-color"], is_flag=True, help="No ANSI colours (also: NO_COLOR=1)."),
    ]


def color_setting(no_color: bool, environ: Mapping[str, str]) -> bool | None:
    """The one decision about colour: ``False`` means never, ``None`` lets click decide per
    stream (colour only on a terminal, never when piped or written to a file).

    https://no-color.org: any non-empty NO_COLOR turns colour off. In GitHub mode the log is not
    a terminal anyway; saying never keeps workflow-command lines plain whatever the runner does.
    """
    from nudge_build import github

    if no_color or environ.get("NO_COLOR") or github.active(environ):
        return False
    return None


def apply_settings(ctx: click.Context, state: State) -> None:
    """Logging and colour from the merged settings, on this context and every parent."""
    from nudge_build.report import configure_logging

    configure_logging(state.verbose, state.quiet)
    color = color_setting(state.no_color, os.environ)
    current: click.Context | None = ctx
    while current is not None:
        # ``None`` must not undo a colour a caller chose (CliRunner(color=True) in tests).
        if color is not None:
            current.color = color
        current = current.parent


class Command(click.Command):
    """A command that also takes the common options after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(common_params())

    def invoke(self, ctx: click.Context) -> Any:
        values = {name: ctx.params.pop(name) for name in COMMON_OPTIONS}
        state = ctx.find_object(State)
        if state is not None:
            state.merge(**values)
            apply_settings(ctx, state)
        return super().invoke(ctx)


class SuggestingGroup(click.Group):
    """Commands get the common options; a mistyped command name gets a did-you-mean."""

    command_class = Command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            # Said the same way on every click version (8.4 added its own hint, 8.1 has none).
            match = closest(name, self.list_commands(ctx))
            hint = f" Did you mean {match!r}?" if match is not None else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)
