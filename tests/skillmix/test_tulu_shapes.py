"""Tülu 3's public shapes through skillmix's doors, unchanged: prompt-only rows through
augment-if -> mix -> train rlvr, and rows shaped like the four public sets through convert,
mix and the readers the trainers use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from manifests import read_rows
from skillmix.cli import main

PROMPTS = [
    "Describe a quiet morning in the mountains.",
    "Explain why the sky looks blue.",
    "Write a note to a neighbour about a lost cat.",
    "Summarize the rules of chess.",
    "List three uses of a paper clip.",
    "Tell me about the history of tea.",
    "写一段关于秋天的短文。",
    "Décris une journée à la plage.",
]

# Rows shaped exactly like the public sets (field names, nesting, value spellings).
SFT_MIXTURE = [  # allenai/tulu-3-sft-mixture
    {
        "id": "oasst1_1",
        "source": "ai2-adapt-dev/oasst1_converted",
        "messages": [
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello! How can I help?"},
        ],
    },
    {
        "id": "wildchat_2",
        "source": "ai2-adapt-dev/wildchat",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "¿Qué hora es en Tokio?"},
            {"role": "assistant", "content": "No tengo un reloj."},
        ],
    },
]
PREFERENCE_MIXTURE = [  # allenai/llama-3.1-tulu-3-8b-preference-mixture
    {
        "id": "pref_1",
        "source": "tulu3_pref",
        "prompt": "Name a prime number.",
        "chosen": [
            {"role": "user", "content": "Name a prime number."},
            {"role": "assistant", "content": "7"},
        ],
        "rejected": [
            {"role": "user", "content": "Name a prime number."},
            {"role": "assistant", "content": "8"},
        ],
    },
]
IF_OLD = {
    "func_name": "validate_lowercase",
    "N": None,
    "quantifier": None,
    "keyword_list": None,
    "end_phrase": None,
}
RLVR_MIXED = [  # allenai/RLVR-GSM-MATH-IF-Mixed-Constraints
    {
        "messages": [{"role": "user", "content": "Tom has 3 apples and buys 4. How many?"}],
        "ground_truth": "7",
        "dataset": "gsm8k",
    },
    {
        "messages": [{"role": "user", "content": "Compute $1+1$."}],
        "ground_truth": "2",
        "dataset": "MATH",
    },
    {
        "messages": [{"role": "user", "content": "Write a haiku in lowercase only."}],
        "ground_truth": json.dumps(IF_OLD),
        "dataset": "ifeval",
        "constraint_type": "Change Case",
        "constraint": "all lowercase",
    },
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("rows", "kind", "checked"),
    [
        (SFT_MIXTURE, "sft", lambda r: r["messages"][-1]["role"] == "assistant"),
        (
            PREFERENCE_MIXTURE,
            "preference",
            lambda r: [m["role"] for m in r["chosen"]] == ["user", "assistant"],
        ),
        (RLVR_MIXED, "rlvr", lambda r: r["verifier"] in {"gsm8k", "math", "ifeval"}),
    ],
    ids=["sft-mixture", "preference-mixture", "rlvr-mixed"],
)
def test_public_shapes_convert_unchanged(tmp_path, rows, kind, checked):
    src = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.parquet"
    _ok(CliRunner().invoke(main, ["convert", str(src), str(out)]))
    back = list(read_rows(out, kind))
    assert len(back) == len(rows)
    assert all(checked(r) for r in back)
    # Input ids are kept; rows without one get a stable id (the same on a second run).
    again = tmp_path / "again.parquet"
    _ok(CliRunner().invoke(main, ["convert", str(src), str(again)]))
    expected = [r.get("id") or a["id"] for r, a in zip(rows, read_rows(again, kind), strict=True)]
    assert [r["id"] for r in back] == expected
    assert all(expected)


def test_rlvr_mixed_rows_score_with_their_tulu_verifier_names():
    from curate.verifiers import verify

    gsm, math, ifeval = RLVR_MIXED
    assert verify(gsm["dataset"], "3 + 4 = 7\n#### 7", gsm["ground_truth"]) == 1.0
    assert verify(math["dataset"], "The answer is $\\boxed{2}$", math["ground_truth"]) == 1.0
    assert verify(ifeval["dataset"], "leaves fall slowly", ifeval["ground_truth"]) == 1.0
    assert verify(ifeval["dataset"], "Leaves Fall", ifeval["ground_truth"]) == 0.0


def test_prompt_only_rows_through_augment_if_mix_and_train_rlvr(tmp_path):
    from trainers.tiny_model import build_tiny_model

    prompts = _jsonl(
        tmp_path / "prompts.jsonl",
        [{"messages": [{"role": "user", "content": p}]} for p in PROMPTS],
    )
    inspected = _ok(CliRunner().invoke(main, ["inspect", str(prompts), "--json"]))
    stats, _ = json.JSONDecoder().raw_decode(inspected[inspected.index("{") :])
    assert stats["kinds"] == {"prompt": len(PROMPTS)}

    rlvr = tmp_path / "if_rlvr.jsonl"
    out = _ok(CliRunner().invoke(main, ["augment-if", str(prompts), str(rlvr), "--seed", "3"]))
    assert f"rows in {len(PROMPTS)}, out {len(PROMPTS)}" in out
    rows = list(read_rows(rlvr, "rlvr"))
    assert {r["verifier"] for r in rows} == {"ifeval"}

    recipe = tmp_path / "mix.yaml"
    recipe.write_text(
        "name: if_mix\nseed: 1\nkind: rlvr\n"
        f"sources:\n  - name: if\n    path: {rlvr}\n    skill: precise_if\n"
        "    take: {fraction: 1.0}\n",
        encoding="utf-8",
    )
    mix_dir = tmp_path / "mix"
    _ok(CliRunner().invoke(main, ["mix", str(recipe), "--out", str(mix_dir)]))

    model = build_tiny_model([p for p in PROMPTS], tmp_path / "tiny")
    trained = _ok(
        CliRunner().invoke(
            main,
            [
                "train",
                "rlvr",
                "--data",
                str(mix_dir),
                "--model",
                str(model),
                "--output",
                str(tmp_path / "run"),
                "--max-length",
                "1000",
                "--max-new-tokens",
                "4",
                "--num-generations",
                "2",
                "--batch-size",
                "4",
                "--max-steps",
                "1",
                "--beta",
                "0",
                "--eval-size",
                "0",
                "--no-tensorboard",
            ],
        )
    )
    assert f"rows in {len(PROMPTS)}, out {len(PROMPTS)}" in trained
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()


def test_prompt_mix_reads_prompts_and_rlvr_rows(tmp_path):
    prompts = _jsonl(
        tmp_path / "prompts.jsonl",
        [{"messages": [{"role": "user", "content": p}]} for p in PROMPTS],
    )
    rlvr = _jsonl(tmp_path / "rlvr.jsonl", RLVR_MIXED)
    recipe = tmp_path / "mix.yaml"
    recipe.write_text(
        "name: prompts\nseed: 1\nkind: prompt\nsources:\n"
        f"  - name: chat\n    path: {prompts}\n    take: {{fraction: 1.0}}\n"
        f"  - name: tulu_rlvr\n    path: {rlvr}\n    take: {{fraction: 1.0}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "mix"
    _ok(CliRunner().invoke(main, ["mix", str(recipe), "--out", str(out)]))
    rows = list(read_rows(out, "prompt"))
    assert len(rows) == len(PROMPTS) + len(RLVR_MIXED)
    checks = [json.loads(r["metadata"]).get("verifier") for r in rows]
    assert sorted(c for c in checks if c) == ["gsm8k", "ifeval", "math"]


def test_malformed_ifeval_truth_is_named_when_training_reads_it(tmp_path):
    from manifests.shards import write_shards
    from trainers.tiny_model import build_tiny_model

    bad = dict(RLVR_MIXED[2], ground_truth=json.dumps({"func_name": "validate_made_up"}))
    rows = list(read_rows(_jsonl(tmp_path / "in.jsonl", [RLVR_MIXED[0], bad]), "rlvr"))
    mix = tmp_path / "mix"
    write_shards(rows, mix, "rlvr")
    model = build_tiny_model(PROMPTS, tmp_path / "tiny")
    failed = CliRunner().invoke(
        main,
        [
            "train",
            "rlvr",
            "--data",
            str(mix),
            "--model",
            str(model),
            "--output",
            str(tmp_path / "run"),
            "--max-new-tokens",
            "2",
            "--num-generations",
            "2",
            "--batch-size",
            "2",
            "--max-steps",
            "1",
            "--beta",
            "0",
            "--eval-size",
            "0",
            "--no-tensorboard",
        ],
    )
    assert failed.exit_code != 0
    assert "row 1" in failed.output and "validate_made_up" in failed.output


def test_mix_folder_opens_the_way_hugging_face_users_open_it(tmp_path):
    import datasets
    import polars as pl
    import pyarrow.dataset as pads

    # Distinct prompts: the mixer drops rows whose prompt repeats.
    rows = [
        dict(
            r,
            id=f"{r['id']}_{i}",
            messages=[
                *r["messages"][:-2],
                {"role": "user", "content": f"{r['messages'][-2]['content']} {i}"},
                r["messages"][-1],
            ],
        )
        for i in range(3)
        for r in SFT_MIXTURE
    ]
    src = _jsonl(tmp_path / "sft.jsonl", rows)
    recipe = tmp_path / "mix.yaml"
    recipe.write_text(
        f"name: m\nseed: 1\nkind: sft\nsources:\n  - name: s\n    path: {src}\n"
        "    take: {fraction: 1.0}\nshards: {max_rows: 2}\n",
        encoding="utf-8",
    )
    out = tmp_path / "mix"
    _ok(CliRunner().invoke(main, ["mix", str(recipe), "--out", str(out)]))
    manifest = json.loads((out / "manifest.json").read_text())
    shards = [out / s["file"] for s in manifest["shards"]]
    assert len(shards) == 3, (manifest["total_rows"], manifest["sources"], manifest["shards"])
    loaded = datasets.load_from_disk(str(out))
    assert loaded.num_rows == 6 and loaded.column_names[:4] == ["id", "source", "skill", "messages"]
    assert "¿Qué hora es en Tokio? 1" in [m["content"] for r in loaded for m in r["messages"]]
    assert datasets.Dataset.from_file(str(shards[0])).num_rows == 2
    arrow = datasets.load_dataset("arrow", data_files=[str(p) for p in shards], split="train")
    assert arrow.num_rows == 6
    assert pl.concat([pl.read_ipc(p) for p in shards]).height == 6
    # pyarrow.dataset over the folder: the JSON side files are not Arrow, so they are skipped.
    table = pads.dataset(out, format="ipc", exclude_invalid_files=True).to_table()
    assert table.num_rows == 6
    assert sorted(r["id"] for r in read_rows(out)) == sorted(r["id"] for r in loaded)
    verified = CliRunner().invoke(main, ["verify", str(out)])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    ("rows", "kind", "method"),
    [(SFT_MIXTURE, "sft", "sft"), (PREFERENCE_MIXTURE, "preference", "dpo")],
    ids=["sft-mixture", "preference-mixture"],
)
def test_public_shapes_mix_and_train(tmp_path, rows, kind, method):
    from trainers.tiny_model import build_tiny_model

    # Distinct prompts (the mixer drops repeated ones), then a mix, then one training step.
    many = []
    for i in range(4):
        for r in rows:
            row = json.loads(json.dumps(r))
            row["id"] = f"{r['id']}_{i}"
            for field in ("messages", "chosen", "rejected"):
                if field in row:
                    row[field][-2]["content"] += f" ({i})"
            if "prompt" in row:
                row["prompt"] += f" ({i})"
            many.append(row)
    src = _jsonl(tmp_path / "in.jsonl", many)
    recipe = tmp_path / "mix.yaml"
    recipe.write_text(
        f"name: m\nseed: 1\nkind: {kind}\nsources:\n  - name: s\n"
        f"    path: {src}\n    take: {{fraction: 1.0}}\n",
        encoding="utf-8",
    )
    mix = tmp_path / "mix"
    _ok(CliRunner().invoke(main, ["mix", str(recipe), "--out", str(mix)]))
    texts = [m["content"] for r in many for f in ("messages", "chosen") for m in r.get(f, [])]
    model = build_tiny_model(texts, tmp_path / "tiny")
    out = _ok(
        CliRunner().invoke(
            main,
            [
                "train",
                method,
                "--data",
                str(mix),
                "--model",
                str(model),
                "--output",
                str(tmp_path / "run"),
                "--batch-size",
                "2",
                "--max-steps",
                "1",
                "--no-tensorboard",
            ],
        )
    )
    assert f"rows in {len(many)}, out {len(many)}" in out
