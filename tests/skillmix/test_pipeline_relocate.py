"""Relocatable runs: the shipped demo project (augment_if, preferences from a mock pool and
judge, tag, decontaminate, dedup, three mixes, tiny SFT) copied or moved to another folder
plans "reuse" for every stage, a changed input, option or file redoes the stages it feeds,
and two runs of the project in different folders write equal files outside the `run` field."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate.backends.mock_server import MockOpenAIServer, template_answer
from manifests.adapters import lineage_file
from manifests.rows import read_rows
from manifests.shards import iter_shard_rows
from skillmix.pipeline import load_run_recipe, run_pipeline
from skillmix.pipeline.locations import Locations
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

REPO = Path(__file__).resolve().parents[2]
RECIPE = Path("manifests/recipes/demo_run.yaml")
DATA = ("data/demo", "data/sample")
STAGES = [
    "00-augment_if",
    "01-preferences",
    "02-tag",
    "03-decontaminate",
    "04-dedup",
    "05-mix",
    "06-rlvr_mix",
    "07-pref_mix",
    "08-train",
]


def quiet(_line: str) -> None:
    pass


def make_project(root: Path, url: str) -> Path:
    """The demo project (its recipe where the repo keeps it, the data it names) under
    `root`, its pool and judge at `url`, a short training run."""
    for folder in DATA:
        shutil.copytree(REPO / folder, root / folder)
    data = yaml.safe_load((REPO / RECIPE).read_text())
    for stage in data["stages"]:
        if "preferences" in stage:
            options = stage["preferences"]
            for backend in [*options["pool"], options["judge"]]:
                backend["base_url"] = url
        if "train" in stage:
            stage["train"]["settings"].update(max_steps=4, save_every=2)
    recipe = root / RECIPE
    recipe.parent.mkdir(parents=True)
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    return recipe


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> tuple[Path, Path]:
    """The demo project run in two folders at different depths, with one server."""
    base = tmp_path_factory.mktemp("relocate")
    roots = (base / "first", base / "other" / "deeper" / "sëcond project")
    with MockOpenAIServer(template_answer) as server:
        for root in roots:
            recipe = make_project(root, server.url)
            run_pipeline(load_run_recipe(recipe), run_dir=root / "run", echo=quiet)
    return roots


def skillmix(*args: str) -> str:
    """`skillmix ARGS` in a fresh process; its output, after checking it succeeded."""
    command = [sys.executable, "-m", "skillmix", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def dry_run(recipe: Path, run_dir: Path) -> dict[str, str]:
    """`skillmix run RECIPE --run-dir RUN --dry-run`: each stage folder's planned action."""
    output = skillmix("run", str(recipe), "--run-dir", str(run_dir), "--dry-run")
    plan = {}
    for line in output.splitlines()[1:]:
        folder, _type, _key, key, action, *_ = line.split()
        assert _key == "key" and len(key) == 20
        plan[folder] = action
    return plan


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target / RECIPE


def test_copied_project_reuses_every_stage(projects, tmp_path):
    recipe = copy_project(projects[0], tmp_path / "elsewhere" / "copy")
    assert dry_run(recipe, recipe.parents[2] / "run") == dict.fromkeys(STAGES, "reuse")


def test_copied_project_redoes_what_a_change_feeds(projects, tmp_path):
    recipe = copy_project(projects[0], tmp_path / "copy")
    root, run_dir = recipe.parents[2], recipe.parents[2] / "run"
    # a file one stage names (the tagger's labels): that stage and every later one
    labels = root / "data/demo/skill_labels.jsonl"
    lines = labels.read_text(encoding="utf-8").splitlines(keepends=True)
    row = json.loads(lines[0])
    row["skill"] = "code" if row.get("skill") != "code" else "math"
    labels.write_text(json.dumps(row) + "\n" + "".join(lines[1:]), encoding="utf-8")
    plan = dry_run(recipe, run_dir)
    assert [plan[s] for s in STAGES] == ["reuse", "reuse"] + ["redo"] * 7
    # an option of one stage: the stages before it stay
    data = yaml.safe_load(recipe.read_text())
    data["stages"][3]["decontaminate"]["threshold"] = 0.6
    labels.write_text("".join(lines), encoding="utf-8")
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = dry_run(recipe, run_dir)
    assert [plan[s] for s in STAGES] == ["reuse"] * 3 + ["redo"] * 6
    # one input row of a source: every stage (all of them read the source table)
    data["stages"][3]["decontaminate"]["threshold"] = 0.5
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    assert dry_run(recipe, run_dir) == dict.fromkeys(STAGES, "reuse")
    chat = root / "data/demo/chat.jsonl"
    text = chat.read_text(encoding="utf-8")
    chat.write_text(text.replace("e", "é", 1), encoding="utf-8")
    assert dry_run(recipe, run_dir) == dict.fromkeys(STAGES, "redo")


def test_moved_run_dir_reuses_every_stage_and_reads_from_its_new_place(projects, tmp_path):
    recipe = copy_project(projects[0], tmp_path / "project")
    moved = tmp_path / "moved" / "run"
    moved.parent.mkdir()
    shutil.move(recipe.parents[2] / "run", moved)
    assert dry_run(recipe, moved) == dict.fromkeys(STAGES, "reuse")
    lines: list[str] = []
    records = run_pipeline(load_run_recipe(recipe), run_dir=moved, echo=lines.append)
    assert len(lines) == len(STAGES) and all(" reused (" in line for line in lines)
    mix = records[5]["products"]["mix"]
    assert Path(mix["dir"]) == moved.resolve() / "05-mix" / "mix"
    assert len(list(iter_shard_rows(mix["dir"]))) == mix["rows"] > 0
    for record in records:
        for source in record["sources"]:
            path = source["path"]
            assert path.startswith("hf://") or Path(path).exists(), (record["stage"], path)
            assert str(tmp_path / "project" / "run") not in path


def _stage_files(run_dir: Path) -> dict[str, Path]:
    """What the stages wrote as data: their sources and the mixes' shards."""
    files = {}
    for pattern in ("*/sources/*", "*/mix/shard-*", "*/report/kept/*"):
        for path in run_dir.glob(pattern):
            files[str(path.relative_to(run_dir))] = path
    return files


def _without_run(path: Path) -> dict:
    data = json.loads(path.read_text())
    data.pop("run")
    return data


def test_two_runs_in_different_folders_write_equal_files(projects):
    first, second = (root / "run" for root in projects)
    files = _stage_files(first)
    assert {name.split("/")[0] for name in files} >= set(STAGES[:8]) - {"01-preferences"}
    assert files.keys() == _stage_files(second).keys()
    for name, path in files.items():
        assert path.read_bytes() == (second / name).read_bytes(), name
    assert (first / "01-preferences/pairs.jsonl").read_bytes() == (
        second / "01-preferences/pairs.jsonl"
    ).read_bytes()
    for folder in STAGES:
        assert (first / folder / "key").read_text() == (second / folder / "key").read_text()
        a, b = first / folder / "stage.json", second / folder / "stage.json"
        assert _without_run(a) == _without_run(b), folder
        assert json.loads(a.read_text())["run"]["run_dir"] == str(first.resolve())
    assert _without_run(first / "run.json") == _without_run(second / "run.json")
    for path in [first / "run.json", *(first / folder / "stage.json" for folder in STAGES)]:
        assert str(projects[0]) not in json.dumps(_without_run(path)), path


def test_two_runs_write_mix_manifests_equal_outside_their_run_field(projects):
    first, second = (root / "run" for root in projects)
    for mix in ("05-mix", "06-rlvr_mix", "07-pref_mix"):
        a = _without_run(first / mix / "mix" / "manifest.json")
        assert a == _without_run(second / mix / "mix" / "manifest.json"), mix
        assert str(projects[0]) not in json.dumps(a), mix


def test_rows_name_their_file_relative_to_the_recipe_folder(projects):
    run_dir = projects[0] / "run"
    files = {
        json.loads(row["metadata"])["file"]
        for mix in ("05-mix", "06-rlvr_mix", "07-pref_mix")
        for row in iter_shard_rows(run_dir / mix / "mix")
    }
    assert files == {
        "../../data/demo/math.jsonl",
        "../../data/demo/code.jsonl",
        "../../data/demo/precise_if.jsonl",
        "../../data/demo/chat.jsonl",
        "../../data/sample/alpaca.jsonl",
    }


def test_locations_round_trip_and_refuse_nothing_odd(tmp_path):
    real = tmp_path / "réal"
    (real / "recipes").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    where = Locations.of(tmp_path / "link" / "run", tmp_path / "link" / "recipes")
    assert where.run_dir == real / "run"  # the roots are resolved once
    run_file = str(real / "run" / "02-tag" / "sources" / "a b.jsonl")
    assert where.portable(run_file) == "{run}/02-tag/sources/a b.jsonl"
    assert where.portable("../data/./x/../x.jsonl") == "{recipe}/../data/x.jsonl"
    assert where.portable("hf://org/set:cfg@train") == "hf://org/set:cfg@train"
    assert where.lineage(str(real / "data" / "x.jsonl")) == "../data/x.jsonl"
    assert where.lineage(run_file) == "02-tag/sources/a b.jsonl"
    record = {"path": run_file, "list": [str(real / "data")], "n": 3, "note": "not/a/path"}
    portable = where.to_portable(record)
    assert portable == {"path": "{run}/02-tag/sources/a b.jsonl", "list": ["{recipe}/../data"]} | {
        "n": 3,
        "note": "not/a/path",
    }
    assert where.from_portable(portable) == record
    assert where.absolute("{run}") == str(real / "run")


def test_command_lineage_is_the_path_as_given_normalized(tmp_path, monkeypatch):
    assert lineage_file("./data/../data/x.jsonl") == "data/x.jsonl"
    assert lineage_file("/abs/./a/../b.jsonl") == "/abs/b.jsonl"
    assert lineage_file("hf://org/set@train") == "hf://org/set@train"
    rows = []
    for folder in ("one", "twö/deeper"):
        data = tmp_path / folder / "data"
        data.mkdir(parents=True)
        (data / "x.jsonl").write_text(
            json.dumps({"instruction": "Sag hallo", "output": "Hallo"}) + "\n", encoding="utf-8"
        )
        monkeypatch.chdir(tmp_path / folder)
        rows.append(list(read_rows(os.path.join(".", "data", "..", "data", "x.jsonl"))))
    assert rows[0] == rows[1]
    assert json.loads(rows[0][0]["metadata"]) == {"file": "data/x.jsonl", "row": 1}


def _project_with_parquet(root: Path, stages: list | None) -> Path:
    """Sources in `root/data` (one Parquet, read by the columnar lane), the recipe in
    `root/recipes`: every path it names starts with `../`. No stages: a mix recipe."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = write_sources(root / "data", n=30)
    rows = [json.loads(line) for line in paths["chat"].read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "chat.parquet")
    sources = [
        {"name": "alpaca", "path": "../data/./alpaca.jsonl", "take": {"fraction": 1.0}},
        {"name": "chat", "path": "../data/chat.parquet", "take": {"weight": 1.0}},
    ]
    (root / "recipes").mkdir()
    if stages is not None:
        return write_recipe(root / "recipes", stages, sources=sources, total=40)
    recipe = root / "recipes" / "mix.yaml"
    mix = {"name": "m", "seed": 3, "kind": "sft", "sources": sources, "total": 40}
    recipe.write_text(yaml.safe_dump(mix | {"shards": {"max_rows": 10}}, sort_keys=False))
    return recipe


def _mix_in_two_folders(tmp_path: Path, make_mix) -> None:
    """`make_mix(root)` (the mix folder it made) in two folders: rows name their files as
    the recipe writes them, and the shards are byte-identical."""
    made = []
    for root in (tmp_path / "a", tmp_path / "b" / "déeper"):
        mix = make_mix(root)
        made.append(sorted(mix.glob("shard-*")))
        files = {json.loads(r["metadata"])["file"] for r in iter_shard_rows(mix)}
        assert files == {"../data/alpaca.jsonl", "../data/chat.parquet"}
    assert [p.name for p in made[0]] == [p.name for p in made[1]] != []
    for a, b in zip(*made, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_first_reads_by_dedup_and_mix_name_files_relative_to_the_recipe(tmp_path):
    def make_mix(root: Path) -> Path:
        recipe = _project_with_parquet(root, ["dedup", "mix"])
        records = run_pipeline(load_run_recipe(recipe), echo=quiet)
        assert records[0]["accounting"]["rows_in"] == 32 + 16
        return Path(records[1]["products"]["mix"]["dir"])

    _mix_in_two_folders(tmp_path, make_mix)


def test_mix_command_writes_equal_shards_from_two_folders(tmp_path):
    def make_mix(root: Path) -> Path:
        recipe = _project_with_parquet(root, None)
        skillmix("mix", str(recipe), "--out", str(root / "out"))
        return root / "out"

    _mix_in_two_folders(tmp_path, make_mix)
