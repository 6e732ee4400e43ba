"""rlvr exports in the layouts peers read: TRL's GRPOTrainer trains a step on one, and
open-instruct's layout names its verifiers as open-instruct does."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from skillmix.cli import main

ROWS = [
    {
        "id": f"g{i}",
        "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
        "ground_truth": str(2 * i),
        "dataset": "gsm8k",
    }
    for i in range(4)
] + [
    {
        "id": "if0",
        "messages": [{"role": "user", "content": "Reply in lowercase."}],
        "ground_truth": json.dumps({"func_name": "validate_lowercase", "N": None}),
        "dataset": "ifeval",
    },
]


@pytest.fixture
def rlvr_file(tmp_path):
    path = tmp_path / "rlvr.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_open_instruct_layout(rlvr_file, tmp_path):
    out = tmp_path / "oi.jsonl"
    result = CliRunner().invoke(
        main, ["convert", str(rlvr_file), str(out), "--layout", "open-instruct"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(sorted(r) == ["dataset", "ground_truth", "id", "messages", "source"] for r in rows)
    assert [r["dataset"] for r in rows] == ["gsm8k"] * 4 + ["ifeval_old"]
    assert rows[0]["messages"] == ROWS[0]["messages"]


def test_export_refuses_other_formats_and_kinds(rlvr_file, tmp_path):
    bad = CliRunner().invoke(
        main, ["convert", str(rlvr_file), str(tmp_path / "x.csv"), "--layout", "trl"]
    )
    assert bad.exit_code != 0 and "writes .jsonl or .parquet" in bad.output
    sft = tmp_path / "sft.jsonl"
    sft.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    failed = CliRunner().invoke(
        main, ["convert", str(sft), str(tmp_path / "y.jsonl"), "--layout", "trl"]
    )
    assert failed.exit_code != 0 and "row 1" in failed.output and "ground_truth" in failed.output


def test_trl_grpo_trains_one_step_on_the_export(rlvr_file, tmp_path):
    import datasets
    import trl  # the dev extra installs it: the peer this layout is for
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainers.tiny_model import build_tiny_model

    out = tmp_path / "trl.parquet"
    result = CliRunner().invoke(main, ["convert", str(rlvr_file), str(out), "--layout", "trl"])
    assert result.exit_code == 0, result.output
    train = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert train.column_names == ["id", "source", "prompt", "ground_truth", "verifier"]

    model_dir = build_tiny_model([r["messages"][0]["content"] for r in ROWS], tmp_path / "m")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )
    seen: list[str] = []

    def reward(completions, ground_truth, verifier, **_):
        seen.extend(ground_truth)
        assert set(verifier) <= {"gsm8k", "ifeval"}
        return [0.0 for _ in completions]

    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=4,
        max_steps=1,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        bf16=False,
    )
    trainer = trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        reward_funcs=reward,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
    )
    trainer.train()
    assert trainer.state.global_step == 1
    assert seen and set(seen) <= {r["ground_truth"] for r in ROWS}
