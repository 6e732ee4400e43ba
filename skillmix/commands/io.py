"""`skillmix inspect` and `skillmix convert`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from manifests import (
    Accounting,
    BadRowError,
    RejectsWriter,
    RowWriter,
    detect_kind,
    read_rows,
)
from manifests.atomic import atomic_path
from manifests.exports import EXPORT_LAYOUTS, export_rows
from manifests.stats import RowStats, token_counter
from skillmix.commands._options import (
    KIND_CHOICE,
    config_option,
    config_values,
    echo_accounting,
    fail_on_bad_row,
    mapping_option,
    on_bad_row_option,
    parse_mapping,
    rejects_path_for,
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
@click.option(
    "--rejects",
    type=click.Path(),
    default="rejects.jsonl",
    show_default=True,
    help="Where --on-bad-row=skip writes bad rows.",
)
@mapping_option
@on_bad_row_option
def inspect(paths, kind, tokenizer, as_json, rejects, mapping, on_bad_row) -> None:
    """Statistics of one or more inputs: rows, kind, skills, sources, turns, characters, tokens.

    PATHS are files (.jsonl[.gz|.zst], .json, .parquet, .arrow, .csv), save_to_disk
    folders or hub datasets (hf://NAME[:CONFIG][@SPLIT]).
    """
    count_tokens = token_counter(tokenizer) if tokenizer else None
    acc = Accounting()
    stats = RowStats()
    with RejectsWriter(rejects) as rejects_writer:
        try:
            for path in paths:
                rows = read_rows(
                    path,
                    kind,
                    mapping=parse_mapping(mapping),
                    on_bad_row=on_bad_row,
                    rejects=rejects_writer,
                    accounting=acc,
                )
                for row in tqdm(rows, desc=f"inspect {path}", unit="rows", disable=None):
                    stats.add(row, kind or detect_kind(row), count_tokens)
        except BadRowError as exc:
            raise fail_on_bad_row(exc) from None
    result = stats.to_dict()
    result["accounting"] = acc.to_dict()
    click.echo(json.dumps(result, indent=2) if as_json else _format_table(result))
    echo_accounting(acc, rejects_writer)


@click.command()
@click.argument("input_path", metavar="IN")
@click.argument("output_path", metavar="OUT")
@click.option("--kind", type=KIND_CHOICE, help="Row contract of OUT; detected if omitted.")
@config_option(
    "--source",
    config=read_rows,
    help="Source name for every row (unset: the input's, or its name).",
)
@config_option(
    "--skill", config=read_rows, help="Skill for every row (unset: the input's, or 'general')."
)
@click.option(
    "--layout",
    type=click.Choice(["contract", *EXPORT_LAYOUTS]),
    default="contract",
    show_default=True,
    help="rlvr rows only: write them as TRL's GRPOTrainer reads them ('trl': a "
    "`prompt` column) or in open-instruct's RLVR layout (messages, ground_truth, "
    "dataset); OUT is .jsonl or .parquet.",
)
@mapping_option
@on_bad_row_option
def convert(input_path, output_path, kind, layout, mapping, on_bad_row, **_overrides) -> None:
    """Convert IN (any supported shape and format) into OUT in a row contract.

    OUT's extension picks the format: .jsonl[.gz|.zst], .parquet, .arrow, .csv, or a
    folder name for a `datasets` save_to_disk folder.
    """
    if layout != "contract":
        return _export(input_path, output_path, layout, mapping, on_bad_row)
    acc = Accounting()
    rejects = RejectsWriter(rejects_path_for(output_path))
    rows = _read(input_path, kind, mapping, on_bad_row, rejects, acc)
    try:
        first = next(rows)
        out_kind = kind or detect_kind(first)
        with RowWriter(output_path, out_kind) as writer:
            writer.write(first)
            for row in tqdm(rows, desc=f"convert {input_path}", unit="rows", disable=None):
                writer.write(row)
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    except StopIteration:
        raise click.ClickException(
            f"{input_path}: no valid rows to write ({acc.summary()})"
        ) from None
    finally:
        rejects.close()
    acc.check()
    click.echo(f"wrote {writer.count} {out_kind} rows to {Path(output_path)}")
    echo_accounting(acc, rejects)


def _read(input_path, kind, mapping, on_bad_row, rejects, acc):
    """The rows of IN, with the --source, --skill and --map overrides."""
    return read_rows(
        input_path,
        kind,
        **config_values(read_rows),
        mapping=parse_mapping(mapping),
        on_bad_row=on_bad_row,
        rejects=rejects,
        accounting=acc,
    )


def _export(input_path, output_path, layout, mapping, on_bad_row) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    suffix = Path(output_path).suffix
    if suffix not in (".jsonl", ".parquet"):
        raise click.UsageError(f"--layout {layout} writes .jsonl or .parquet, not {suffix!r}")
    acc = Accounting()
    rejects = RejectsWriter(rejects_path_for(output_path))
    try:
        rows = list(
            export_rows(_read(input_path, "rlvr", mapping, on_bad_row, rejects, acc), layout)
        )
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    finally:
        rejects.close()
    if not rows:
        raise click.ClickException(f"{input_path}: no valid rows to write ({acc.summary()})")
    with atomic_path(output_path) as tmp:  # the final name holds a whole file or nothing
        if suffix == ".parquet":
            pq.write_table(pa.Table.from_pylist(rows), tmp)
        else:
            tmp.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
            )
    acc.check()
    click.echo(f"wrote {len(rows)} rlvr rows in the {layout} layout to {Path(output_path)}")
    echo_accounting(acc, rejects)


COMMANDS = [inspect, convert]
