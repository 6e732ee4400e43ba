"""`skillmix synth`, `skillmix augment-if`, `skillmix tag train|apply`: the curate room.

The room is imported inside each command (its config classes by name), so `skillmix --help`
stays fast; every default is its config's, shown by --help.
"""

from __future__ import annotations

import json

import click

from curate.verifiers import ALIASES, VERIFIERS
from manifests import BadRowError
from manifests.errors import UsageError
from manifests.text import TEXT_FIELDS
from skillmix.commands._options import (
    BACKEND_OPTIONS,
    KIND_CHOICE,
    backend_options,
    build,
    config_option,
    config_values,
    csv_values,
    echo_accounting,
    on_bad_row_option,
    option_for,
    options,
)

PROMPTS = "curate.synth.prompts:PromptConfig"
RESPONSES = "curate.synth.responses:ResponseConfig"
PREFERENCES = "curate.synth.preferences:PreferenceConfig"
SYNTH = "curate.synth.run:run_synth"
STAGES = {"prompts": PROMPTS, "responses": RESPONSES, "preferences": PREFERENCES}
AUGMENT = "curate.ifaug.augment:AugmentConfig"
AUGMENT_FILE = "curate.ifaug.run:augment_file"
TAG_TRAIN = "curate.tagging.fasttext_tagger:TagTrainConfig"
TAG_APPLY = "curate.tagging.fasttext_tagger:apply_tagger"
_prompt, _synth = option_for(PROMPTS), option_for(SYNTH)
_response, _preference, _stage = option_for(RESPONSES), option_for(PREFERENCES), option_for(STAGES)


def _skills(ctx: click.Context, param: click.Parameter, value: object) -> tuple[str, ...] | None:
    from curate.synth.skills import SKILLS  # the skill list's owner

    skills = csv_values(ctx, param, value)
    unknown = sorted(set(skills or ()) - set(SKILLS))
    if unknown:
        raise click.BadParameter(f"unknown skills {unknown}; known: {list(SKILLS)}")
    return skills


def _model_spec(spec: str) -> tuple[str, str | None]:
    """NAME or NAME@BASE_URL."""
    name, at, url = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if at and not (name and url):
        raise click.BadParameter(f"expected NAME@BASE_URL, got {spec!r}")
    return name, url or None


def _model_specs(ctx: click.Context, param: click.Parameter, value: object) -> object:
    if value is None:
        return None
    return [_model_spec(v) for v in value] if isinstance(value, tuple) else _model_spec(value)


def _backend(model: tuple[str, str | None], base_url: str | None = None):
    """BackendOptions from the backend flags; an endpoint given with the model (or for the
    judge) means an OpenAI-compatible server whatever --backend says."""
    name, url = model
    url = url or base_url
    return build(
        BACKEND_OPTIONS, model=name, **({"kind": "openai", "base_url": url} if url else {})
    )


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


def _room_errors(run) -> object:
    """Run a room function; its bad rows and bad inputs become one named line."""
    try:
        return run()
    except (BadRowError, UsageError):
        raise  # cli.py names them
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


synth_options = options(
    click.argument("out", type=click.Path(dir_okay=False)),
    click.option(
        "--responses",
        "prompts",
        type=click.Path(exists=True, dir_okay=False),
        help="Stage 2: answer the prompt records in this file (written by stage 1); "
        "OUT gets sft rows and --rlvr-out the rlvr rows. Without it: stage 1, "
        "OUT gets prompt records.",
    ),
    click.option(
        "--preferences",
        "pref_prompts",
        type=click.Path(exists=True, dir_okay=False),
        help="Stage 3: preference pairs for the prompts in this file (stage-1 records or any "
        "prompt rows): every --model answers each prompt --samples times, --judge-model rates "
        "the answers (prompts with a known check are paired by their verifier instead); OUT "
        "gets preference rows.",
    ),
    _prompt("--skills", callback=_skills, help="Stage 1: comma-separated skills to synthesize."),
    _prompt(
        "--per-skill",
        "-n",
        type=click.IntRange(1),
        help="Stage 1: prompts per skill (personas drawn without replacement).",
    ),
    _synth(
        "--personas",
        help="Stage 1: 'builtin' (300 personas shipped with skillmix), a local file "
        "(.jsonl/.parquet/.txt ...) or hf://proj-persona/PersonaHub:persona.",
    ),
    _synth("--persona-field", help="Stage 1: the field that holds the persona text."),
    _prompt(
        "--dedup-threshold",
        field="minhash_threshold",
        type=click.FloatRange(0, 1),
        zero_is_off=True,
        help="Stage 1: MinHash Jaccard at which generated prompts count as near "
        "duplicates (0 turns near-duplicate removal off; exact always on).",
    ),
    _prompt(
        "--decontam",
        callback=csv_values,
        help="Stage 1: comma-separated evaluation sets to drop matching prompts for "
        "(registry names like gsm8k,math or NAME=path.jsonl:FIELD).",
    ),
    _prompt(
        "--max-constraints",
        type=click.IntRange(1, 3),
        help="Stage 1: most IFEval constraints per prompt.",
    ),
    click.option(
        "--rlvr-out",
        type=click.Path(dir_okay=False),
        help="Stage 2: where rlvr rows go (default: OUT's stem + .rlvr.jsonl).",
    ),
    config_option(
        "--samples",
        config={"responses": RESPONSES, "preferences": PREFERENCES},
        type=click.IntRange(1),
        help="Stage 2: answers per prompt; with more than one, the ground truth is the "
        "majority answer. Stage 3: answers per pool model per prompt.",
    ),
    _response(
        "--min-agreement",
        type=click.FloatRange(0, 1),
        help="Stage 2: share of samples that must agree on the answer (with --samples>1).",
    ),
    backend_options,
    click.option(
        "--model",
        "models",
        required=True,
        multiple=True,
        callback=_model_specs,
        help="Model name sent to the server, or a local path / hub name for transformers. "
        "NAME@BASE_URL sends to that OpenAI-compatible endpoint whatever --backend says. "
        "Stage 3 takes it repeated: the model pool.",
    ),
    click.option(
        "--judge-model",
        callback=_model_specs,
        help="Stage 3: the model that rates answers (NAME or NAME@BASE_URL).",
    ),
    click.option(
        "--judge-base-url",
        help="Stage 3: the judge's OpenAI-compatible endpoint (default: --base-url).",
    ),
    _preference(
        "--min-margin",
        type=click.FloatRange(0),
        help="Stage 3: chosen minus rejected mean rating, above.",
    ),
    _preference(
        "--judge-retries",
        type=click.IntRange(0),
        help="Stage 3: more judge calls (new seed) for an answer that cannot be parsed; "
        "then the answer counts as judge_unparsed.",
    ),
    _preference(
        "--keep-truncated",
        is_flag=True,
        help="Stage 3: pair answers cut off at --max-tokens too (default: drop them).",
    ),
    _stage(
        "--temperature",
        field="params.temperature",
        type=click.FloatRange(0),
        help="Sampling temperature (the judge always uses 0).",
    ),
    _stage("--top-p", field="params.top_p", type=click.FloatRange(0, 1), help="Nucleus sampling."),
    _stage(
        "--max-tokens",
        field="params.max_tokens",
        type=click.IntRange(1),
        help="Most tokens per answer.",
    ),
    _stage(
        "--seed",
        type=int,
        help="Seeds persona sampling, request seeds and constraint sampling.",
    ),
    click.option(
        "--cache",
        type=click.Path(dir_okay=False),
        help="Request cache (default OUT.cache.jsonl). Rerun the same command to resume.",
    ),
    _prompt("--source", help="Stage 1: the `source` of the rows."),
    on_bad_row_option,
)


@click.command()
@synth_options
def synth(
    out,
    prompts,
    pref_prompts,
    models,
    judge_model,
    judge_base_url,
    rlvr_out,
    cache,
    on_bad_row,
    **_config,
) -> None:
    """Persona-driven skill synthesis and preference pairs, in three resumable stages.

    \b
    Stage 1 (prompts):     skillmix synth prompts.jsonl --skills math,gsm -n 100 --model M
    Stage 2 (responses):   skillmix synth sft.jsonl --responses prompts.jsonl --model M2
    Stage 3 (preferences): skillmix synth pairs.jsonl --preferences prompts.jsonl \\
                             --model M1 --model M2@http://host:8001/v1 --judge-model J
    """
    from curate.synth.run import NoPairsError, run_synth

    def run() -> dict:
        try:
            return run_synth(
                out,
                [_backend(model) for model in models],
                responses=prompts,
                preferences=pref_prompts,
                judge=_backend(judge_model, judge_base_url) if judge_model else None,
                prompt_config=build(PROMPTS),
                response_config=build(RESPONSES),
                preference_config=build(PREFERENCES),
                **config_values(SYNTH),
                rlvr_out=rlvr_out,
                cache=cache,
                on_bad_row=on_bad_row,
            )
        except NoPairsError as exc:
            _echo_summary(exc.summary)  # what the run did, before the reason it wrote nothing
            raise

    summary = _room_errors(run)
    _echo_summary(summary)
    for note in summary.get("notes", []):
        click.echo(f"note: {note}", err=True)
    rlvr = f" and {summary['rlvr_output']}" if "rlvr_output" in summary else ""
    click.echo(f"wrote {out}{rlvr}; summary {out}.summary.json")


def _echo_summary(summary: dict) -> None:
    """A stage's accounting and request lines, as its summary records them."""
    if summary["stage"] == "preferences":
        _echo_preference_accounting(summary)
        return
    accounting = summary["accounting"]
    if summary["stage"] == "prompts":
        _echo_stage("prompts", accounting)
    else:
        _echo_stage("sft", accounting["sft"])
        _echo_stage("rlvr", accounting["rlvr"])
    _echo_usage(summary["usage"])


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
@config_option(
    "--min-constraints",
    config=AUGMENT,
    type=click.IntRange(1, 3),
    help="Fewest constraints added to a prompt.",
)
@config_option(
    "--max-constraints",
    config=AUGMENT,
    type=click.IntRange(1, 3),
    help="Most constraints added to a prompt (conflicting pairs are never drawn).",
)
@config_option(
    "--types",
    config=AUGMENT,
    field="instruction_ids",
    callback=csv_values,
    show_default="all IFEval instruction ids",
    help="Comma-separated IFEval instruction ids to draw from.",
)
@config_option(
    "--seed",
    config=AUGMENT,
    type=int,
    help="Seeds the draw (per row, from its id: row order does not matter).",
)
@config_option("--source", config=AUGMENT_FILE, help="Override the rows' `source`.")
@on_bad_row_option
def augment_if(in_path, out_path, on_bad_row, **_config) -> None:
    """Add 1-3 verifiable IFEval constraints to each prompt of IN; write rlvr rows to OUT.

    IN holds prompts (prompt-only chat rows, `skillmix synth` stage-1 files) or any rows
    whose prompt is taken.

    The rows' ground_truth lists instruction ids and kwargs in the public IFEval layout;
    the `ifeval` verifier scores answers against it.
    """
    from curate.ifaug import augment_file

    accounting = _room_errors(
        lambda: augment_file(
            in_path, out_path, build(AUGMENT), **config_values(AUGMENT_FILE), on_bad_row=on_bad_row
        )
    )
    echo_accounting(accounting)
    click.echo(f"wrote {out_path}")


@click.group()
def tag() -> None:
    """Skill tagging with fastText: train on labeled rows, tag unlabeled pools."""


@tag.command("train")
@click.argument("labeled", metavar="LABELED")
@click.argument("out_model", metavar="OUT.bin", type=click.Path(dir_okay=False))
@config_option(
    "--valid-fraction",
    config=TAG_TRAIN,
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of rows held out (chosen from the row id) for precision/recall.",
)
@config_option(
    "--epoch", config=TAG_TRAIN, type=click.IntRange(1), help="fastText training epochs."
)
@config_option(
    "--lr",
    config=TAG_TRAIN,
    type=click.FloatRange(0, min_open=True),
    help="fastText learning rate.",
)
@config_option(
    "--word-ngrams", config=TAG_TRAIN, type=click.IntRange(1), help="fastText word n-gram length."
)
@config_option(
    "--dim",
    config=TAG_TRAIN,
    type=click.IntRange(1),
    help="fastText vector size (unset: 4 per label, 16 to 64).",
)
@config_option(
    "--bucket",
    config=TAG_TRAIN,
    type=click.IntRange(1),
    help="fastText hashed n-gram buckets; the model holds bucket x dim floats "
    "(unset: 4x the distinct word n-grams, 10k to 2M).",
)
@config_option(
    "--quantize/--no-quantize",
    config=TAG_TRAIN,
    help="Quantize the model (.ftz-style); unset: only when the plain model would be large.",
)
@config_option(
    "--fields",
    config=TAG_TRAIN,
    type=click.Choice(TEXT_FIELDS),
    help="Text to classify: user turns, or all turns.",
)
@config_option("--seed", config=TAG_TRAIN, type=int, help="Seeds the split and fastText.")
@on_bad_row_option
def tag_train(labeled, out_model, on_bad_row, **_config) -> None:
    """Train a skill classifier on LABELED rows (their `skill` is the label)."""
    from curate.tagging import train_tagger

    report = _room_errors(
        lambda: train_tagger(labeled, out_model, build(TAG_TRAIN), on_bad_row=on_bad_row)
    )
    click.echo(report.table())
    _echo_stage("tag train", report.accounting)
    click.echo(f"wrote {out_model} and {out_model}.report.json")


@tag.command("apply")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("in_path", metavar="IN")
@click.argument("out_path", metavar="OUT", type=click.Path(dir_okay=False))
@config_option(
    "--min-confidence",
    config=TAG_APPLY,
    type=click.FloatRange(0, 1),
    help="Below this confidence a row keeps its skill (the prediction is still "
    "recorded in its metadata).",
)
@config_option(
    "--kind",
    config=TAG_APPLY,
    type=KIND_CHOICE,
    help="Kind of the input rows (default: detected).",
)
@on_bad_row_option
def tag_apply(model, in_path, out_path, on_bad_row, **_config) -> None:
    """Tag the rows of IN with MODEL: sets `skill`, records confidence in metadata."""
    from curate.tagging import apply_tagger

    accounting = _room_errors(
        lambda: apply_tagger(
            model, in_path, out_path, **config_values(TAG_APPLY), on_bad_row=on_bad_row
        )
    )
    echo_accounting(accounting)
    click.echo(f"wrote {out_path}")


def _verifier_names() -> str:
    aliases = ", ".join(f"{alias} = {name}" for alias, name in sorted(ALIASES.items()))
    return ", ".join(sorted(VERIFIERS)) + (f" (aliases: {aliases})" if aliases else "")


@click.command(
    "verify-answers",
    help="Score one completion (a file, '-' for stdin) against GROUND_TRUTH; prints the "
    f"score.\n\nVERIFIER is one of: {_verifier_names()}; any case.",
)
@click.argument("verifier")
@click.argument("completion_file", type=click.File())
@click.argument("ground_truth")
def verify_answers(verifier, completion_file, ground_truth) -> None:
    from curate.verifiers import verify

    score = _room_errors(lambda: verify(verifier, completion_file.read(), ground_truth))
    click.echo(json.dumps({"verifier": verifier, "score": score}))


COMMANDS = [synth, augment_if, tag, verify_answers]
