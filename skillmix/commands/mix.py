"""`skillmix mix`, `skillmix stats` and `skillmix verify`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from manifests.locks import FolderLockedError, folder_lock
from manifests.shards import FORMATS, verify_shards
from mixers import MixError, mix
from mixers.recipe import RecipeError, load_recipe
from mixers.stats import format_stats, mix_stats, plot_stats
from skillmix.commands._options import (
    config_option,
    config_values,
    echo_accounting,
    on_bad_row_option,
)


@click.command(name="mix")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the shards and manifest.json (created; earlier shards there are replaced).",
)
@config_option(
    "--format",
    "fmt",
    config=mix,
    type=click.Choice(FORMATS),
    help="Shard format (unset: the recipe's shards.format, else arrow).",
)
@config_option(
    "--tokenizer",
    config=mix,
    type=click.Path(),
    help="A local transformers tokenizer folder: counts tokens into the manifest "
    "and enables a recipe's `tokens:` budget.",
)
@config_option("--workers", config=mix, type=int, help="Processes for the decontamination step.")
@config_option(
    "--threads", config=mix, type=int, help="Sources read at once (unset: one per core, at most 4)."
)
@config_option(
    "--memory-mb",
    config=mix,
    type=float,
    help="Keep up to this many MiB of the rows read from the sources in memory; "
    "the rest is staged in files under --out and memory mapped (0 stages "
    "everything: lowest memory, more disk traffic).",
)
@on_bad_row_option
def mix_command(recipe, out_dir, on_bad_row, **_config) -> None:
    """Make the mix RECIPE describes: shuffled shards plus manifest.json in --out."""
    try:
        parsed = load_recipe(recipe)
        with folder_lock(Path(out_dir), "skillmix mix"):
            result = mix(
                parsed,
                out_dir,
                **config_values(mix),
                on_bad_row=on_bad_row,
                log=lambda message: click.echo(message, err=True),
            )
    except (RecipeError, MixError, FolderLockedError) as exc:
        raise click.ClickException(str(exc)) from None
    manifest = result.manifest
    click.echo(
        f"wrote {result.rows_written} rows in {len(manifest['shards'])} shard(s) to "
        f"{out_dir} ({manifest['upsampled_repeats']} of them upsampled repeats)"
    )
    for source in manifest["sources"]:
        dedup = source["deduplicated"]
        click.echo(
            f"  {source['name']}: available {source['available']}, selected "
            f"{source['selected']}, out {source['rows_out']}, dedup exact "
            f"{dedup['exact']} minhash {dedup['minhash']}, decontaminated "
            f"{source['decontaminated']}, rejected {source['rejected']}, not drawn "
            f"{source['not_drawn']}"
        )
    echo_accounting(result.accounting, result.rejects_path)


@click.command()
@click.argument("shard_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--png",
    type=click.Path(dir_okay=False),
    help="Where to write the bar chart (default: DIR/mix_stats.png).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def stats(shard_dir, png, as_json) -> None:
    """Rows per skill and per source of a finished mix, as a table and a bar chart PNG."""
    try:
        numbers = mix_stats(shard_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    chart = plot_stats(numbers, png or Path(shard_dir) / "mix_stats.png")
    click.echo(json.dumps(numbers, indent=2) if as_json else format_stats(numbers))
    click.echo(f"bar chart: {chart}", err=True)


@click.command()
@click.argument("shard_dir", metavar="DIR", type=click.Path(file_okay=False))
def verify(shard_dir) -> None:
    """Check every shard in DIR against manifest.json (presence, bytes, sha256, rows, schema)."""
    problems = verify_shards(shard_dir)
    if problems:
        for problem in problems:
            click.echo(f"FAIL {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {shard_dir}")
    click.echo(f"ok: every shard in {shard_dir} matches manifest.json")


COMMANDS = [mix_command, stats, verify]
