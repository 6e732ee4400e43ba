from collections import Counter
from pathlib import Path

from manifests.shards import iter_shard_rows, verify_shards
from mixers import mix
from mixers.recipe import load_recipe

DEMO = Path(__file__).resolve().parents[2] / "manifests" / "recipes" / "demo.yaml"
DATA = Path(__file__).resolve().parents[2] / "data" / "demo"


def test_bundled_data_is_small():
    files = [DATA / f"{name}.jsonl" for name in ("math", "code", "chat", "precise_if")]
    assert sum(f.stat().st_size for f in files) < 2_000_000


def test_demo_recipe_runs_offline(tmp_path):
    recipe = load_recipe(DEMO)
    result = mix(recipe, tmp_path / "demo")
    manifest = result.manifest
    assert manifest["total_rows"] == recipe.total
    by_name = {s["name"]: s for s in manifest["sources"]}
    assert by_name["demo_code"]["decontaminated"] == 3  # the planted HumanEval prompts
    assert by_name["demo_if"]["rows_out"] == 600 and by_name["demo_if"]["upsample_factor"] > 1
    assert all(s["deduplicated"]["exact"] > 0 for s in manifest["sources"])
    assert verify_shards(tmp_path / "demo") == []
    skills = Counter(r["skill"] for r in iter_shard_rows(tmp_path / "demo"))
    assert set(skills) == {"math", "code", "precise_if", "chat"}
    assert sum(skills.values()) == recipe.total
