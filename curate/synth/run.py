"""The two synthesis stages as file-to-file runs: what `skillmix synth` calls."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from curate.backends import RequestCache
from curate.backends.factory import BackendOptions, make_backend
from curate.synth.personas import load_personas
from curate.synth.preferences import PreferenceConfig, synthesize_preferences
from curate.synth.prompts import PromptConfig, synthesize_prompts
from curate.synth.records import read_prompt_records, write_prompt_records
from curate.synth.responses import ResponseConfig, synthesize_responses
from manifests import Accounting, RejectsWriter, write_rows


def cache_path_for(out: str | Path) -> Path:
    """The request cache beside an output: OUT.cache.jsonl."""
    return Path(str(out) + ".cache.jsonl")


def summary_path_for(out: str | Path) -> Path:
    return Path(str(out) + ".summary.json")


def rlvr_path_for(out: str | Path) -> Path:
    path = Path(out)
    return path.with_name(path.name.split(".", 1)[0] + ".rlvr.jsonl")


def _write_summary(path: Path, summary: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


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
    read_acc = Accounting()
    with RejectsWriter(Path(out).parent / "rejects.jsonl") as rejects:
        records = list(read_prompt_records(prompts, on_bad_row, rejects, read_acc))
    engine = make_backend(backend)
    with RequestCache(cache or cache_path_for(out)) as request_cache:
        result = synthesize_responses(records, engine, request_cache, config)
    write_rows(result.sft, out, "sft")
    write_rows(result.rlvr, rlvr_out, "rlvr")
    accounts = {}
    for name, stage in (("sft", result.sft_accounting), ("rlvr", result.rlvr_accounting)):
        total = Accounting(read_acc.rows_in, stage.rows_out, dict(stage.removed), read_acc.rejected)
        total.check()
        accounts[name] = total.to_dict()
    summary = {
        "stage": "responses",
        "prompts": str(prompts),
        "output": str(out),
        "rlvr_output": str(rlvr_out),
        "config": asdict(config),
        "backend": backend.describe(),
        "accounting": accounts,
        "usage": result.usage.to_dict(),
    }
    _write_summary(summary_path_for(out), summary)
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

    Every record is read and validated before the first request. A run that writes no
    pair raises ValueError with the removal reasons."""
    from manifests import read_rows

    read_acc = Accounting()
    with RejectsWriter(Path(out).parent / "rejects.jsonl") as rejects:
        records = list(
            read_rows(
                prompts, "prompt", on_bad_row=on_bad_row, rejects=rejects, accounting=read_acc
            )
        )
    engines = [make_backend(member) for member in pool]
    judge_engine = make_backend(judge) if judge is not None else None
    with RequestCache(cache or cache_path_for(out)) as request_cache:
        result = synthesize_preferences(records, engines, judge_engine, request_cache, config)
    summary = {
        "stage": "preferences",
        "prompts": str(prompts),
        "output": str(out),
        "config": asdict(config),
        "pool": [member.describe() for member in pool],
        "judge": judge.describe() if judge is not None else None,
        "accounting": result.accounting.to_dict(),
        "read_rejected": read_acc.rejected,
        "usage": {name: usage.to_dict() for name, usage in result.usage.items()},
        "notes": result.notes,
    }
    _write_summary(summary_path_for(out), summary)
    if not result.rows:
        raise ValueError(f"no preference pairs written; removed: {result.accounting.removed}")
    write_rows(result.rows, out, "preference")
    return summary
