"""The pipeline runner: stages in order, each keyed by its config and inputs.

A stage folder holds `stage.json` (key, output sources, accounting, reports) once it has
finished. On a rerun a finished stage with the same key is reused; a stage whose key
changed is cleared and run again, and since each key includes the key of the stage
before it, so is everything after it. A stage with the right key but no `stage.json` was
interrupted: it resumes (finished tasks are skipped; synthesis reuses its request cache,
the mixer its finished shards).

Keys, `stage.json` and `run.json` name paths relative to the recipe's folder or the run dir
(locations.py), so a copied or moved project reuses its stages; what belongs to one run
only (absolute folders, host, times) is kept under their `run` field.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests import Accounting
from manifests.atomic import atomic_write_text, remove_dead_temp_files
from manifests.ids import canonical_json
from manifests.locks import folder_lock
from skillmix.pipeline.executors import ExecutorSpec, run_tasks
from skillmix.pipeline.fingerprint import input_digest, stage_key
from skillmix.pipeline.locations import Locations
from skillmix.pipeline.recipe import RunRecipe, StageSpec
from skillmix.pipeline.safety import (
    forked_children_die_with_parent,
    is_marked,
    mark_stage,
    remove_stage,
)
from skillmix.pipeline.sources import Sources, sources_from_json, sources_to_json
from skillmix.pipeline.stage import StageContext, StageResult
from skillmix.pipeline.stages import STAGES

STAGE_FILE = "stage.json"
KEY_FILE = "key"
RUN_FIELD = "run"  # the one field of stage.json and run.json that differs between equal runs


ACTIONS = {  # what each planned action means, as a dry run says it
    "reuse": "reuse (finished, same inputs and config)",
    "resume": "resume (interrupted; finished work is kept)",
    "run": "run",
    "redo": "redo (config or inputs changed upstream)",
}


@dataclass
class PlannedStage:
    spec: StageSpec
    key: str
    action: str  # one of ACTIONS
    folder: Path


def _option_files(recipe: RunRecipe, spec: StageSpec, where: Locations) -> dict[str, str]:
    stage_cls = STAGES[spec.type]
    files = {}
    for option in stage_cls.FILE_OPTIONS:
        for path in stage_cls.option_paths(spec.options.get(option)):
            name = where.portable(path)  # as written: a link in the project stays a link
            files[f"{option}:{name}"] = input_digest(recipe.resolve(path), name)
    return files


def plan_run(recipe: RunRecipe, run_dir: Path | None = None) -> list[PlannedStage]:
    """What a run will do: per stage, its key and whether it is reused, resumed or run."""
    run_dir = run_dir or recipe.run_dir
    where = Locations.of(run_dir, recipe.base_dir)
    initial = recipe.initial_sources()
    # Takes and totals are the mix stage's business: only it (and what follows) redoes
    # when they change.
    described = {
        name: {k: v for k, v in where.to_portable(ref.to_dict()).items() if k != "take"}
        for name, ref in initial.items()
    }
    digests = {
        name: input_digest(ref.path, where.portable(ref.path)) for name, ref in initial.items()
    }
    previous = stage_key("sources", described, digests, "")
    planned: list[PlannedStage] = []
    stale = False
    for spec in recipe.stages:
        options = {**spec.options, "_mix": recipe.mix_data} if spec.type == "mix" else spec.options
        key = stage_key(spec.type, options, _option_files(recipe, spec, where), previous)
        folder = run_dir / spec.folder
        old_key = (folder / KEY_FILE).read_text().strip() if (folder / KEY_FILE).exists() else None
        if old_key is None:
            action = "run"
        elif old_key != key or stale:
            action = "redo"
        elif (folder / STAGE_FILE).exists():
            action = "reuse"
        else:
            action = "resume"
        stale = stale or action != "reuse"
        planned.append(PlannedStage(spec, key, action, folder))
        previous = key
    return planned


def format_plan(recipe: RunRecipe, run_dir: Path | None = None) -> str:
    """The plan of a run as `skillmix run --dry-run` prints it: one line per stage."""
    run_dir = run_dir or recipe.run_dir
    lines = [f"run directory: {run_dir}"]
    for planned in plan_run(recipe, run_dir):
        lines.append(
            f"  {planned.spec.folder:<24} {planned.spec.type:<14} "
            f"key {planned.key}  {ACTIONS[planned.action]}"
        )
    return "\n".join(lines)


PORTABLE_FIELDS = ("sources", "products", "summary")  # where a stage's records hold paths


def _in_memory(data: dict[str, Any], where: Locations) -> dict[str, Any]:
    """A stage record as stages and the report use it: its paths absolute, here."""
    return {k: where.from_portable(v) if k in PORTABLE_FIELDS else v for k, v in data.items()}


def _load_result(folder: Path, where: Locations) -> tuple[Sources, dict[str, Any]]:
    data = _in_memory(json.loads((folder / STAGE_FILE).read_text()), where)
    return sources_from_json(data["sources"]), data


def _run_facts(where: Locations, started: float) -> dict[str, Any]:
    return {
        "run_dir": str(where.run_dir),
        "recipe_dir": str(where.recipe_dir),
        "host": socket.gethostname(),
        "started_at": _utc(started),
        "finished_at": _utc(time.time()),
    }


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _write_stage_file(
    folder: Path, planned: PlannedStage, result: StageResult, where: Locations, started: float
) -> dict:
    total = result.total()
    total.check()
    data = {
        "stage": planned.spec.name,
        "type": planned.spec.type,
        "key": planned.key,
        "options": planned.spec.options,
        "sources": where.to_portable(sources_to_json(result.sources)),
        "accounting": total.to_dict(),
        "per_source": {k: v.to_dict() for k, v in result.accounting.items()},
        "reports": result.reports,
        "products": where.to_portable(result.products),
        "summary": where.to_portable(result.summary),
        RUN_FIELD: _run_facts(where, started),
    }
    tmp = folder / f".{STAGE_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(folder / STAGE_FILE)
    return _in_memory(json.loads(json.dumps(data, default=str)), where)


def run_pipeline(
    recipe: RunRecipe,
    *,
    run_dir: Path | None = None,
    executor: ExecutorSpec | None = None,
    on_bad_row: str = "error",
    echo: Callable[[str], None] = print,
) -> list[dict]:
    """Run (or resume) every stage; returns the stage records, in order."""
    run_dir = (run_dir or recipe.run_dir).resolve()
    executor = executor or ExecutorSpec()
    with folder_lock(run_dir, "skillmix run"):
        remove_dead_temp_files(run_dir)
        return _run_locked(recipe, run_dir, executor, on_bad_row, echo)


def _run_locked(
    recipe: RunRecipe,
    run_dir: Path,
    executor: ExecutorSpec,
    on_bad_row: str,
    echo: Callable[[str], None],
) -> list[dict]:
    plan = plan_run(recipe, run_dir)
    where = Locations.of(run_dir, recipe.base_dir)
    run_started = time.time()
    _remove_stale_folders(run_dir, {p.folder.name for p in plan})
    sources = recipe.initial_sources()
    products: dict[str, Any] = {}
    records: list[dict] = []
    for planned in plan:
        spec, folder = planned.spec, planned.folder
        if planned.action == "reuse":
            sources, record = _load_result(folder, where)
            echo(f"[{spec.folder}] reused ({Accounting.from_dict(_acc(record)).summary()})")
        else:
            if planned.action == "redo" and folder.exists():
                remove_stage(folder)
            started = time.time()
            folder.mkdir(parents=True, exist_ok=True)
            mark_stage(folder)
            (folder / KEY_FILE).write_text(planned.key + "\n")
            verb = "resuming" if planned.action == "resume" else "running"
            echo(f"[{spec.folder}] {verb} {spec.type}")
            stage = STAGES[spec.type]()
            ctx = StageContext(
                run_dir=run_dir,
                stage_dir=folder,
                name=spec.name,
                options=spec.options,
                sources=sources,
                products=products,
                recipe=recipe,
                on_bad_row=on_bad_row,
                workers=executor.workers,
            )
            stage.prepare(ctx)
            tasks = stage.tasks(ctx)
            if stage.USES_EXECUTOR:
                forked_children_die_with_parent()
                run_tasks(executor, tasks, folder / "executor", f"skillmix-{spec.name}")
            else:
                for task in tasks:
                    task.run()
            result = stage.finish(ctx)
            record = _write_stage_file(folder, planned, result, where, started)
            sources = result.sources
            echo(f"[{spec.folder}] done: {result.total().summary()}")
        _merge_products(products, spec, record.get("products", {}))
        records.append(record)
    _write_run_file(run_dir, recipe, records, where, run_started)
    return records


def _remove_stale_folders(run_dir: Path, current: set[str]) -> None:
    """Stage folders of an earlier version of the recipe would mislead a reader."""
    for folder in run_dir.iterdir():
        if folder.name not in current and is_marked(folder):
            remove_stage(folder)


def _acc(record: dict) -> dict:
    acc = record["accounting"]
    return {
        "rows_in": acc["rows_in"],
        "rows_out": acc["rows_out"],
        "removed": acc["removed"],
        "rejected": acc["rejected"],
    }


def _merge_products(products: dict[str, Any], spec: StageSpec, new: dict[str, Any]) -> None:
    """Later stages find what earlier ones made, by type ("mix") and by stage name."""
    for key, value in new.items():
        products[key] = value
        products.setdefault("by_stage", {}).setdefault(spec.name, {})[key] = value


def _write_run_file(
    run_dir: Path, recipe: RunRecipe, records: list[dict], where: Locations, started: float
) -> None:
    from skillmix.pipeline.report import write_run_report

    data = {
        "name": recipe.name,
        "stages": [
            {
                **{k: r[k] for k in ("stage", "type", "key", "accounting", "reports")},
                "products": where.to_portable(r["products"]),
            }
            for r in records
        ],
        RUN_FIELD: {**_run_facts(where, started), "recipe": recipe.origin},
    }
    atomic_write_text(run_dir / "run.json", canonical_json(data) + "\n")
    write_run_report(run_dir, recipe, records)
