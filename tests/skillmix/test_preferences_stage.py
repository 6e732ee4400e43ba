"""The `preferences` stage of `skillmix run`: a model pool and a judge behind a local
server, a preference source and mix, the run report, and a rerun that asks nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.backends.mock_server import MockOpenAIServer, template_answer
from manifests.shards import iter_shard_rows
from skillmix.pipeline import load_run_recipe, plan_run, run_pipeline
from skillmix.pipeline.stage import StageError
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

REPO_DEMO = Path(__file__).resolve().parents[2] / "manifests" / "recipes" / "demo_run.yaml"


def quiet(_line: str) -> None:
    pass


def preference_stage(url: str, **extra) -> dict:
    return {
        "preferences": {
            "from": ["chat", "alpaca"],
            "as": "pairs",
            "samples": 2,
            "max_prompts": 30,
            "pool": [{"model": "pool-a", "base_url": url}, {"model": "pool-b", "base_url": url}],
            "judge": {"model": "judge", "base_url": url},
            **extra,
        }
    }


def test_preference_stage_adds_a_source_mixes_and_reports(tmp_path):
    write_sources(tmp_path, n=40)
    with MockOpenAIServer(template_answer) as server:
        recipe = write_recipe(
            tmp_path,
            [preference_stage(server.url), {"mix": {"name": "pref_mix", "kind": "preference"}}],
        )
        records = run_pipeline(load_run_recipe(recipe), echo=quiet)
        sent = len(server.log.received)
        assert sent == len(set(server.log.received))
        again = run_pipeline(load_run_recipe(recipe), echo=quiet)  # reused: nothing asked
        assert len(server.log.received) == sent
    assert [r["accounting"] for r in again] == [r["accounting"] for r in records]
    stage = records[0]
    acc = stage["accounting"]
    assert acc["rows_in"] == 21 + 42  # every row of both sources is accounted for
    assert acc["removed"]["beyond_max_prompts"] == 21 + 42 - 30
    assert acc["rows_out"] == stage["summary"]["pairs"] > 0
    assert acc["rows_in"] == acc["rows_out"] + sum(acc["removed"].values()) + acc["rejected"]
    sources = {s["name"]: s for s in stage["sources"]}
    assert sources["pairs"]["kind"] == "preference"
    [product] = stage["products"]["preferences"]
    assert product["pool"] == ["pool-a", "pool-b"] and product["judge"] == "judge"
    assert set(product["usage"]) == {"pool-a", "pool-b", "judge:judge"}
    assert product["usage"]["pool-a"]["requests"] == 30 * 2

    mix = records[1]["products"]["mix"]
    assert mix["kind"] == "preference" and 0 < mix["rows"] <= acc["rows_out"]
    rows = list(iter_shard_rows(mix["dir"]))
    assert all(r["source"] == "pairs" and r["chosen"] != r["rejected"] for r in rows)
    meta = json.loads(rows[0]["metadata"])
    assert meta["pair_method"] == "judge" and meta["chosen_model"] in {"pool-a", "pool-b"}

    html = (tmp_path / "run" / "report.html").read_text()
    assert "Preference pairs: preferences" in html
    assert f"<td>{acc['rows_in']}</td><td>{acc['rows_out']}</td>" in html
    assert "Example pair" in html and "judge:judge" in html


def test_preference_stage_options_are_checked(tmp_path):
    write_sources(tmp_path, n=4)
    url = "http://127.0.0.1:9/v1"
    cases = [
        (preference_stage(url, **{"from": ["nope"]}), "no source named 'nope'"),
        (preference_stage(url, pool=[]), "pool: expected a list"),
        (preference_stage(url, pool=[{"base_url": url}]), "needs a mapping with a model"),
        (preference_stage(url, pool=[{"model": "m", "colour": "red"}]), "colour"),
        (preference_stage(url, **{"as": "chat"}), "already names a source"),
    ]
    for stage, message in cases:
        recipe = write_recipe(tmp_path, [stage, {"mix": {"kind": "preference"}}])
        with pytest.raises(StageError, match=message):
            run_pipeline(load_run_recipe(recipe), run_dir=tmp_path / "r", echo=quiet)


def test_zero_pairs_fails_the_stage_with_the_reason(tmp_path):
    write_sources(tmp_path, n=4)
    with MockOpenAIServer(template_answer) as server:
        one = preference_stage(server.url, samples=1)
        one["preferences"]["pool"] = one["preferences"]["pool"][:1]
        recipe = write_recipe(tmp_path, [one, {"mix": {"kind": "preference"}}])
        why = r"stage preferences: no preference pairs written \(.*one_usable_completion=7"
        with pytest.raises(StageError, match=why):
            run_pipeline(load_run_recipe(recipe), echo=quiet)


def test_the_demo_recipe_has_a_preference_stage_and_mix():
    recipe = load_run_recipe(REPO_DEMO)
    plan = [p.spec for p in plan_run(recipe, REPO_DEMO.parent / "nonexistent-run")]
    prefs = [s for s in plan if s.type == "preferences"]
    assert len(prefs) == 1 and prefs[0].options["pool"] and prefs[0].options["judge"]
    assert any(s.type == "mix" and s.options.get("kind") == "preference" for s in plan)
