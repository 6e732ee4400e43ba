"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from manifests import ON_BAD_ROW, Accounting, BadRowError, RejectsWriter

KIND_CHOICE = click.Choice(["sft", "preference", "rlvr"])


def on_bad_row_option(func: Callable) -> Callable:
    return click.option(
        "--on-bad-row",
        type=click.Choice(ON_BAD_ROW),
        default="error",
        show_default=True,
        help="error: stop at the first bad row, naming file, row and problem. "
        "skip: write each bad row with its reason to rejects.jsonl and count it.",
    )(func)


def mapping_option(func: Callable) -> Callable:
    return click.option(
        "--map",
        "mapping",
        multiple=True,
        metavar="TARGET=FIELD",
        help="Read input field FIELD as TARGET (e.g. --map messages=dialog, "
        "--map instruction=question). Repeatable.",
    )(func)


def parse_mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        target, sep, field = pair.partition("=")
        if not sep or not target or not field:
            raise click.BadParameter(f"expected TARGET=FIELD, got {pair!r}", param_hint="--map")
        mapping[target] = field
    return mapping


def rejects_path_for(output: str | Path) -> Path:
    """rejects.jsonl beside an output file or folder."""
    return Path(output).parent / "rejects.jsonl"


def echo_accounting(acc: Accounting, rejects: RejectsWriter | None = None) -> None:
    click.echo(acc.summary(), err=True)
    if rejects is not None and rejects.count:
        click.echo(f"rejected rows with reasons: {rejects.path}", err=True)


def fail_on_bad_row(exc: BadRowError) -> click.ClickException:
    if exc.row is None:  # the whole input is unusable; skipping rows would not help
        return click.ClickException(str(exc))
    return click.ClickException(
        f"{exc}\n(rerun with --on-bad-row=skip to write bad rows to rejects.jsonl and go on)"
    )
