"""The runner's plan: reuse what is finished, redo what changed and all after it, resume."""

from __future__ import annotations

import copy
import json

import pytest

from skillmix.pipeline import load_run_recipe, plan_run, run_pipeline
from skillmix.pipeline.stage import StageError
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

DECONTAM = {"decontaminate": {"evals": ["leak=evals.jsonl:question"], "threshold": 0.5}}


def actions(recipe_path):
    return [p.action for p in plan_run(load_run_recipe(recipe_path))]


def quiet(_line: str) -> None:
    pass


def test_decontaminate_stage_removes_the_leak_and_accounts(tmp_path):
    write_sources(tmp_path)
    recipe = load_run_recipe(write_recipe(tmp_path, [DECONTAM]))
    [record] = run_pipeline(recipe, echo=quiet)
    assert record["per_source"]["chat"]["removed"] == {"contaminated": 1}
    assert record["per_source"]["alpaca"]["removed"] == {}
    acc = record["accounting"]
    assert acc["rows_in"] == 42 + 21 and acc["rows_out"] == 42 + 20
    with open(record["sources"][1]["path"]) as fh:
        kept = [json.loads(x) for x in fh]
    assert len(kept) == 20 and all(
        "sum of two numbers" not in r["messages"][0]["content"] for r in kept
    )
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Contamination matrix" in report and "00-decontaminate/stage.json" in report


def test_plan_reuses_redoes_and_resumes(tmp_path):
    write_sources(tmp_path)
    first = write_recipe(
        tmp_path, [DECONTAM, {"decontaminate": {"name": "again", "evals": ["humaneval"]}}]
    )
    assert actions(first) == ["run", "run"]
    run_pipeline(load_run_recipe(first), echo=quiet)
    assert actions(first) == ["reuse", "reuse"]

    # A changed option redoes that stage and everything after it.
    changed = write_recipe(
        tmp_path,
        [
            {"decontaminate": {**DECONTAM["decontaminate"], "threshold": 0.6}},
            {"decontaminate": {"name": "again", "evals": ["humaneval"]}},
        ],
    )
    assert actions(changed) == ["redo", "redo"]
    run_pipeline(load_run_recipe(changed), echo=quiet)
    assert actions(changed) == ["reuse", "reuse"]

    # Changed input data redoes everything; the mix-only keys (total) redo nothing here.
    with open(tmp_path / "chat.jsonl", "a") as fh:
        fh.write(json.dumps({"prompt": "new", "completion": "row"}) + "\n")
    assert actions(changed) == ["redo", "redo"]
    run_pipeline(load_run_recipe(changed), echo=quiet)
    retotal = write_recipe(tmp_path, changed_stages(changed), total=12)
    assert actions(retotal) == ["reuse", "reuse"]

    # A stage whose record is missing was interrupted: it resumes, and what follows redoes.
    (tmp_path / "run" / "00-decontaminate" / "stage.json").unlink()
    assert actions(retotal) == ["resume", "redo"]


def changed_stages(recipe_path):
    import yaml

    return yaml.safe_load(recipe_path.read_text())["stages"]


def test_rerun_of_a_finished_run_runs_nothing(tmp_path):
    write_sources(tmp_path)
    recipe = write_recipe(tmp_path, [DECONTAM])
    run_pipeline(load_run_recipe(recipe), echo=quiet)
    kept = tmp_path / "run" / "00-decontaminate" / "report" / "kept" / "chat.jsonl"
    before = kept.stat().st_mtime_ns
    lines: list[str] = []
    run_pipeline(load_run_recipe(recipe), echo=lines.append)
    assert kept.stat().st_mtime_ns == before
    assert lines[0].startswith("[00-decontaminate] reused")


@pytest.mark.parametrize(
    ("stages", "needle"),
    [
        ([{"nonsense": {}}], "stages[0]: unknown stage 'nonsense'"),
        (
            [{"decontaminate": {"evals": ["humaneval"], "colour": 1}}],
            "stages[0].decontaminate.colour: unknown option",
        ),
        ([{"decontaminate": {}}], "stages[0].decontaminate.evals: required"),
        ([DECONTAM, copy.deepcopy(DECONTAM)], "stages[1].name"),
        ([], "stages: expected a non-empty list"),
    ],
)
def test_recipe_errors_name_the_key(tmp_path, stages, needle):
    write_sources(tmp_path)
    with pytest.raises(StageError) as info:
        load_run_recipe(write_recipe(tmp_path, stages))
    assert needle in str(info.value)


def test_duplicate_rows_flagged_twice_are_counted_twice(tmp_path):
    """Exact duplicates share an id; the report must still count each removed row."""
    write_sources(tmp_path)
    with open(tmp_path / "chat.jsonl") as fh:
        leak = fh.read().splitlines()[-1]
    with open(tmp_path / "chat.jsonl", "a") as fh:
        fh.write(leak + "\n")
    recipe = load_run_recipe(write_recipe(tmp_path, [DECONTAM]))
    [record] = run_pipeline(recipe, echo=quiet)
    assert record["per_source"]["chat"] == {
        "rows_in": 22,
        "rows_out": 20,
        "removed": {"contaminated": 2},
        "rejected": 0,
    }
    with open(record["sources"][1]["path"]) as fh:
        assert len(fh.read().splitlines()) == 20
