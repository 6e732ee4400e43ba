"""Stages end to end on small data: augment_if, tag, both kinds of mix, and train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manifests.shards import iter_shard_rows, verify_shards
from skillmix.pipeline import load_run_recipe, plan_run, run_pipeline
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

REPO = Path(__file__).resolve().parents[2]


def quiet(_line: str) -> None:
    pass


def labeled(folder: Path) -> Path:
    """Rows labeled math or chat, for training the tagger."""
    rows = []
    for i in range(60):
        rows.append(
            {
                "prompt": f"Compute {i} plus {i * 3} and divide the sum by {i + 2}.",
                "completion": "ok",
                "skill": "math",
            }
        )
        rows.append(
            {
                "prompt": f"Tell me a story about a dog named Rex number {i}.",
                "completion": "ok",
                "skill": "chat",
            }
        )
    path = folder / "labeled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stages")
    write_sources(folder, n=40)
    labeled(folder)
    stages = [
        {"augment_if": {"from": ["alpaca"], "as": "if_prompts", "max_constraints": 2}},
        {"tag": {"train": "labeled.jsonl", "sources": ["chat"], "train_options": {"epoch": 10}}},
        {"mix": {}},
        {"mix": {"name": "rlvr_mix", "kind": "rlvr"}},
        {
            "train": {
                "method": "sft",
                "model": "tiny",
                "settings": {"max_steps": 3, "batch_size": 4, "max_length": 256},
            }
        },
        {
            "train": {
                "name": "train_rlvr",
                "method": "rlvr",
                "model": "tiny",
                "settings": {
                    "max_steps": 2,
                    "batch_size": 4,
                    "num_generations": 2,
                    "max_new_tokens": 8,
                },
            }
        },
    ]
    recipe = write_recipe(folder, stages, total=60)
    records = run_pipeline(load_run_recipe(recipe), echo=quiet)
    return folder / "run", records


def test_augment_if_adds_an_rlvr_source(finished_run):
    run_dir, records = finished_run
    sources = {s["name"]: s for s in records[0]["sources"]}
    assert sources["if_prompts"]["kind"] == "rlvr"
    assert records[0]["accounting"]["rows_out"] == 42
    rows = list(iter_shard_rows(run_dir / "03-rlvr_mix" / "mix"))
    # The two duplicated alpaca rows got the same constraints (seeded by row id), so the
    # mix's exact dedup keeps one of each.
    assert len(rows) == 40 and {r["verifier"] for r in rows} == {"ifeval"}
    for row in rows:
        truth = json.loads(row["ground_truth"])
        assert 1 <= len(truth["instruction_id_list"]) <= 2


def test_tag_stage_trains_and_relabels_only_its_sources(finished_run):
    run_dir, records = finished_run
    tag = records[1]
    assert tag["per_source"] == {
        "chat": {"rows_in": 21, "rows_out": 21, "removed": {}, "rejected": 0}
    }
    report = json.loads((run_dir / "01-tag" / "tagger_report.json").read_text())
    assert report["accuracy"] > 0.9
    chat = {s["name"]: s for s in tag["sources"]}["chat"]
    assert chat["skill"] is None and chat["path"].endswith("01-tag/sources/chat.jsonl")
    with open(chat["path"]) as fh:
        skills = {json.loads(line)["skill"] for line in fh}
    assert skills <= {"math", "chat"}


def test_mix_and_train_stages(finished_run):
    run_dir, records = finished_run
    mix = run_dir / "02-mix" / "mix"
    assert verify_shards(mix) == []
    manifest = json.loads((mix / "manifest.json").read_text())
    assert manifest["kind"] == "sft" and manifest["total_rows"] == 60
    assert records[2]["products"]["mix"]["dir"] == str(mix)
    train = records[4]
    assert train["summary"]["steps"] == 3
    assert (run_dir / "04-train" / "model" / "final" / "config.json").exists()
    assert (run_dir / "04-train" / "tiny-model" / "tokenizer.json").exists()
    rlvr = records[5]
    assert rlvr["summary"]["steps"] == 2 and rlvr["accounting"]["rows_in"] == 40
    assert (run_dir / "05-train_rlvr" / "model" / "final" / "config.json").exists()
    html = (run_dir / "report.html").read_text()
    assert "Mix: mix" in html and "Mix: rlvr_mix" in html
    # training is drawn as its loss curve (a point per metrics line), never as a flow
    for folder, name in (("04-train", "train"), ("05-train_rlvr", "train_rlvr")):
        lines = (run_dir / folder / "model" / "metrics.jsonl").read_text().splitlines()
        section = html.split(f"<h2>Training: {name}</h2>")[1].split("</section>")[0]
        loss = section.split('<figure class="loss">')[1].split("</figure>")[0]
        assert loss.count('<circle class="pt"') == len(lines) > 0
        assert f'class="flow"><td class="l">{name}<' not in html


def test_shipped_demo_recipe_plans_every_stage():
    recipe = load_run_recipe(REPO / "manifests" / "recipes" / "demo_run.yaml")
    plan = plan_run(recipe, Path("/nonexistent-run-dir"))
    assert [p.spec.type for p in plan] == [
        "augment_if",
        "preferences",
        "tag",
        "decontaminate",
        "dedup",
        "mix",
        "mix",
        "mix",
        "train",
    ]
    assert all(p.action == "run" for p in plan)
