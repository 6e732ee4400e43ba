"""`skillmix run`: one recipe from raw sources to a trained model, resumable."""

from __future__ import annotations

from pathlib import Path

import click

from manifests import BadRowError
from manifests.locks import FolderLockedError
from manifests.recipe import RecipeError
from mixers import MixError
from skillmix.commands._options import on_bad_row_option
from skillmix.pipeline import EXECUTORS, ExecutorSpec, load_run_recipe, plan_run, run_pipeline
from skillmix.pipeline.stage import StageError

ACTIONS = {"reuse": "reuse (finished, same inputs and config)",
           "resume": "resume (interrupted; finished work is kept)",
           "run": "run", "redo": "redo (config or inputs changed upstream)"}


def _executor(kind, workers, partition, slurm_time, cpus_per_task, venv, ray_address):
    slurm = {"partition": partition, "time": slurm_time, "cpus_per_task": cpus_per_task}
    if venv:
        slurm["venv_path"] = venv
    return ExecutorSpec(kind=kind, workers=workers, slurm=slurm, ray_address=ray_address)


@click.command("run")
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(exists=True, dir_okay=False))
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where the stages write (default: the recipe's run_dir, or runs/NAME).")
@click.option("--dry-run", is_flag=True,
              help="Print the plan and what will be reused; run nothing.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="Where data stages run: local processes, Slurm or Ray (datatrove executors).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Tasks (and matching processes) to run at once.")
@click.option("--slurm-partition", default="cpu", show_default=True, help="Slurm partition.")
@click.option("--slurm-time", default="04:00:00", show_default=True, help="Slurm time limit.")
@click.option("--slurm-cpus-per-task", type=int, default=2, show_default=True,
              help="CPUs per Slurm task.")
@click.option("--slurm-venv", help="A virtualenv activate script the Slurm jobs source.")
@click.option("--ray-address", help="Address of a running Ray cluster (default: start one here).")
@on_bad_row_option
def run(recipe_path, run_dir, dry_run, executor, workers, slurm_partition, slurm_time,
        slurm_cpus_per_task, slurm_venv, ray_address, on_bad_row) -> None:
    """Run the stages a RECIPE declares (synth, augment_if, tag, decontaminate, dedup, mix,
    train), each into its own folder under the run directory.

    Stopping and running again picks up where it stopped: finished stages with the same
    inputs and config are reused, changed ones are redone with everything after them.
    """
    try:
        recipe = load_run_recipe(recipe_path)
        target = Path(run_dir) if run_dir else recipe.run_dir
        if dry_run:
            click.echo(f"run directory: {target}")
            for planned in plan_run(recipe, target):
                click.echo(f"  {planned.spec.folder:<24} {planned.spec.type:<14} "
                           f"key {planned.key}  {ACTIONS[planned.action]}")
            return
        spec = _executor(executor, workers, slurm_partition, slurm_time, slurm_cpus_per_task,
                         slurm_venv, ray_address)
        run_pipeline(recipe, run_dir=target, executor=spec, on_bad_row=on_bad_row,
                     echo=lambda line: click.echo(line, err=True))
    except (RecipeError, StageError, BadRowError, MixError, FolderLockedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run report: {target.resolve() / 'report.html'}")


COMMANDS = [run]
