"""`skillmix decontam`: audit training data against evaluation sets, write a cleaned copy."""

from __future__ import annotations

from pathlib import Path

import click

from decontam import FIELDS, EvalFileError, decontaminate_files
from decontam.engine import METHOD_NAMES, DecontamConfig
from manifests import BadRowError
from manifests.errors import UsageError
from skillmix.commands._options import (
    BACKEND_OPTIONS,
    build,
    config_option,
    config_values,
    echo_accounting,
    on_bad_row_option,
    option_for,
)


def _summary(report: dict) -> str:
    lines = []
    for source, s in report["sources"].items():
        bad = ", ".join(s["contaminated_evals"]) or "none"
        lines.append(
            f"{source}: rows {s['rows']}, flagged {s['flagged']}, kept {s['kept']}; "
            f"contaminated evals: {bad}"
        )
    for name, e in report["evals"].items():
        lines.append(f"{name}: {e['contaminated']} of {e['instances']} instances matched")
    return "\n".join(lines)


def _semantic_summary(report: dict) -> str:
    sem = report["semantic"]
    usage = sem.get("usage") or {}
    cost = (
        (
            f"; judge: {usage.get('requests', 0)} requests, {usage.get('cached', 0)} cached, "
            f"{usage.get('failed', 0)} failed, {usage.get('prompt_tokens', 0)} prompt + "
            f"{usage.get('completion_tokens', 0)} completion tokens"
        )
        if sem["judge"]
        else ""
    )
    return (
        f"semantic: {sem['candidates']} candidates, {sem['judged']} judged, "
        f"{sem['rephrased']} rephrasings, {sem['unjudged']} could not be judged{cost}"
    )


def _judge(judge_model: str | None, cache: str | None, out_dir: str):
    """The LLM judge of semantic candidates (composed here: curate's backend, decontam's
    candidates), or None without --judge-model."""
    if judge_model is None:
        return None
    from curate.backends.factory import make_backend
    from skillmix.semantic_judge import LLMJudge

    backend = make_backend(build(BACKEND_OPTIONS, kind="openai", model=judge_model))
    return LLMJudge(backend, cache or Path(out_dir) / "judge_cache.jsonl")


_opt = option_for(DecontamConfig)


@click.command()
@click.option(
    "--train",
    "train",
    multiple=True,
    required=True,
    help="Training data (any format skillmix reads, or hf://NAME). Repeatable.",
)
@click.option(
    "--eval",
    "evals",
    multiple=True,
    help="Evaluation set: a registry name (gsm8k, humaneval, ...), path.jsonl:FIELD, "
    "or NAME=path:FIELD (join fields with '+'). Repeatable.",
)
@click.option(
    "--eval-dir",
    type=click.Path(exists=True, file_okay=False),
    help="A folder from `skillmix evals pull`: registry names are read from there, "
    "offline, each file checked against its sha256 (all its sets if no --eval "
    "names one).",
)
@_opt(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(METHOD_NAMES),
    help="ngram: Tülu 3 coverage; ngram-any: any shared n-gram; minhash: MinHash "
    "LSH near-duplicates; all: the three; semantic: paraphrases by embedding "
    "similarity (--encoder), judged with --judge-model. Repeatable.",
)
@_opt("--ngram-size", type=click.IntRange(1), help="n for the ngram method.")
@_opt(
    "--threshold",
    type=click.FloatRange(0, 1),
    help="ngram: an instance is contaminated when its coverage exceeds this.",
)
@_opt("--any-ngram-size", type=click.IntRange(1), help="n for the ngram-any method.")
@_opt(
    "--max-ngram-rows",
    type=click.IntRange(0),
    zero_is_off=True,
    help="ngram-any: ignore n-grams found in more training rows than this (0: never).",
)
@_opt(
    "--minhash-threshold",
    type=click.FloatRange(0, 1),
    help="minhash: Jaccard of word 5-gram sets, at least.",
)
@_opt("--num-perm", type=click.IntRange(8), help="minhash: permutations per signature.")
@click.option(
    "--encoder",
    type=click.Path(exists=True, file_okay=False),
    help="semantic: a local Hugging Face encoder folder (model and tokenizer).",
)
@_opt(
    "--top-k",
    field="semantic_top_k",
    type=click.IntRange(1),
    help="semantic: nearest evaluation instances kept per training row.",
)
@_opt(
    "--similarity-floor",
    field="semantic_floor",
    type=click.FloatRange(-1, 1),
    help="semantic: cosine similarity, at least.",
)
@_opt(
    "--device",
    field="semantic_device",
    help="semantic: where the encoder runs (cpu, cuda, cuda:1).",
)
@click.option(
    "--judge-model",
    help="semantic: the model that judges each candidate pair (without one, every "
    "candidate above the floor is a match).",
)
@config_option(
    "--judge-base-url",
    config=BACKEND_OPTIONS,
    field="base_url",
    help="semantic: the judge's OpenAI-compatible endpoint (.../v1).",
)
@config_option(
    "--judge-api-key-env",
    config=BACKEND_OPTIONS,
    field="api_key_env",
    help="semantic: name of the environment variable holding the judge's API key.",
)
@click.option(
    "--judge-cache",
    type=click.Path(dir_okay=False),
    help="semantic: the judge's request cache [default: OUT/judge_cache.jsonl].",
)
@_opt(
    "--fields",
    type=click.Choice(FIELDS),
    help="user: compare the user turns (prompts); all: add the assistant turns.",
)
@_opt(
    "--source-threshold",
    type=click.FloatRange(0, 1),
    help="A source overlapping more than this share of an eval is contaminated.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for matches.jsonl, report.json, contamination.tsv, report.html.",
)
@click.option(
    "--remove/--no-remove",
    default=True,
    show_default=True,
    help="Also write kept/<source>.jsonl and removed/<source>.jsonl.",
)
@_opt("--workers", type=click.IntRange(1), help="Processes that match batches in parallel.")
@_opt("--batch-size", type=click.IntRange(1), help="Training rows per batch.")
@click.option(
    "--allow-bad-evals",
    is_flag=True,
    help="Drop evaluation instances with an empty text or a repeated id, counted in "
    "report.json, instead of stopping.",
)
@on_bad_row_option
def decontam(
    train,
    evals,
    eval_dir,
    methods,
    encoder,
    judge_model,
    judge_cache,
    out_dir,
    remove,
    allow_bad_evals,
    on_bad_row,
    **_config,
) -> None:
    """Find evaluation instances that leak into training data; report and clean.

    Example: skillmix decontam --train pool.jsonl --eval humaneval --method ngram --out out/
    """
    config = config_values(DecontamConfig)
    try:
        result, accounting = decontaminate_files(
            train,
            list(evals),
            out_dir,
            on_bad_row=on_bad_row,
            method=list(config.pop("methods")),
            remove=remove,
            allow_bad_evals=allow_bad_evals,
            eval_dir=eval_dir,
            encoder=encoder,
            judge=_judge(judge_model, judge_cache, out_dir),
            judge_name=judge_model or "",
            **config,
        )
    except EvalFileError as exc:  # --on-bad-row does not apply to evaluation files
        raise click.ClickException(f"evaluation file: {exc}") from None
    except (BadRowError, UsageError):
        raise  # cli.py names them
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_summary(result.report))
    if "semantic" in result.report:
        click.echo(_semantic_summary(result.report))
    click.echo(
        f"report: {result.report_path} (and report.html, contamination.tsv, "
        f"matches.jsonl in {out_dir})"
    )
    echo_accounting(accounting)


COMMANDS = [decontam]
