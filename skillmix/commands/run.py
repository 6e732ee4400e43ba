"""`skillmix run`: one recipe from raw sources to a trained model, resumable."""

from __future__ import annotations

from pathlib import Path

import click

from manifests import BadRowError
from manifests.locks import FolderLockedError
from mixers import MixError
from mixers.recipe import RecipeError
from skillmix.commands._options import (
    Decorator,
    build,
    config_option,
    on_bad_row_option,
    options,
)
from skillmix.pipeline import EXECUTORS, ExecutorSpec, format_plan, load_run_recipe, run_pipeline
from skillmix.pipeline.slurm import SlurmOptions
from skillmix.pipeline.stage import StageError


def _slurm(*decls: str, **kwargs) -> Decorator:
    """A --slurm-NAME option: SlurmOptions.NAME; unset ones leave the cluster's default."""
    field = kwargs.pop("field", decls[0].removeprefix("--slurm-").replace("-", "_"))
    return config_option(*decls, config=SlurmOptions, field=field, **kwargs)


slurm_options = options(
    _slurm("--slurm-partition", help="Slurm partition (unset: the cluster's)."),
    _slurm("--slurm-time", help="Time limit per task, e.g. 04:00:00 (unset: the partition's)."),
    _slurm("--slurm-cpus-per-task", type=click.IntRange(min=1), help="CPUs per Slurm task."),
    _slurm("--slurm-mem", help="Memory per task's node, e.g. 8G."),
    _slurm("--slurm-mem-per-cpu", help="Memory per CPU, e.g. 2G."),
    _slurm("--slurm-qos", help="Slurm QOS (unset: the account's)."),
    _slurm("--slurm-account", help="Slurm account to charge."),
    _slurm(
        "--slurm-sbatch-arg",
        field="sbatch_args",
        multiple=True,
        callback=lambda ctx, param, value: list(value),
        metavar="--NAME[=VALUE]",
        help="An extra sbatch directive, e.g. --slurm-sbatch-arg=--constraint=ssd (repeatable).",
    ),
    _slurm(
        "--slurm-venv",
        help="A virtualenv (folder or bin/activate) the jobs activate; unset: this "
        "interpreter and its environment.",
    ),
    _slurm(
        "--slurm-poll-seconds",
        type=click.FloatRange(min=0.1),
        help="How often the driver asks squeue.",
    ),
    _slurm(
        "--slurm-timeout-seconds",
        type=click.FloatRange(min=1),
        help="Give up (and cancel) a stage after this long; unset: no limit.",
    ),
)


@click.command("run")
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the stages write (default: the recipe's run_dir, or runs/NAME).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan and what will be reused; run nothing."
)
@config_option(
    "--executor",
    config=ExecutorSpec,
    field="kind",
    type=click.Choice(EXECUTORS),
    help="Where data stages run: local processes, Slurm or Ray (datatrove executors).",
)
@config_option(
    "--workers",
    config=ExecutorSpec,
    type=click.IntRange(min=1),
    help="Processes inside each task (and the local pool's size unless --tasks).",
)
@config_option(
    "--tasks",
    config=ExecutorSpec,
    type=click.IntRange(min=1),
    help="How many of a stage's tasks run at once: the local pool, the Slurm "
    "array's %N throttle, Ray's workers (unset: --workers locally, else no cap).",
)
@slurm_options
@config_option(
    "--ray-address",
    config=ExecutorSpec,
    help="Address of a running Ray cluster (unset: start one here).",
)
@on_bad_row_option
def run(recipe_path, run_dir, dry_run, on_bad_row, **_config) -> None:
    """Run the stages a RECIPE declares (synth, augment_if, tag, decontaminate, dedup, mix,
    train), each into its own folder under the run directory.

    Stopping and running again picks up where it stopped: finished stages with the same
    inputs and config are reused, changed ones are redone with everything after them.
    """
    try:
        recipe = load_run_recipe(recipe_path)
        target = run_dir or recipe.run_dir
        if dry_run:
            click.echo(format_plan(recipe, target))
            return
        run_pipeline(
            recipe,
            run_dir=target,
            executor=build(ExecutorSpec, slurm=build(SlurmOptions)),
            on_bad_row=on_bad_row,
            echo=lambda line: click.echo(line, err=True),
        )
    except (RecipeError, StageError, BadRowError, MixError, FolderLockedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run report: {target.resolve() / 'report.html'}")


COMMANDS = [run]
