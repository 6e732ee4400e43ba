import itertools
import json
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import polars as pl
import pytest

from manifests import BadRowError, read_rows
from manifests.shards import (
    ShardWriter,
    comparable,
    iter_shard_rows,
    load_manifest,
    verify_shards,
)
from mixers import MixError, mix
from mixers.recipe import load_recipe


def run(recipe_path: Path, out: Path, **kwargs):
    return mix(load_recipe(recipe_path), out, **kwargs)


def rows_of(out: Path) -> list[dict]:
    return list(iter_shard_rows(out))


def test_counts_follow_the_recipe_and_accounting_reconciles(ws, tmp_path):
    result = run(ws.standard(), tmp_path / "out")
    by_name = {s["name"]: s for s in result.manifest["sources"]}
    assert by_name["math"]["rows_out"] == 20  # fraction 0.5 of 40
    assert by_name["code"]["rows_out"] == 12
    assert by_name["chat"]["rows_out"] == 50 - 20 - 12  # the weight takes what is left
    out_rows = rows_of(tmp_path / "out")
    assert Counter(r["source"] for r in out_rows) == {"math": 20, "code": 12, "chat": 18}
    for s in result.manifest["sources"]:
        dedup = s["deduplicated"]["exact"] + s["deduplicated"]["minhash"]
        assert s["available"] == (
            s["selected"] + dedup + s["decontaminated"] + s["rejected"] + s["not_drawn"]
        )
    assert result.accounting.rows_in == 95 and result.accounting.balanced()
    assert result.manifest["total_rows"] == 50
    assert [s["rows"] for s in result.manifest["shards"]] == [16, 16, 16, 2]


def test_same_seed_same_bytes_other_seed_other_order(ws, tmp_path):
    recipe = ws.standard()
    a = run(recipe, tmp_path / "a").manifest
    b = run(recipe, tmp_path / "b").manifest
    assert comparable(a) == comparable(b)
    for shard in a["shards"]:
        assert (tmp_path / "a" / shard["file"]).read_bytes() == (
            tmp_path / "b" / shard["file"]
        ).read_bytes()
    text = recipe.read_text().replace("seed: 7", "seed: 8")
    other = ws.recipe([], name="other.yaml")
    other.write_text(text)
    c = run(other, tmp_path / "c").manifest
    assert [s["rows_out"] for s in c["sources"]] == [s["rows_out"] for s in a["sources"]]
    assert [r["id"] for r in rows_of(tmp_path / "a")] != [r["id"] for r in rows_of(tmp_path / "c")]


def test_order_is_one_shuffle_across_sources(ws, tmp_path):
    run(ws.standard(), tmp_path / "out")
    sources = [r["source"] for r in rows_of(tmp_path / "out")]
    first_shard = sources[:16]
    assert len(set(first_shard)) == 3
    runs = sum(1 for x, y in itertools.pairwise(sources) if x != y)
    assert runs > 10  # sources interleave, not one block after another


def test_rows_keep_their_lineage(ws, tmp_path):
    run(ws.standard(), tmp_path / "out")
    lines = (ws.root / "math.jsonl").read_text().splitlines()
    for row in rows_of(tmp_path / "out"):
        meta = json.loads(row["metadata"])
        if row["source"] == "math":
            original = json.loads(lines[meta["row"] - 1])  # JSONL rows are 1-based lines
            assert original["id"] == row["id"] and meta["file"].endswith("math.jsonl")
        if row["source"] == "code":
            assert meta["file"].endswith("code.parquet") and row["id"] == f"code-{meta['row']}"


def test_upsampling_is_whole_repeats_plus_a_remainder(ws, tmp_path):
    ws.jsonl("small.jsonl", [ws.row(i, "math") for i in range(4)])
    recipe = ws.recipe(
        [{"name": "small", "path": "small.jsonl", "take": {"count": 10, "upsample": True}}]
    )
    result = run(recipe, tmp_path / "out")
    times = Counter(r["id"] for r in rows_of(tmp_path / "out"))
    assert sorted(times.values()) == [2, 2, 3, 3]
    entry = result.manifest["sources"][0]
    assert entry["selected"] == 4 and entry["rows_out"] == 10 and entry["upsample_factor"] == 2.5
    assert result.manifest["upsampled_repeats"] == 6


def test_exact_dedup_on_normalized_prompts(ws, tmp_path):
    a = [ws.row(i, "math") for i in range(10)]
    b = [
        ws.row(100 + i, "chat", prompt=a[i]["messages"][0]["content"].upper() + "  \n")
        for i in range(4)
    ] + [ws.row(200, "chat")]
    ws.jsonl("a.jsonl", a)
    ws.jsonl("b.jsonl", b)
    recipe = ws.recipe(
        [
            {"name": "a", "path": "a.jsonl", "take": {"fraction": 1.0}},
            {"name": "b", "path": "b.jsonl", "take": {"fraction": 1.0}},
        ]
    )
    result = run(recipe, tmp_path / "out")
    assert [s["deduplicated"]["exact"] for s in result.manifest["sources"]] == [0, 4]
    assert Counter(r["source"] for r in rows_of(tmp_path / "out")) == {"a": 10, "b": 1}
    recipe = ws.recipe(
        [
            {"name": "a", "path": "a.jsonl", "take": {"fraction": 1.0}},
            {"name": "b", "path": "b.jsonl", "take": {"fraction": 1.0}},
        ],
        name="nodedup.yaml",
        dedup={"exact": False},
    )
    assert run(recipe, tmp_path / "out2").manifest["total_rows"] == 15


def test_minhash_dedup_uses_decontam(ws, tmp_path):
    base = (
        "Explain in detail how the water cycle moves water between oceans, clouds, rivers "
        "and groundwater over the course of a year in a temperate climate zone"
    )
    a = [ws.row(0, "chat", prompt=base)] + [ws.row(i, "chat") for i in range(1, 8)]
    b = [
        ws.row(50, "chat", prompt=base.replace("zone", "region")),
        ws.row(51, "chat", prompt="A completely different request about baking sourdough."),
    ]
    ws.jsonl("a.jsonl", a)
    ws.jsonl("b.jsonl", b)
    recipe = ws.recipe(
        [
            {"name": "a", "path": "a.jsonl", "take": {"fraction": 1.0}},
            {"name": "b", "path": "b.jsonl", "take": {"fraction": 1.0}},
        ],
        dedup={"exact": True, "minhash": {"threshold": 0.7}},
    )
    result = run(recipe, tmp_path / "out")
    assert [s["deduplicated"]["minhash"] for s in result.manifest["sources"]] == [0, 1]
    assert "chat-50" not in {r["id"] for r in rows_of(tmp_path / "out")}


def test_decontamination_removes_leaks_and_reports(ws, tmp_path):
    leak = (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
        "clips in May. How many clips did Natalia sell altogether in April and May?"
    )
    ws.jsonl("evals.jsonl", [{"question": leak}, {"question": "What is the capital of Peru?"}])
    rows = [ws.row(i, "math") for i in range(12)] + [ws.row(99, "math", prompt=leak)]
    ws.jsonl("m.jsonl", rows)
    recipe = ws.recipe(
        [{"name": "m", "path": "m.jsonl", "take": {"fraction": 1.0}}],
        decontaminate={"evals": ["gsm_local=evals.jsonl:question"]},
    )
    result = run(recipe, tmp_path / "out")
    assert result.manifest["sources"][0]["decontaminated"] == 1
    assert "math-99" not in {r["id"] for r in rows_of(tmp_path / "out")}
    summary = result.manifest["decontamination"]
    assert summary["flagged"] == {"m": 1}
    assert (tmp_path / "out" / summary["report_path"]).exists()


def test_bad_rows_stop_the_mix_or_go_to_rejects(ws, tmp_path):
    rows = [ws.row(i, "math") for i in range(6)]
    lines = [json.dumps(r) for r in rows]
    lines.insert(3, "{not json")
    (ws.root / "bad.jsonl").write_text("\n".join(lines) + "\n")
    bad_pq = [ws.row(i, "code") for i in range(6)]
    bad_pq[2]["messages"] = [{"role": "user", "content": "no answer here"}]
    bad_pq[4]["messages"][0]["role"] = "narrator"
    ws.parquet("bad.parquet", bad_pq)
    recipe = ws.recipe(
        [
            {"name": "j", "path": "bad.jsonl", "take": {"fraction": 1.0}},
            {"name": "p", "path": "bad.parquet", "take": {"fraction": 1.0}},
        ]
    )
    with pytest.raises(BadRowError, match=r"bad\.jsonl, row 4: malformed JSON"):
        run(recipe, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()
    result = run(recipe, tmp_path / "out", on_bad_row="skip")
    assert [s["rejected"] for s in result.manifest["sources"]] == [1, 2]
    assert result.manifest["total_rows"] == 10
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [(Path(r["file"]).name, r["row"]) for r in rejects] == [
        ("bad.jsonl", 4),
        ("bad.parquet", 2),
        ("bad.parquet", 4),
    ]
    assert "assistant" in rejects[1]["reason"] and "role" in rejects[2]["reason"]


def test_columnar_fast_lane_gives_what_read_rows_gives(ws, tmp_path):
    rows = [ws.row(i, "code") for i in range(20)]
    rows[3]["metadata"] = json.dumps({"note": "kept", "row": 5})  # no file: to_contract adds it
    rows[5]["skill"] = ""  # becomes the default skill
    rows[7]["id"] = ""  # gets a stable id
    rows[9]["messages"].insert(0, {"role": "system", "content": "Be brief."})
    path = ws.parquet("c.parquet", rows)
    recipe = ws.recipe(
        [{"name": "c", "path": "c.parquet", "take": {"fraction": 1.0}}], dedup={"exact": False}
    )
    run(recipe, tmp_path / "out")
    # The mix records the source path as the recipe writes it (relative to its folder).
    lineage = read_rows(str(path), "sft", source="c", lineage="c.parquet")
    expected = {r["id"]: r for r in lineage}
    got = {r["id"]: r for r in rows_of(tmp_path / "out")}
    assert got == expected


def test_source_of_the_wrong_kind_is_named(ws, tmp_path):
    ws.jsonl(
        "pref.jsonl",
        [
            {
                "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                "rejected": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "b"},
                ],
            }
        ],
    )
    ws.jsonl("ok.jsonl", [ws.row(0, "chat")])
    recipe = ws.recipe(
        [
            {"name": "ok", "path": "ok.jsonl", "take": {"fraction": 1.0}},
            {"name": "p", "path": "pref.jsonl", "take": {"fraction": 1.0}},
        ]
    )
    with pytest.raises(MixError, match=r"sources\[1\]\.path: .*preference rows"):
        run(recipe, tmp_path / "out")
    missing = ws.recipe(
        [{"name": "x", "path": "nope.jsonl", "take": {"fraction": 1.0}}], name="missing.yaml"
    )
    with pytest.raises(MixError, match=r"sources\[0\]\.path: .*no such file"):
        run(missing, tmp_path / "out")


def test_a_count_larger_than_the_source_is_an_error_naming_the_key(ws, tmp_path):
    ws.jsonl("s.jsonl", [ws.row(i, "math") for i in range(5)])
    recipe = ws.recipe([{"name": "s", "path": "s.jsonl", "take": {"count": 6}}])
    with pytest.raises(MixError, match=r"sources\[0\]\.take\.count: needs 6 rows"):
        run(recipe, tmp_path / "out")


def test_crash_mid_write_leaves_nothing_whole_and_rerun_finishes(ws, tmp_path, monkeypatch):
    recipe = ws.standard()
    out = tmp_path / "out"
    run(recipe, out)
    good = load_manifest(out)
    real = ShardWriter._write_batch
    calls = {"n": 0}

    def dying(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        real(self, batch)

    monkeypatch.setattr(ShardWriter, "_write_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        run(recipe, out)
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("shard-*")) and not list(out.glob(".shard-*"))
    assert verify_shards(out)
    monkeypatch.setattr(ShardWriter, "_write_batch", real)
    again = run(recipe, out).manifest
    assert verify_shards(out) == []
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in good["shards"]]
    assert not (out / ".skillmix-work").exists()


def test_parquet_output_and_readers(ws, tmp_path):
    run(ws.standard(), tmp_path / "pq", fmt="parquet")
    manifest = load_manifest(tmp_path / "pq")
    assert manifest["format"] == "parquet"
    assert pl.read_parquet(tmp_path / "pq" / manifest["shards"][0]["file"]).height == 16
    run(ws.standard(), tmp_path / "ipc")
    first = tmp_path / "ipc" / load_manifest(tmp_path / "ipc")["shards"][0]["file"]
    assert datasets.Dataset.from_file(str(first)).to_list() == pl.read_ipc(first).to_dicts()
    assert rows_of(tmp_path / "pq") == rows_of(tmp_path / "ipc")


def test_preference_and_rlvr_mixes(ws, tmp_path):
    def pair(i: int, answer: str) -> list[dict]:
        return [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": answer}]

    pref = [
        {
            "id": f"p{i}",
            "source": "x",
            "skill": "chat",
            "chosen": pair(i, "good"),
            "rejected": pair(i, "bad"),
            "metadata": "",
        }
        for i in range(9)
    ]
    ws.parquet("pref.parquet", pref, kind="preference")
    recipe = ws.recipe(
        [{"name": "p", "path": "pref.parquet", "take": {"fraction": 1.0}}], kind="preference"
    )
    assert run(recipe, tmp_path / "p").manifest["total_rows"] == 9
    rlvr = [
        {
            "messages": [{"role": "user", "content": f"What is {i}+1?"}],
            "ground_truth": str(i + 1),
            "verifier": "GSM8K",
        }
        for i in range(6)
    ]
    ws.jsonl("rl.jsonl", rlvr)
    recipe = ws.recipe(
        [{"name": "r", "path": "rl.jsonl", "take": {"count": 4}}], kind="rlvr", name="rl.yaml"
    )
    out_rows = list(iter_shard_rows(tmp_path / "r")) if run(recipe, tmp_path / "r") else []
    assert len(out_rows) == 4 and {r["verifier"] for r in out_rows} == {"gsm8k"}


def test_memory_stays_per_row_small(ws, tmp_path):
    # Pass one keeps a few numbers per row, not the rows: the staged keys are 8 bytes each.
    from mixers.stage import stage_source

    ws.jsonl("m.jsonl", [ws.row(i, "math") for i in range(50)])
    staged = stage_source(0, "m", str(ws.root / "m.jsonl"), "sft", tmp_path)
    assert staged.keys.dtype == np.uint64 and staged.keys.nbytes == 50 * 8
    assert staged.rows == 50 and staged.file.exists()


@pytest.mark.parametrize("memory_mb", [0, 0.004])
def test_spilling_to_disk_gives_the_same_bytes(ws, tmp_path, memory_mb):
    # 0: every source staged on disk; 0.004 MiB: the first batches fit, the rest spill.
    recipe = load_recipe(ws.standard())
    kept = mix(recipe, tmp_path / "memory", memory_mb=64).manifest
    spilled = mix(recipe, tmp_path / "disk", memory_mb=memory_mb, threads=1).manifest
    assert [s["sha256"] for s in spilled["shards"]] == [s["sha256"] for s in kept["shards"]]
    assert comparable(spilled) == comparable(kept)


def test_releasing_mapped_pages_changes_nothing(ws, tmp_path, monkeypatch):
    import sys

    recipe = load_recipe(ws.standard())
    kept = mix(recipe, tmp_path / "a", memory_mb=0).manifest
    released = []
    real = __import__("mixers.budgets", fromlist=["ResidentBudget"]).ResidentBudget.release

    def counting(self):
        released.append(self.size)
        real(self)

    monkeypatch.setattr("mixers.budgets.ResidentBudget.release", counting)
    monkeypatch.setattr(sys.modules["mixers.mix"], "RESIDENT_BUDGET", 1)
    again = mix(recipe, tmp_path / "b", memory_mb=0).manifest
    assert released  # pages were handed back during the gather
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in kept["shards"]]


def test_rows_sharing_an_id_are_told_apart_by_position(ws, tmp_path):
    leak = (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
        "clips in May. How many clips did Natalia sell altogether in April and May?"
    )
    ws.jsonl("evals.jsonl", [{"question": leak}])
    rows = [ws.row(i, "math") for i in range(10)]
    twin = ws.row(99, "math", prompt=leak)
    twin["id"] = rows[4]["id"]  # a contaminated row with a clean row's id
    rows.append(twin)
    ws.jsonl("m.jsonl", rows)
    recipe = ws.recipe(
        [{"name": "m", "path": "m.jsonl", "take": {"fraction": 1.0}}],
        decontaminate={"evals": ["gsm_local=evals.jsonl:question"]},
    )
    logged: list[str] = []
    result = run(recipe, tmp_path / "out", log=logged.append)
    entry = result.manifest["sources"][0]
    assert entry["decontaminated"] == 1
    assert entry["duplicate_ids"] == 1
    kept = rows_of(tmp_path / "out")
    assert len(kept) == 10
    assert rows[4]["messages"][0]["content"] in {r["messages"][0]["content"] for r in kept}
    assert leak not in {r["messages"][0]["content"] for r in kept}
    assert any("math-4" in line and "position" in line for line in logged)
