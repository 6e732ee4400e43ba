"""The three synthesis stages as file-to-file runs; `run_synth` (what `skillmix synth`
calls) picks the stage from the inputs it is given."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from curate.backends import RequestCache
from curate.backends.factory import BackendOptions, make_backend
from curate.synth.personas import load_personas
from curate.synth.preferences import PreferenceConfig, check_of, synthesize_preferences
from curate.synth.prompts import PromptConfig, synthesize_prompts
from curate.synth.records import read_prompt_records, write_prompt_records
from curate.synth.responses import ResponseConfig, synthesize_responses
from manifests import Accounting, RejectsWriter, write_rows
from manifests.atomic import atomic_write_text
from manifests.errors import UsageError
from manifests.rejects import rejects_path_for


class NoPairsError(ValueError):
    """A preference run that wrote no pair; `summary` is what it did (also saved)."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


def cache_path_for(out: str | Path) -> Path:
    """The request cache beside an output: OUT.cache.jsonl."""
    return Path(str(out) + ".cache.jsonl")


def summary_path_for(out: str | Path) -> Path:
    return Path(str(out) + ".summary.json")


def rlvr_path_for(out: str | Path) -> Path:
    """OUT's stem + .rlvr.jsonl; never OUT itself (OUT = X.rlvr.jsonl gives X.rlvr.rlvr.jsonl)."""
    path = Path(out)
    rlvr = path.with_name(path.name.split(".", 1)[0] + ".rlvr.jsonl")
    return rlvr if rlvr.name != path.name else path.with_name(path.stem + ".rlvr.jsonl")


def _distinct_paths(**paths: str | Path) -> None:
    """No output may land on an input or on another output of the same run."""
    seen: dict[Path, str] = {}
    for name, path in paths.items():
        resolved = Path(path).resolve()
        if resolved in seen:
            raise ValueError(
                f"{name} and {seen[resolved]} are the same file ({path}); give them different paths"
            )
        seen[resolved] = name


def _failure_text(failures: dict[str, int]) -> str:
    return ", ".join(f"{kind} x{n}" for kind, n in sorted(failures.items()))


def _write_summary(path: Path, summary: dict) -> None:
    atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True) + "\n")


def run_synth(
    out: str | Path,
    pool: list[BackendOptions],
    *,
    responses: str | Path | None = None,
    preferences: str | Path | None = None,
    judge: BackendOptions | None = None,
    prompt_config: PromptConfig | None = None,
    response_config: ResponseConfig | None = None,
    preference_config: PreferenceConfig | None = None,
    personas: str = "builtin",
    persona_field: str = "persona",
    rlvr_out: str | Path | None = None,
    cache: str | Path | None = None,
    on_bad_row: str = "error",
) -> dict:
    """One stage, chosen by the input given: none, stage 1 (prompts from personas);
    `responses` (prompt records), stage 2; `preferences` (prompt rows), stage 3, the only
    one that takes a `pool` of several models (and a `judge`). Returns the run summary."""
    if responses is not None and preferences is not None:
        raise UsageError("--responses and --preferences are two stages; give one")
    if preferences is None and len(pool) > 1:
        raise UsageError(
            "--model is given more than once; only stage 3 (--preferences) takes a pool of models"
        )
    if preferences is not None:
        config = preference_config or PreferenceConfig()
        return run_preference_stage(preferences, out, config, pool, judge, cache, on_bad_row)
    if responses is not None:
        config = response_config or ResponseConfig()
        return run_response_stage(responses, out, config, pool[0], rlvr_out, cache, on_bad_row)
    config = prompt_config or PromptConfig()
    return run_prompt_stage(out, config, pool[0], personas, persona_field, cache)


def run_prompt_stage(
    out: str | Path,
    config: PromptConfig,
    backend: BackendOptions,
    personas: str = "builtin",
    persona_field: str = "persona",
    cache: str | Path | None = None,
) -> dict:
    """Stage 1: write prompt records to `out`; returns the run summary (also saved)."""
    people = load_personas(personas, persona_field)
    engine = make_backend(backend)
    with RequestCache(cache or cache_path_for(out)) as request_cache:
        result = synthesize_prompts(people, engine, request_cache, config, personas)
    write_prompt_records(result.rows, out)
    summary = {
        "stage": "prompts",
        "output": str(out),
        "personas": personas,
        "personas_available": len(people),
        "config": asdict(config),
        "backend": backend.describe(),
        "accounting": result.accounting.to_dict(),
        "usage": result.usage.to_dict(),
    }
    _write_summary(summary_path_for(out), summary)
    return summary


def run_response_stage(
    prompts: str | Path,
    out: str | Path,
    config: ResponseConfig,
    backend: BackendOptions,
    rlvr_out: str | Path | None = None,
    cache: str | Path | None = None,
    on_bad_row: str = "error",
) -> dict:
    """Stage 2: answer the prompt records; write sft rows to `out`, rlvr rows beside it."""
    rlvr_out = Path(rlvr_out) if rlvr_out else rlvr_path_for(out)
    cache = cache or cache_path_for(out)
    _distinct_paths(
        prompts=prompts,
        output=out,
        rlvr_output=rlvr_out,
        cache=cache,
        summary=summary_path_for(out),
    )
    read_acc = Accounting()
    with RejectsWriter(rejects_path_for(out)) as rejects:
        records = list(read_prompt_records(prompts, on_bad_row, rejects, read_acc))
    engine = make_backend(backend)
    with RequestCache(cache) as request_cache:
        result = synthesize_responses(records, engine, request_cache, config)
    answered = result.usage.requests + result.usage.cached
    accounts = {}
    for name, stage in (("sft", result.sft_accounting), ("rlvr", result.rlvr_accounting)):
        accounts[name] = read_acc.then(stage).to_dict()
    summary = {
        "stage": "responses",
        "prompts": str(prompts),
        "output": str(out),
        "rlvr_output": str(rlvr_out),
        "config": asdict(config),
        "backend": backend.describe(),
        "accounting": accounts,
        "usage": result.usage.to_dict(),
        "failures": result.failures,
        "notes": result.notes,
    }
    _write_summary(summary_path_for(out), summary)
    if records and not answered:
        raise ValueError(
            f"every request failed ({_failure_text(result.failures)}); "
            f"nothing written (summary: {summary_path_for(out)})"
        )
    write_rows(result.sft, out, "sft")
    write_rows(result.rlvr, rlvr_out, "rlvr")
    return summary


def run_preference_stage(
    prompts: str | Path,
    out: str | Path,
    config: PreferenceConfig,
    pool: list[BackendOptions],
    judge: BackendOptions | None,
    cache: str | Path | None = None,
    on_bad_row: str = "error",
) -> dict:
    """Stage 3: prompt rows (any file read_rows takes as kind 'prompt') -> preference rows.

    Every record is read and validated (its check too) before the first request. A run
    that writes no pair raises ValueError saying why (removal reasons, failed requests)."""
    cache = cache or cache_path_for(out)
    _distinct_paths(prompts=prompts, output=out, cache=cache, summary=summary_path_for(out))
    read_acc = Accounting()
    with RejectsWriter(rejects_path_for(out)) as rejects:
        records = list(_checked_prompts(prompts, on_bad_row, rejects, read_acc))
    engines = [make_backend(member) for member in pool]
    judge_engine = make_backend(judge) if judge is not None else None
    with RequestCache(cache) as request_cache:
        result = synthesize_preferences(records, engines, judge_engine, request_cache, config)
    acc = result.accounting
    total = read_acc.then(acc)
    summary = {
        "stage": "preferences",
        "prompts": str(prompts),
        "output": str(out),
        "config": asdict(config),
        "pool": [member.describe() for member in pool],
        "judge": judge.describe() if judge is not None else None,
        "accounting": total.to_dict(),
        "usage": {name: usage.to_dict() for name, usage in result.usage.items()},
        "failures": result.failures,
        "notes": result.notes,
    }
    _write_summary(summary_path_for(out), summary)
    if not result.rows:
        why = ", ".join(f"{k}={v}" for k, v in sorted(total.removed.items())) or "no prompts"
        if total.rejected:
            why += f", rejected={total.rejected}"
        failed = result.failure_summary()
        raise NoPairsError(
            f"no preference pairs written ({why})"
            + (f"; requests without an answer: {failed}" if failed else "")
            + f"; summary {summary_path_for(out)}",
            summary,
        )
    write_rows(result.rows, out, "preference")
    return summary


def _checked_prompts(
    path: str | Path, on_bad_row: str, rejects: RejectsWriter, acc: Accounting
) -> Iterator[dict]:
    """Prompt rows whose known check (verifier, ground truth) can be scored; the others are
    bad rows, named or rejected, before any request is sent."""
    from curate.verifiers import truth_problem
    from manifests import read_rows

    def problem(row: dict) -> str | None:
        check = check_of(row)
        return truth_problem(*check) if check is not None else None

    yield from read_rows(
        path, "prompt", on_bad_row=on_bad_row, rejects=rejects, accounting=acc, check=problem
    )
