"""The `skillmix` command line: a thin layer over the rooms' public functions.

Each module in `skillmix/commands/` exposes `COMMANDS`, a list of click commands or
groups; they are registered here, so a room adds its commands without editing this file.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

import click

from manifests.errors import BadRowError, UsageError
from skillmix import __version__
from skillmix import commands as commands_pkg
from skillmix.commands._options import fail_on_bad_row


class _Main(click.Group):
    """Turns a bad input or a failed write into one named line and exit 1, not a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            kwargs.pop("standalone_mode", None)
            super().main(*args, standalone_mode=False, **kwargs)
            sys.exit(0)  # as click's standalone mode: a command's return value is not a status
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except (BadRowError, OSError, RecursionError, MemoryError) as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            sys.exit(1)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in str(exc):
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="skillmix")
def main() -> None:
    """skillmix: build skill mixes, audit contamination, train on the mix."""


def _room_errors(callback: Callable[..., Any], takes_on_bad_row: bool) -> Callable[..., Any]:
    """The one place a room's errors become click's: a `UsageError` (options that do not go
    together) exits 2 with the command's usage line, as a bad option does; a bad row in a
    command that has --on-bad-row is one named line with the hint to skip it."""

    @functools.wraps(callback)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except UsageError as exc:
            raise click.UsageError(str(exc)) from None  # click adds the command's context
        except BadRowError as exc:
            if not takes_on_bad_row:
                raise  # _Main names it in one line
            raise fail_on_bad_row(exc) from None

    call.maps_room_errors = True  # type: ignore[attr-defined]
    return call


def _map_room_errors(command: click.Command) -> None:
    if command.callback is not None and not hasattr(command.callback, "maps_room_errors"):
        takes = any(p.name == "on_bad_row" for p in command.params)
        command.callback = _room_errors(command.callback, takes)
    for sub in getattr(command, "commands", {}).values():
        _map_room_errors(sub)


def _register_commands(group: click.Group) -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            _map_room_errors(command)
            group.add_command(command)


_register_commands(main)
