"""The demo's tag stage (its labels, its seed) writes a small folder and keeps its quality;
a failed training leaves no temp file in the stage folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from skillmix.pipeline import load_run_recipe, run_pipeline

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "manifests" / "recipes" / "demo_run.yaml").read_text())


def _tag_only_recipe(folder: Path, labels: Path) -> Path:
    tag = next(s["tag"] for s in DEMO["stages"] if "tag" in s)
    pool = next(s for s in DEMO["sources"] if s["name"] == "pool")
    recipe = {
        "name": "tag-size",
        "seed": DEMO["seed"],
        "kind": "sft",
        "sources": [{**pool, "path": str(REPO / "data" / "sample" / "alpaca.jsonl")}],
        "run_dir": "run",
        "stages": [{"tag": {**tag, "train": str(labels)}}],
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_demo_tag_stage_folder_is_small_and_precise(tmp_path):
    recipe = _tag_only_recipe(tmp_path, REPO / "data" / "demo" / "skill_labels.jsonl")
    run_pipeline(load_run_recipe(recipe), echo=lambda _line: None)
    stage = tmp_path / "run" / "00-tag"
    size = sum(p.stat().st_size for p in _files(stage))
    assert size < 20 * 2**20  # the old defaults: 489 MB
    report = json.loads((stage / "tagger_report.json").read_text())
    assert report["valid_rows"] == 90 and report["model"]["quantize"] is False
    for skill, score in report["per_skill"].items():  # as with the old 512 MB model
        assert (score["precision"], score["recall"]) == (1.0, 1.0), skill
    assert not [p for p in _files(stage) if p.name.startswith(".tmp-")]


def test_failed_tag_training_leaves_no_temp_file_in_the_stage(tmp_path):
    labels = tmp_path / "labels.jsonl"
    lines = (REPO / "data" / "demo" / "skill_labels.jsonl").read_text().splitlines()
    lines.insert(200, '{"messages": "not a list", "skill": "math"}')
    labels.write_text("\n".join(lines) + "\n")
    recipe = _tag_only_recipe(tmp_path, labels)
    with pytest.raises(Exception, match="row 201"):
        run_pipeline(load_run_recipe(recipe), echo=lambda _line: None)
    stage = tmp_path / "run" / "00-tag"
    assert not [p for p in _files(stage) if p.name.startswith(".tmp-") or p.suffix == ".bin"]
