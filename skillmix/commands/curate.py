"""`skillmix synth`, `skillmix augment-if`, `skillmix tag train|apply`: the curate room.

The room is imported inside each command, so `skillmix --help` stays fast.
"""

from __future__ import annotations

import json

import click

from manifests import BadRowError
from skillmix.commands._options import echo_accounting, fail_on_bad_row, on_bad_row_option

SKILL_NAMES = ("math", "gsm", "algebra", "code", "precise_if")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _echo_stage(name: str, accounting: dict) -> None:
    removed = ", ".join(f"{k}={v}" for k, v in sorted(accounting["removed"].items())) or "none"
    click.echo(
        f"{name}: rows in {accounting['rows_in']}, out {accounting['rows_out']}, "
        f"removed {sum(accounting['removed'].values())} ({removed}), "
        f"rejected {accounting['rejected']}",
        err=True,
    )


def _echo_usage(usage: dict) -> None:
    errors = ", ".join(f"{k}={v}" for k, v in sorted(usage["errors"].items())) or "none"
    click.echo(
        f"requests sent {usage['requests']}, from cache {usage['cached']}, "
        f"failed {usage['failed']}, retries {usage['retries']} (errors: {errors}); "
        f"tokens prompt {usage['prompt_tokens']}, completion "
        f"{usage['completion_tokens']}",
        err=True,
    )


@click.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--responses",
    "prompts",
    type=click.Path(exists=True, dir_okay=False),
    help="Stage 2: answer the prompt records in this file (written by stage 1); "
    "OUT gets sft rows and --rlvr-out the rlvr rows. Without it: stage 1, "
    "OUT gets prompt records.",
)
@click.option(
    "--preferences",
    "pref_prompts",
    type=click.Path(exists=True, dir_okay=False),
    help="Stage 3: preference pairs for the prompts in this file (stage-1 records or any "
    "prompt rows): every --model answers each prompt --samples times, --judge-model rates "
    "the answers (prompts with a known check are paired by their verifier instead); OUT "
    "gets preference rows.",
)
@click.option(
    "--skills",
    default=",".join(SKILL_NAMES),
    show_default=True,
    help="Stage 1: comma-separated skills to synthesize.",
)
@click.option(
    "--per-skill",
    "-n",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Stage 1: prompts per skill (personas drawn without replacement).",
)
@click.option(
    "--personas",
    default="builtin",
    show_default=True,
    help="Stage 1: 'builtin' (300 personas shipped with skillmix), a local file "
    "(.jsonl/.parquet/.txt ...) or hf://proj-persona/PersonaHub:persona.",
)
@click.option(
    "--persona-field",
    default="persona",
    show_default=True,
    help="Stage 1: the field that holds the persona text.",
)
@click.option(
    "--dedup-threshold",
    default=0.8,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Stage 1: MinHash Jaccard at which generated prompts count as near "
    "duplicates (0 turns near-duplicate removal off; exact always on).",
)
@click.option(
    "--decontam",
    "decontam_evals",
    default="",
    help="Stage 1: comma-separated evaluation sets to drop matching prompts for "
    "(registry names like gsm8k,math or NAME=path.jsonl:FIELD).",
)
@click.option(
    "--max-constraints",
    default=3,
    show_default=True,
    type=click.IntRange(1, 3),
    help="Stage 1: most IFEval constraints on a precise_if prompt.",
)
@click.option(
    "--rlvr-out",
    type=click.Path(dir_okay=False),
    help="Stage 2: where rlvr rows go (default: OUT's stem + .rlvr.jsonl).",
)
@click.option(
    "--samples",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Stage 2: answers per prompt; with more than one, the ground truth is the "
    "majority answer. Stage 3: answers per pool model per prompt.",
)
@click.option(
    "--min-agreement",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Stage 2: share of samples that must agree on the answer (with --samples>1).",
)
@click.option(
    "--backend",
    type=click.Choice(["openai", "transformers"]),
    default="openai",
    show_default=True,
    help="openai: any OpenAI-compatible server (vLLM, SGLang, TGI, "
    "hosted); transformers: a local model.",
)
@click.option(
    "--model",
    "models",
    required=True,
    multiple=True,
    help="Model name sent to the server, or a local path / hub name for transformers. "
    "NAME@BASE_URL sends to that OpenAI-compatible endpoint whatever --backend says. "
    "Stage 3 takes it repeated: the model pool.",
)
@click.option(
    "--judge-model",
    default=None,
    help="Stage 3: the model that rates answers (NAME or NAME@BASE_URL).",
)
@click.option(
    "--judge-base-url",
    default=None,
    help="Stage 3: the judge's OpenAI-compatible endpoint (default: --base-url).",
)
@click.option(
    "--min-margin",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Stage 3: chosen's mean rating minus rejected's must exceed this.",
)
@click.option(
    "--judge-retries",
    default=2,
    show_default=True,
    type=click.IntRange(0),
    help="Stage 3: more judge calls (new seed) for an answer that cannot be parsed; "
    "then the answer counts as judge_unparsed.",
)
@click.option(
    "--keep-truncated",
    is_flag=True,
    help="Stage 3: pair answers cut off at --max-tokens too (default: drop them).",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000/v1",
    show_default=True,
    help="OpenAI-compatible endpoint (…/v1).",
)
@click.option(
    "--api-key-env",
    default=None,
    help="Name of the environment variable that holds the API key (never written).",
)
@click.option(
    "--concurrency",
    default=16,
    show_default=True,
    type=click.IntRange(1),
    help="Requests in flight at once.",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=120.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds per request before retry.",
)
@click.option(
    "--max-retries",
    default=8,
    show_default=True,
    type=click.IntRange(0),
    help="Retries on 429, 5xx, timeouts and malformed answers (exponential backoff with jitter).",
)
@click.option(
    "--tpm",
    "tokens_per_minute",
    default=None,
    type=click.FloatRange(1),
    help="Tokens-per-minute limit (prompt estimate + max tokens reserved per request).",
)
@click.option(
    "--batch-size",
    default=8,
    show_default=True,
    type=click.IntRange(1),
    help="transformers: prompts per generate() call.",
)
@click.option(
    "--temperature",
    default=None,
    type=click.FloatRange(0),
    help="Sampling temperature (default 0.9 for prompts, 0.7 for responses, 0.8 for "
    "preference completions; the judge always uses 0).",
)
@click.option(
    "--top-p", default=1.0, show_default=True, type=click.FloatRange(0, 1), help="Nucleus sampling."
)
@click.option(
    "--max-tokens",
    default=1024,
    show_default=True,
    type=click.IntRange(1),
    help="Most tokens per answer.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seeds persona sampling, request seeds and constraint sampling.",
)
@click.option(
    "--cache",
    type=click.Path(dir_okay=False),
    help="Request cache (default OUT.cache.jsonl). Rerun the same command to resume.",
)
@click.option(
    "--source",
    default="skillmix_synth",
    show_default=True,
    help="Stage 1: the `source` of the rows.",
)
@on_bad_row_option
def synth(
    out,
    prompts,
    pref_prompts,
    skills,
    per_skill,
    personas,
    persona_field,
    dedup_threshold,
    decontam_evals,
    max_constraints,
    rlvr_out,
    samples,
    min_agreement,
    backend,
    models,
    judge_model,
    judge_base_url,
    min_margin,
    judge_retries,
    keep_truncated,
    base_url,
    api_key_env,
    concurrency,
    timeout_s,
    max_retries,
    tokens_per_minute,
    batch_size,
    temperature,
    top_p,
    max_tokens,
    seed,
    cache,
    source,
    on_bad_row,
) -> None:
    """Persona-driven skill synthesis and preference pairs, in three resumable stages.

    \b
    Stage 1 (prompts):     skillmix synth prompts.jsonl --skills math,gsm -n 100 --model M
    Stage 2 (responses):   skillmix synth sft.jsonl --responses prompts.jsonl --model M2
    Stage 3 (preferences): skillmix synth pairs.jsonl --preferences prompts.jsonl \\
                             --model M1 --model M2@http://host:8001/v1 --judge-model J
    """
    from curate import BackendOptions

    if prompts is not None and pref_prompts is not None:
        raise click.UsageError("--responses and --preferences are two stages; give one")

    def options(spec: str, url: str | None = None) -> BackendOptions:
        name, at, spec_url = spec.rpartition("@") if "@" in spec else (spec, "", "")
        if at and not (name and spec_url):
            raise click.BadParameter(f"expected NAME@BASE_URL, got {spec!r}", param_hint="--model")
        kind = "openai" if at or url else backend
        return BackendOptions(
            kind,
            name if at else spec,
            spec_url or url or base_url,
            api_key_env,
            concurrency,
            timeout_s,
            max_retries,
            tokens_per_minute,
            batch_size,
        )

    pool = [options(spec) for spec in models]
    if pref_prompts is None and len(pool) > 1:
        raise click.UsageError(
            "--model is given more than once; only stage 3 (--preferences) takes a pool of models"
        )
    try:
        if pref_prompts is not None:
            judge = options(judge_model, judge_base_url) if judge_model else None
            summary = _preferences(
                out,
                pref_prompts,
                pool,
                judge,
                samples,
                temperature,
                top_p,
                max_tokens,
                seed,
                min_margin,
                judge_retries,
                keep_truncated,
                cache,
                on_bad_row,
            )
        elif prompts is None:
            summary = _prompts(
                out,
                pool[0],
                skills,
                per_skill,
                seed,
                temperature,
                top_p,
                max_tokens,
                source,
                dedup_threshold,
                decontam_evals,
                max_constraints,
                personas,
                persona_field,
                cache,
            )
        else:
            summary = _responses(
                out,
                prompts,
                pool[0],
                samples,
                min_agreement,
                seed,
                temperature,
                top_p,
                max_tokens,
                rlvr_out,
                cache,
                on_bad_row,
            )
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for note in summary.get("notes", []):
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"wrote {out}"
        + (f" and {summary['rlvr_output']}" if prompts else "")
        + f"; summary {out}.summary.json"
    )


def _prompts(
    out,
    backend,
    skills,
    per_skill,
    seed,
    temperature,
    top_p,
    max_tokens,
    source,
    dedup_threshold,
    decontam_evals,
    max_constraints,
    personas,
    persona_field,
    cache,
) -> dict:
    from curate import PromptConfig, SamplingParams
    from curate.synth.run import run_prompt_stage

    unknown = sorted(set(_csv(skills)) - set(SKILL_NAMES))
    if unknown:
        raise click.BadParameter(f"unknown skills {unknown}", param_hint="--skills")
    params = SamplingParams(0.9 if temperature is None else temperature, top_p, max_tokens)
    config = PromptConfig(
        skills=_csv(skills),
        per_skill=per_skill,
        seed=seed,
        params=params,
        source=source,
        minhash_threshold=dedup_threshold or None,
        decontam=_csv(decontam_evals),
        max_constraints=max_constraints,
    )
    summary = run_prompt_stage(out, config, backend, personas, persona_field, cache)
    _echo_stage("prompts", summary["accounting"])
    _echo_usage(summary["usage"])
    return summary


def _responses(
    out,
    prompts,
    backend,
    samples,
    min_agreement,
    seed,
    temperature,
    top_p,
    max_tokens,
    rlvr_out,
    cache,
    on_bad_row,
) -> dict:
    from curate import ResponseConfig, SamplingParams
    from curate.synth.run import run_response_stage

    params = SamplingParams(0.7 if temperature is None else temperature, top_p, max_tokens)
    config = ResponseConfig(samples=samples, min_agreement=min_agreement, seed=seed, params=params)
    summary = run_response_stage(prompts, out, config, backend, rlvr_out, cache, on_bad_row)
    _echo_stage("sft", summary["accounting"]["sft"])
    _echo_stage("rlvr", summary["accounting"]["rlvr"])
    _echo_usage(summary["usage"])
    return summary


def _preferences(
    out,
    prompts,
    pool,
    judge,
    samples,
    temperature,
    top_p,
    max_tokens,
    seed,
    min_margin,
    judge_retries,
    keep_truncated,
    cache,
    on_bad_row,
) -> dict:
    from curate import SamplingParams
    from curate.synth.preferences import PreferenceConfig
    from curate.synth.run import run_preference_stage

    params = SamplingParams(0.8 if temperature is None else temperature, top_p, max_tokens)
    config = PreferenceConfig(
        samples=samples,
        seed=seed,
        params=params,
        judge_retries=judge_retries,
        min_margin=min_margin,
        keep_truncated=keep_truncated,
    )
    try:
        summary = run_preference_stage(prompts, out, config, pool, judge, cache, on_bad_row)
    except ValueError:
        _echo_preference_summary(out)  # what the run did, before the reason it wrote nothing
        raise
    _echo_preference_accounting(summary)
    return summary


def _echo_preference_summary(out) -> None:
    from curate.synth.run import summary_path_for

    path = summary_path_for(out)
    if path.exists():
        summary = json.loads(path.read_text())
        if summary.get("stage") == "preferences":
            _echo_preference_accounting(summary)


def _echo_preference_accounting(summary: dict) -> None:
    acc = summary["accounting"]
    removed = ", ".join(f"{k}={v}" for k, v in sorted(acc["removed"].items())) or "none"
    click.echo(
        f"preferences: prompts in {acc['rows_in']}, pairs out {acc['rows_out']}, removed "
        f"{sum(acc['removed'].values())} ({removed}), rejected {acc['rejected']}",
        err=True,
    )
    for name, usage in sorted(summary["usage"].items()):
        click.echo(f"{name}: ", nl=False, err=True)
        _echo_usage(usage)


@click.command("augment-if")
@click.argument("in_path", metavar="IN")
@click.argument("out_path", metavar="OUT", type=click.Path(dir_okay=False))
@click.option(
    "--min-constraints",
    default=1,
    show_default=True,
    type=click.IntRange(1, 3),
    help="Fewest constraints added to a prompt.",
)
@click.option(
    "--max-constraints",
    default=3,
    show_default=True,
    type=click.IntRange(1, 3),
    help="Most constraints added to a prompt (conflicting pairs are never drawn).",
)
@click.option(
    "--types",
    default="",
    help="Comma-separated IFEval instruction ids to draw from (default: all 25).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seeds the draw (per row, from its id: row order does not matter).",
)
@click.option("--source", default=None, help="Override the rows' `source`.")
@on_bad_row_option
def augment_if(
    in_path, out_path, min_constraints, max_constraints, types, seed, source, on_bad_row
) -> None:
    """Add 1-3 verifiable IFEval constraints to each prompt of IN; write rlvr rows to OUT.

    IN holds prompts (prompt-only chat rows, `skillmix synth` stage-1 files) or any rows
    whose prompt is taken.

    The rows' ground_truth lists instruction ids and kwargs in the public IFEval layout;
    the `ifeval` verifier scores answers against it.
    """
    from curate.ifaug import INSTRUCTION_IDS, AugmentConfig, augment_file

    try:
        config = AugmentConfig(
            seed, min_constraints, max_constraints, _csv(types) or INSTRUCTION_IDS
        )
        accounting = augment_file(in_path, out_path, config, source=source, on_bad_row=on_bad_row)
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    echo_accounting(accounting)
    click.echo(f"wrote {out_path}")


@click.group()
def tag() -> None:
    """Skill tagging with fastText: train on labeled rows, tag unlabeled pools."""


@tag.command("train")
@click.argument("labeled", metavar="LABELED")
@click.argument("out_model", metavar="OUT.bin", type=click.Path(dir_okay=False))
@click.option(
    "--valid-fraction",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of rows held out (chosen from the row id) for precision/recall.",
)
@click.option(
    "--epoch",
    default=25,
    show_default=True,
    type=click.IntRange(1),
    help="fastText training epochs.",
)
@click.option(
    "--lr",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="fastText learning rate.",
)
@click.option(
    "--word-ngrams",
    default=2,
    show_default=True,
    type=click.IntRange(1),
    help="fastText word n-gram length.",
)
@click.option(
    "--dim", default=64, show_default=True, type=click.IntRange(1), help="fastText vector size."
)
@click.option(
    "--bucket",
    default=2_000_000,
    show_default=True,
    type=click.IntRange(1),
    help="fastText hashed n-gram buckets (model size is bucket x dim floats).",
)
@click.option(
    "--fields",
    type=click.Choice(["user", "all"]),
    default="user",
    show_default=True,
    help="Text to classify: user turns, or all turns.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seeds the split and fastText."
)
@on_bad_row_option
def tag_train(
    labeled,
    out_model,
    valid_fraction,
    epoch,
    lr,
    word_ngrams,
    dim,
    bucket,
    fields,
    seed,
    on_bad_row,
) -> None:
    """Train a skill classifier on LABELED rows (their `skill` is the label)."""
    from curate.tagging import TagTrainConfig, train_tagger

    config = TagTrainConfig(valid_fraction, seed, epoch, lr, word_ngrams, dim, 1, fields, bucket)
    try:
        report = train_tagger(labeled, out_model, config, on_bad_row=on_bad_row)
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.table())
    _echo_stage("tag train", report.accounting)
    click.echo(f"wrote {out_model} and {out_model}.report.json")


@tag.command("apply")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("in_path", metavar="IN")
@click.argument("out_path", metavar="OUT", type=click.Path(dir_okay=False))
@click.option(
    "--min-confidence",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Below this confidence a row keeps its skill (the prediction is still "
    "recorded in its metadata).",
)
@click.option(
    "--kind",
    type=click.Choice(["sft", "preference", "rlvr"]),
    default=None,
    help="Kind of the input rows (default: detected).",
)
@on_bad_row_option
def tag_apply(model, in_path, out_path, min_confidence, kind, on_bad_row) -> None:
    """Tag the rows of IN with MODEL: sets `skill`, records confidence in metadata."""
    from curate.tagging import apply_tagger

    try:
        accounting = apply_tagger(
            model,
            in_path,
            out_path,
            min_confidence=min_confidence,
            kind=kind,
            on_bad_row=on_bad_row,
        )
    except BadRowError as exc:
        raise fail_on_bad_row(exc) from None
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    echo_accounting(accounting)
    click.echo(f"wrote {out_path}")


@click.command("verify-answers")
@click.argument("verifier")
@click.argument("completion_file", type=click.File())
@click.argument("ground_truth")
def verify_answers(verifier, completion_file, ground_truth) -> None:
    """Score one completion (a file, '-' for stdin) against GROUND_TRUTH; prints the score."""
    from curate.verifiers import verify

    try:
        click.echo(
            json.dumps(
                {
                    "verifier": verifier,
                    "score": verify(verifier, completion_file.read(), ground_truth),
                }
            )
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = [synth, augment_if, tag, verify_answers]
