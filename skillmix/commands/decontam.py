"""`skillmix decontam`: audit training data against evaluation sets, write a cleaned copy."""

from __future__ import annotations

import click

from decontam import METHODS, EvalFileError, decontaminate_files
from manifests import BadRowError
from skillmix.commands._options import echo_accounting, fail_on_bad_row, on_bad_row_option


def _summary(report: dict) -> str:
    lines = []
    for source, s in report["sources"].items():
        bad = ", ".join(s["contaminated_evals"]) or "none"
        lines.append(f"{source}: rows {s['rows']}, flagged {s['flagged']}, kept {s['kept']}; "
                     f"contaminated evals: {bad}")
    for name, e in report["evals"].items():
        lines.append(f"{name}: {e['contaminated']} of {e['instances']} instances matched")
    return "\n".join(lines)


@click.command()
@click.option("--train", "train", multiple=True, required=True,
              help="Training data (any format skillmix reads, or hf://NAME). Repeatable.")
@click.option("--eval", "evals", multiple=True, required=True,
              help="Evaluation set: a registry name (gsm8k, humaneval, ...), path.jsonl:FIELD, "
                   "or NAME=path:FIELD (join fields with '+'). Repeatable.")
@click.option("--method", type=click.Choice([*METHODS, "all"]), default="ngram",
              show_default=True, help="ngram: Tülu 3 coverage; ngram-any: any shared n-gram; "
                                      "minhash: MinHash LSH near-duplicates; all: the three.")
@click.option("--ngram-size", default=8, show_default=True, type=click.IntRange(1),
              help="n for the ngram method.")
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="ngram: an instance is contaminated when its coverage exceeds this.")
@click.option("--any-ngram-size", default=13, show_default=True, type=click.IntRange(1),
              help="n for the ngram-any method.")
@click.option("--max-ngram-rows", default=1000, show_default=True, type=click.IntRange(0),
              help="ngram-any: ignore n-grams found in more training rows than this (0: never).")
@click.option("--minhash-threshold", default=0.7, show_default=True,
              type=click.FloatRange(0, 1), help="minhash: Jaccard of word 5-gram sets, at least.")
@click.option("--num-perm", default=128, show_default=True, type=click.IntRange(8),
              help="minhash: permutations per signature.")
@click.option("--fields", type=click.Choice(["user", "all"]), default="user", show_default=True,
              help="user: compare the user turns (prompts); all: add the assistant turns.")
@click.option("--source-threshold", default=0.02, show_default=True, type=click.FloatRange(0, 1),
              help="A source overlapping more than this share of an eval is contaminated.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for matches.jsonl, report.json, contamination.tsv, report.html.")
@click.option("--remove/--no-remove", default=True, show_default=True,
              help="Also write kept/<source>.jsonl and removed/<source>.jsonl.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Processes that match batches in parallel.")
@click.option("--batch-size", default=2048, show_default=True, type=click.IntRange(1),
              help="Training rows per batch.")
@click.option("--allow-bad-evals", is_flag=True,
              help="Drop evaluation instances with an empty text or a repeated id, counted in "
                   "report.json, instead of stopping.")
@on_bad_row_option
def decontam(train, evals, method, ngram_size, threshold, any_ngram_size, max_ngram_rows,
             minhash_threshold, num_perm, fields, source_threshold, out_dir, remove, workers,
             batch_size, allow_bad_evals, on_bad_row) -> None:
    """Find evaluation instances that leak into training data; report and clean.

    Example: skillmix decontam --train pool.jsonl --eval humaneval --method ngram --out out/
    """
    try:
        result, accounting = decontaminate_files(
            train, list(evals), out_dir, on_bad_row=on_bad_row, method=method,
            ngram_size=ngram_size, threshold=threshold, fields=fields, remove=remove,
            workers=workers, any_ngram_size=any_ngram_size,
            max_ngram_rows=max_ngram_rows or None, minhash_threshold=minhash_threshold,
            num_perm=num_perm, source_threshold=source_threshold, batch_size=batch_size,
            allow_bad_evals=allow_bad_evals,
        )
    except EvalFileError as exc:  # --on-bad-row does not apply to evaluation files
        raise click.ClickException(f"evaluation file: {exc}") from None
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_summary(result.report))
    click.echo(f"report: {result.report_path} (and report.html, contamination.tsv, "
               f"matches.jsonl in {out_dir})")
    echo_accounting(accounting)


COMMANDS = [decontam]
