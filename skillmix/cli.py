"""The `skillmix` command line: a thin layer over the rooms' public functions.

Each module in `skillmix/commands/` exposes `COMMANDS`, a list of click commands or
groups; they are registered here, so a room adds its commands without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from skillmix import __version__
from skillmix import commands as commands_pkg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="skillmix")
def main() -> None:
    """skillmix: build skill mixes, audit contamination, train on the mix."""


def _register_commands(group: click.Group) -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            group.add_command(command)


_register_commands(main)
