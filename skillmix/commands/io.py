"""`skillmix inspect` and `skillmix convert`."""

from __future__ import annotations

import json

import click

from manifests.convert import CONTRACT, LAYOUTS, convert_file
from manifests.stats import inspect_inputs
from skillmix.commands._options import (
    KIND_CHOICE,
    config_option,
    config_values,
    echo_accounting,
    mapping_option,
    on_bad_row_option,
    parse_mapping,
)


def _format_table(stats: dict) -> str:
    lines = [f"rows: {stats['rows']}", f"kinds: {stats['kinds']}"]
    for key in ("skills", "sources"):
        lines.append(f"{key}:")
        lines += [f"  {name:<40} {n:>10}" for name, n in stats[key].items()]
    for key in ("turns", "chars", "tokens"):
        if stats[key] is not None:
            s = stats[key]
            lines.append(
                f"{key:<7} total {s['total']:>12}  min {s['min']:>8}  "
                f"mean {s['mean']:>10}  max {s['max']:>8}"
            )
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--kind", type=KIND_CHOICE, help="Row contract; detected from the data if omitted.")
@click.option("--tokenizer", help="A transformers tokenizer (folder or hub name) to count tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@config_option(
    "--rejects",
    config=inspect_inputs,
    type=click.Path(),
    help="Where --on-bad-row=skip writes bad rows.",
)
@mapping_option
@on_bad_row_option
def inspect(paths, kind, tokenizer, as_json, mapping, on_bad_row, **_config) -> None:
    """Statistics of one or more inputs: rows, kind, skills, sources, turns, characters, tokens.

    PATHS are files (.jsonl[.gz|.zst], .json, .parquet, .arrow, .csv), save_to_disk
    folders or hub datasets (hf://NAME[:CONFIG][@SPLIT]).
    """
    found = inspect_inputs(
        paths,
        kind,
        tokenizer=tokenizer,
        mapping=parse_mapping(mapping),
        on_bad_row=on_bad_row,
        **config_values(inspect_inputs),
    )
    click.echo(json.dumps(found.stats, indent=2) if as_json else _format_table(found.stats))
    echo_accounting(found.accounting, found.rejects_path)


@click.command()
@click.argument("input_path", metavar="IN")
@click.argument("output_path", metavar="OUT")
@click.option("--kind", type=KIND_CHOICE, help="Row contract of OUT; detected if omitted.")
@config_option(
    "--source",
    config=convert_file,
    help="Source name for every row (unset: the input's, or its name).",
)
@config_option(
    "--skill", config=convert_file, help="Skill for every row (unset: the input's, or 'general')."
)
@config_option(
    "--layout",
    config=convert_file,
    type=click.Choice(LAYOUTS),
    help="rlvr rows only: write them as TRL's GRPOTrainer reads them ('trl': a "
    "`prompt` column) or in open-instruct's RLVR layout (messages, ground_truth, "
    "dataset); OUT is .jsonl or .parquet.",
)
@mapping_option
@on_bad_row_option
def convert(input_path, output_path, kind, mapping, on_bad_row, **_config) -> None:
    """Convert IN (any supported shape and format) into OUT in a row contract.

    OUT's extension picks the format: .jsonl[.gz|.zst], .parquet, .arrow, .csv, or a
    folder name for a `datasets` save_to_disk folder.
    """
    written = convert_file(
        input_path,
        output_path,
        kind,
        **config_values(convert_file),
        mapping=parse_mapping(mapping),
        on_bad_row=on_bad_row,
    )
    rows = f"{written.rows} {written.kind} rows{_in_layout(written.layout)}"
    click.echo(f"wrote {rows} to {written.path}")
    echo_accounting(written.accounting, written.rejects_path)


def _in_layout(layout: str) -> str:
    return "" if layout == CONTRACT else f" in the {layout} layout"


COMMANDS = [inspect, convert]
