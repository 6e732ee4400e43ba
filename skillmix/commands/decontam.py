"""`skillmix decontam`: audit training data against evaluation sets, write a cleaned copy."""

from __future__ import annotations

from pathlib import Path

import click

from decontam import FIELDS, METHODS, EvalFileError, decontaminate_files
from decontam.engine import SEMANTIC
from manifests import BadRowError
from skillmix.commands._options import echo_accounting, fail_on_bad_row, on_bad_row_option


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


def _judge(
    judge_model: str | None, base_url: str, api_key_env: str | None, cache: str | None, out_dir: str
):
    if judge_model is None:
        return None
    from curate import BackendOptions
    from curate.backends.factory import make_backend
    from skillmix.semantic_judge import LLMJudge

    backend = make_backend(BackendOptions("openai", judge_model, base_url, api_key_env))
    return LLMJudge(backend, cache or Path(out_dir) / "judge_cache.jsonl")


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
@click.option(
    "--method",
    "methods",
    multiple=True,
    default=("ngram",),
    show_default=True,
    type=click.Choice([*METHODS, SEMANTIC, "all"]),
    help="ngram: Tülu 3 coverage; ngram-any: any shared n-gram; minhash: MinHash "
    "LSH near-duplicates; all: the three; semantic: paraphrases by embedding "
    "similarity (--encoder), judged with --judge-model. Repeatable.",
)
@click.option(
    "--ngram-size",
    default=8,
    show_default=True,
    type=click.IntRange(1),
    help="n for the ngram method.",
)
@click.option(
    "--threshold",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="ngram: an instance is contaminated when its coverage exceeds this.",
)
@click.option(
    "--any-ngram-size",
    default=13,
    show_default=True,
    type=click.IntRange(1),
    help="n for the ngram-any method.",
)
@click.option(
    "--max-ngram-rows",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="ngram-any: ignore n-grams found in more training rows than this (0: never).",
)
@click.option(
    "--minhash-threshold",
    default=0.7,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="minhash: Jaccard of word 5-gram sets, at least.",
)
@click.option(
    "--num-perm",
    default=128,
    show_default=True,
    type=click.IntRange(8),
    help="minhash: permutations per signature.",
)
@click.option(
    "--encoder",
    type=click.Path(exists=True, file_okay=False),
    help="semantic: a local Hugging Face encoder folder (model and tokenizer).",
)
@click.option(
    "--top-k",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="semantic: nearest evaluation instances kept per training row.",
)
@click.option(
    "--similarity-floor",
    default=0.7,
    show_default=True,
    type=click.FloatRange(-1, 1),
    help="semantic: cosine similarity, at least.",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="semantic: where the encoder runs (cpu, cuda, cuda:1).",
)
@click.option(
    "--judge-model",
    default=None,
    help="semantic: the model that judges each candidate pair (without one, every "
    "candidate above the floor is a match).",
)
@click.option(
    "--judge-base-url",
    default="http://127.0.0.1:8000/v1",
    show_default=True,
    help="semantic: the judge's OpenAI-compatible endpoint (.../v1).",
)
@click.option(
    "--judge-api-key-env",
    default=None,
    help="semantic: name of the environment variable holding the judge's API key.",
)
@click.option(
    "--judge-cache",
    type=click.Path(dir_okay=False),
    help="semantic: the judge's request cache [default: OUT/judge_cache.jsonl].",
)
@click.option(
    "--fields",
    type=click.Choice(FIELDS),
    default="user",
    show_default=True,
    help="user: compare the user turns (prompts); all: add the assistant turns.",
)
@click.option(
    "--source-threshold",
    default=0.02,
    show_default=True,
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
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Processes that match batches in parallel.",
)
@click.option(
    "--batch-size",
    default=2048,
    show_default=True,
    type=click.IntRange(1),
    help="Training rows per batch.",
)
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
    ngram_size,
    threshold,
    any_ngram_size,
    max_ngram_rows,
    minhash_threshold,
    num_perm,
    encoder,
    top_k,
    similarity_floor,
    device,
    judge_model,
    judge_base_url,
    judge_api_key_env,
    judge_cache,
    fields,
    source_threshold,
    out_dir,
    remove,
    workers,
    batch_size,
    allow_bad_evals,
    on_bad_row,
) -> None:
    """Find evaluation instances that leak into training data; report and clean.

    Example: skillmix decontam --train pool.jsonl --eval humaneval --method ngram --out out/
    """
    if not evals and eval_dir is None:
        raise click.UsageError("give --eval (repeatable) or --eval-dir")
    semantic = SEMANTIC in methods
    if semantic and encoder is None:
        raise click.UsageError("--method semantic needs --encoder PATH (a local model folder)")
    if not semantic and (encoder or judge_model):
        raise click.UsageError("--encoder and --judge-model apply to --method semantic only")
    try:
        judge = _judge(judge_model, judge_base_url, judge_api_key_env, judge_cache, out_dir)
        result, accounting = decontaminate_files(
            train,
            list(evals),
            out_dir,
            on_bad_row=on_bad_row,
            method=list(methods),
            ngram_size=ngram_size,
            threshold=threshold,
            fields=fields,
            remove=remove,
            workers=workers,
            any_ngram_size=any_ngram_size,
            max_ngram_rows=max_ngram_rows or None,
            minhash_threshold=minhash_threshold,
            num_perm=num_perm,
            source_threshold=source_threshold,
            batch_size=batch_size,
            allow_bad_evals=allow_bad_evals,
            eval_dir=eval_dir,
            encoder=encoder,
            judge=judge,
            judge_name=judge_model or "",
            semantic_top_k=top_k,
            semantic_floor=similarity_floor,
            semantic_device=device,
        )
    except EvalFileError as exc:  # --on-bad-row does not apply to evaluation files
        raise click.ClickException(f"evaluation file: {exc}") from None
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
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
