"""`skillmix run`: one recipe from raw sources to a trained model, resumable."""

from __future__ import annotations

from pathlib import Path

import click

from manifests import BadRowError
from manifests.locks import FolderLockedError
from mixers import MixError
from mixers.recipe import RecipeError
from skillmix.commands._options import on_bad_row_option
from skillmix.pipeline import EXECUTORS, ExecutorSpec, load_run_recipe, plan_run, run_pipeline
from skillmix.pipeline.slurm import SlurmOptions
from skillmix.pipeline.stage import StageError

ACTIONS = {
    "reuse": "reuse (finished, same inputs and config)",
    "resume": "resume (interrupted; finished work is kept)",
    "run": "run",
    "redo": "redo (config or inputs changed upstream)",
}


def _executor(kind, workers, tasks, ray_address, **slurm) -> ExecutorSpec:
    options = {key.removeprefix("slurm_"): value for key, value in slurm.items()}
    options["sbatch_args"] = list(options.pop("sbatch_arg"))
    return ExecutorSpec(
        kind=kind,
        workers=workers,
        tasks=tasks,
        slurm=SlurmOptions.from_mapping(options),
        ray_address=ray_address,
    )


def slurm_options(command):
    """The --slurm-* options; each unset one leaves the cluster's default."""
    for decorator in reversed(
        [
            click.option("--slurm-partition", help="Slurm partition (default: the cluster's)."),
            click.option(
                "--slurm-time",
                help="Time limit per task, e.g. 04:00:00 (default: the partition's).",
            ),
            click.option(
                "--slurm-cpus-per-task",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="CPUs per Slurm task.",
            ),
            click.option("--slurm-mem", help="Memory per task's node, e.g. 8G."),
            click.option("--slurm-mem-per-cpu", help="Memory per CPU, e.g. 2G."),
            click.option("--slurm-qos", help="Slurm QOS (default: the account's)."),
            click.option("--slurm-account", help="Slurm account to charge."),
            click.option(
                "--slurm-sbatch-arg",
                multiple=True,
                metavar="--NAME[=VALUE]",
                help="An extra sbatch directive, e.g. --slurm-sbatch-arg=--constraint=ssd "
                "(repeatable).",
            ),
            click.option(
                "--slurm-venv",
                help="A virtualenv (folder or bin/activate) the jobs "
                "activate; default: this interpreter and its environment.",
            ),
            click.option(
                "--slurm-poll-seconds",
                type=click.FloatRange(min=0.1),
                default=5.0,
                show_default=True,
                help="How often the driver asks squeue.",
            ),
            click.option(
                "--slurm-timeout-seconds",
                type=click.FloatRange(min=1),
                help="Give up (and cancel) a stage after this long; default: no limit.",
            ),
        ]
    ):
        command = decorator(command)
    return command


@click.command("run")
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False),
    help="Where the stages write (default: the recipe's run_dir, or runs/NAME).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan and what will be reused; run nothing."
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="Where data stages run: local processes, Slurm or Ray (datatrove executors).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes inside each task (and the local pool's size unless --tasks).",
)
@click.option(
    "--tasks",
    type=click.IntRange(min=1),
    help="How many of a stage's tasks run at once: the local pool, the Slurm "
    "array's %N throttle, Ray's workers (default: --workers locally, else no cap).",
)
@slurm_options
@click.option("--ray-address", help="Address of a running Ray cluster (default: start one here).")
@on_bad_row_option
def run(
    recipe_path, run_dir, dry_run, executor, workers, tasks, ray_address, on_bad_row, **slurm
) -> None:
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
                click.echo(
                    f"  {planned.spec.folder:<24} {planned.spec.type:<14} "
                    f"key {planned.key}  {ACTIONS[planned.action]}"
                )
            return
        spec = _executor(executor, workers, tasks, ray_address, **slurm)
        run_pipeline(
            recipe,
            run_dir=target,
            executor=spec,
            on_bad_row=on_bad_row,
            echo=lambda line: click.echo(line, err=True),
        )
    except (RecipeError, StageError, BadRowError, MixError, FolderLockedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run report: {target.resolve() / 'report.html'}")


COMMANDS = [run]
