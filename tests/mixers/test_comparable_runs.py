"""Equal runs in different folders: manifests equal outside `run`, shards byte-identical;
the `run` key alone holds this run's absolute paths, and verification ignores it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from manifests.shards import comparable, load_manifest, verify_shards
from mixers import mix
from mixers.recipe import load_recipe
from tests.mixers.conftest import sft_row, write_jsonl, write_parquet


def _project(root: Path) -> Path:
    """A recipe in recipes/ whose sources lie in data/ beside it (a path with `..`),
    one read row by row (JSONL, with a duplicate and non-ASCII text) and one by columns."""
    (root / "recipes").mkdir(parents=True)
    (root / "data").mkdir()
    rows = [sft_row(i, "math") for i in range(30)] + [sft_row(3, "math")]
    rows[5]["messages"][0]["content"] = "Combien font 2 + 2 ? Réponds en français, s'il te plaît."
    write_jsonl(root / "data" / "math.jsonl", rows)
    write_parquet(root / "data" / "code.parquet", [sft_row(i, "code") for i in range(20)])
    recipe = {
        "name": "moved",
        "seed": 3,
        "kind": "sft",
        "sources": [
            {"name": "math", "path": "./sub/../../data/math.jsonl", "take": {"fraction": 1.0}},
            {
                "name": "code",
                "path": "../data/code.parquet",
                "take": {"count": 25, "upsample": True},
            },
        ],
        "dedup": {"exact": True, "minhash": {"threshold": 0.8}},
        "shards": {"max_rows": 20},
    }
    path = root / "recipes" / "mix.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def _copy(project: Path, to: Path) -> Path:
    shutil.copytree(project, to)
    return to / "recipes" / "mix.yaml"


def _mix(recipe: Path) -> tuple[dict, Path]:
    out = recipe.parent.parent / "out"
    mix(load_recipe(recipe), out)
    return json.loads((out / "manifest.json").read_text(encoding="utf-8")), out


def test_equal_runs_in_different_folders_compare_outside_run(tmp_path):
    first = _project(tmp_path / "a")
    second = _copy(tmp_path / "a", tmp_path / "elsewhere" / "deeper" / "b")
    manifest_a, out_a = _mix(first)
    manifest_b, out_b = _mix(second)

    assert json.dumps(comparable(manifest_a)) == json.dumps(comparable(manifest_b))
    shards = sorted(p.name for p in out_a.glob("shard-*"))
    assert shards and shards == sorted(p.name for p in out_b.glob("shard-*"))
    for name in shards:
        assert (out_a / name).read_bytes() == (out_b / name).read_bytes(), name
    # The run-specific facts sit in `run` only, and name each run's own folders.
    assert list(manifest_a)[-1] == "run"
    run = manifest_b["run"]
    assert run["out_dir"] == str(out_b.resolve())
    assert run["recipe_path"] == str(second.resolve())
    assert run["sources"]["math"] == str(tmp_path / "elsewhere/deeper/b/data/math.jsonl")
    assert {"created_at", "host"} <= set(run)
    for manifest, root in ((manifest_a, tmp_path / "a"), (manifest_b, tmp_path / "elsewhere")):
        assert str(root) not in json.dumps(comparable(manifest))
    # Paths in the comparable part: relative to the recipe's folder, normalized.
    assert [s["path"] for s in manifest_a["sources"]] == [
        "../data/math.jsonl",
        "../data/code.parquet",
    ]
    assert [s["path"] for s in manifest_a["recipe"]["sources"]] == [
        "../data/math.jsonl",
        "../data/code.parquet",
    ]


def test_one_changed_input_row_changes_the_comparable_manifest(tmp_path):
    first = _project(tmp_path / "a")
    second = _copy(tmp_path / "a", tmp_path / "b")
    data = second.parent.parent / "data" / "math.jsonl"
    lines = data.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[7])
    row["messages"][1]["content"] = "It is fourteen."
    lines[7] = json.dumps(row)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest_a, _ = _mix(first)
    manifest_b, _ = _mix(second)
    assert comparable(manifest_a) != comparable(manifest_b)
    assert [s["sha256"] for s in manifest_a["shards"]] != [
        s["sha256"] for s in manifest_b["shards"]
    ]


def test_verification_does_not_read_the_run_key(tmp_path):
    _, out = _mix(_project(tmp_path / "a"))
    path = out / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert verify_shards(out) == []
    path.write_text(json.dumps(comparable(manifest)), encoding="utf-8")  # no `run` at all
    assert verify_shards(out) == [] and "run" not in load_manifest(out)
    # A manifest of an earlier version (created_at at the top, no `run`) still verifies.
    path.write_text(json.dumps({**comparable(manifest), "created_at": "2025-01-01T00:00:00+00:00"}))
    assert verify_shards(out) == []
    # ... and a damaged shard is still found without it.
    shard = sorted(out.glob("shard-*"))[0]
    shard.write_bytes(shard.read_bytes()[:-8])
    assert any(shard.name in problem for problem in verify_shards(out))
