import re
from pathlib import Path

import pytest
import yaml

from mixers.recipe import RecipeError, load_recipe, parse_recipe

RECIPES = Path(__file__).resolve().parents[2] / "manifests" / "recipes"


def base() -> dict:
    return {
        "name": "t",
        "seed": 3,
        "kind": "sft",
        "sources": [
            {"name": "a", "path": "a.jsonl", "skill": "math", "take": {"fraction": 1.0}},
            {"name": "b", "path": "b.jsonl", "take": {"count": 10}},
            {"name": "c", "path": "hf://org/c@train", "take": {"weight": 2}},
        ],
        "total": 100,
        "dedup": {"exact": True, "minhash": {"threshold": 0.7}},
        "decontaminate": {"evals": ["gsm8k"], "threshold": 0.4},
        "shards": {"max_rows": 50},
    }


def test_full_recipe_parses_with_defaults_filled(tmp_path):
    recipe = parse_recipe(base(), base_dir=tmp_path)
    assert recipe.seed == 3 and recipe.kind == "sft" and recipe.total == 100
    assert [s.take.mode for s in recipe.sources] == ["fraction", "count", "weight"]
    assert recipe.dedup.minhash.threshold == 0.7 and recipe.dedup.minhash.num_perm == 128
    assert recipe.decontaminate.method == "ngram" and recipe.decontaminate.threshold == 0.4
    assert recipe.shards.max_rows == 50 and recipe.shards.format == "arrow"
    assert recipe.source_path(recipe.sources[0]) == str(tmp_path / "a.jsonl")
    assert recipe.source_path(recipe.sources[2]) == "hf://org/c@train"
    again = parse_recipe(recipe.to_dict(), base_dir=tmp_path)
    assert again == recipe


def mutate(path: list, value, delete: bool = False) -> dict:
    data = base()
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (["colour"], "red", "colour"),
        (["sources", 0, "weigth"], 1, "sources[0].weigth"),
        (["sources", 1, "take", "cuont"], 1, "sources[1].take.cuont"),
        (["kind"], "chat", "kind"),
        (["seed"], -1, "seed"),
        (["seed"], "x", "seed"),
        (["sources", 0, "take"], {"fraction": 0.5, "count": 3}, "sources[0].take"),
        (["sources", 0, "take"], {"fraction": 0}, "sources[0].take.fraction"),
        (["sources", 0, "take"], {"fraction": 1.5, "upsample": True}, "sources[0].take.upsample"),
        (["sources", 1, "take"], {"count": 2.5}, "sources[1].take.count"),
        (["sources", 1, "take"], {"count": True}, "sources[1].take.count"),
        (["sources", 2, "take"], {"weight": -1}, "sources[2].take.weight"),
        (["sources", 2, "take"], {"weight": 0}, "sources[2].take.weight"),
        (["sources", 1, "name"], "a", "sources[1].name"),
        (["sources", 1, "name"], "bad name", "sources[1].name"),
        (["sources", 1, "path"], "", "sources[1].path"),
        (["sources", 1, "mapping"], {"messages": 3}, "sources[1].mapping"),
        (["sources"], [], "sources"),
        (["total"], 5, "total"),
        (["tokens"], 1000, "tokens"),
        (["dedup", "minhash", "threshold"], 1.5, "dedup.minhash.threshold"),
        (["dedup", "exact"], "yes", "dedup.exact"),
        (["decontaminate", "evals"], [], "decontaminate.evals"),
        (["decontaminate", "method"], "regex", "decontaminate.method"),
        (["shards", "format"], "csv", "shards.format"),
        (["shards", "max_rows"], 0, "shards.max_rows"),
    ],
)
def test_every_key_is_checked_and_named(path, value, key):
    with pytest.raises(RecipeError, match=re.escape(f"r.yaml: {key}")):
        parse_recipe(mutate(path, value), origin="r.yaml")


def test_weights_need_a_total_and_a_total_needs_weights():
    with pytest.raises(RecipeError, match="total"):
        parse_recipe(mutate(["total"], None, delete=True))
    data = base()
    data["sources"][2]["take"] = {"count": 5}
    with pytest.raises(RecipeError, match="total: no source takes a weight"):
        parse_recipe(data)


def test_load_recipe_errors_name_the_file(tmp_path):
    with pytest.raises(RecipeError, match=r"recipe .*nope\.yaml: no such file"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match=r"bad\.yaml: not valid YAML"):
        load_recipe(bad)
    good = tmp_path / "sub" / "good.yaml"
    good.parent.mkdir()
    good.write_text(yaml.safe_dump(base()))
    recipe = load_recipe(good)
    assert recipe.source_path(recipe.sources[0]) == str(good.parent / "a.jsonl")


@pytest.mark.parametrize("name", ["tulu3_sft.yaml", "demo.yaml"])
def test_shipped_recipes_parse(name):
    recipe = load_recipe(RECIPES / name)
    assert recipe.sources


def test_tulu3_recipe_counts_sum_to_the_published_total():
    recipe = load_recipe(RECIPES / "tulu3_sft.yaml")
    assert all(s.take.mode == "count" for s in recipe.sources)
    assert sum(s.take.value for s in recipe.sources) == 939_344
    assert all(s.path.startswith("hf://") for s in recipe.sources)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("name: a\nname: b\nkind: sft\n", "key 'name' is given twice"),
        ("a0: &a0 [x, x]\na1: [*a0, *a0]\n", "alias \\*a0 is not allowed"),
        ("[" * 5000 + "]" * 5000 + "\n", "nested too deeply|not valid YAML"),
    ],
)
def test_recipe_yaml_refuses_repeated_keys_aliases_and_deep_nesting(tmp_path, text, problem):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=rf"hostile\.yaml: .*({problem})"):
        load_recipe(path)


def test_recipe_yaml_with_a_bom_or_bad_utf8(tmp_path):
    good = tmp_path / "bom.yaml"
    good.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(base()).encode())
    assert load_recipe(good).name == base()["name"]
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(RecipeError, match=r"latin1\.yaml: not UTF-8 text"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="is a folder"):
        load_recipe(tmp_path)
