"""`skillmix evals`: the evaluation-set registry, and local pinned copies for offline audits."""

from __future__ import annotations

import click

from decontam import REGISTRY
from decontam.evaldir import EvalDirError, load_eval_dir, pull_evals
from decontam.evalsets import EvalFileError


@click.group()
def evals() -> None:
    """The evaluation sets decontamination checks against."""


@evals.command("list")
def list_command() -> None:
    """Each registry name with its hub dataset, split, text fields and pinned revision."""
    for name, spec in sorted(REGISTRY.items()):
        parts = sorted({repo for repo, _ in spec.parts})
        configs = len(spec.parts)
        where = ", ".join(parts) + (f" ({configs} configs)" if configs > 1 else "")
        revision = f" @{spec.revision}" if spec.revision else ""
        click.echo(f"{name}\t{where}{revision}\tsplit {spec.split}\t{'+'.join(spec.fields)}")


@evals.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for NAME.jsonl files and index.json (merged with one there).",
)
@click.option(
    "--from",
    "folder",
    type=click.Path(exists=True, file_okay=False),
    help="Read the datasets from a local folder laid out like the hub "
    "(FOLDER/<owner>/<name>/...) instead of downloading them.",
)
@click.option(
    "--allow-bad-evals",
    is_flag=True,
    help="Drop instances with an empty text or a repeated id, counted in the index.",
)
def pull(names, to, folder, allow_bad_evals) -> None:
    """Store evaluation sets as local JSONL with their sha256, for `decontam --eval-dir`.

    NAME is a registry name, or NAME@REVISION to pin a hub branch, tag or commit.
    Example: skillmix evals pull gsm8k humaneval bbh --to evals/
    """
    try:
        result = pull_evals(names, to, folder=folder, allow_bad=allow_bad_evals)
    except EvalFileError as exc:
        raise click.ClickException(f"evaluation file: {exc}") from None
    except (EvalDirError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for name, entry in result.pulled.items():
        click.echo(
            f"{name}: {entry['rows']} instances, sha256 {entry['sha256'][:16]}..., "
            f"revision {entry['revision'] or 'default'} ({entry['source']})"
        )
    if result.index_path is not None:
        click.echo(f"index: {result.index_path}")
    if result.failed:
        for exc in result.failed.values():
            click.echo(f"error: {exc}", err=True)
        raise click.ClickException(
            f"{len(result.failed)} of {len(names)} sets not pulled: {', '.join(result.failed)}"
        )


@evals.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def verify(folder) -> None:
    """Check every pulled file against the sha256 and row count in its index."""
    try:
        sets = load_eval_dir(folder)
    except (EvalDirError, EvalFileError) as exc:
        raise click.ClickException(str(exc)) from None
    for evalset in sets:
        click.echo(f"{evalset.name}: {len(evalset)} instances, sha256 ok")


COMMANDS = [evals]
