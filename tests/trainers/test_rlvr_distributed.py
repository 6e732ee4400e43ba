"""GRPO under `accelerate launch` with two CPU processes (DDP, gloo): the metrics and the
evaluation are reduced over both processes, and every process joins every all-reduce."""

import json

from manifests.shards import write_shards
from tests.trainers.launch import launch_two_cpu_processes
from trainers.core.runlog import read_log

LOWERCASE = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]})


def test_two_processes_train_and_evaluate_together(model_dir, rows_factory, tmp_path):
    rows = [
        {
            "id": f"d{i}",
            "source": "t",
            "skill": "ifeval",
            "messages": [{"role": "user", "content": row["messages"][-2]["content"]}],
            "ground_truth": LOWERCASE,
            "verifier": "ifeval",
            "metadata": "{}",
        }
        for i, row in enumerate(rows_factory(14, seed=9))
    ]
    write_shards(rows, tmp_path / "mix", "rlvr")
    done = launch_two_cpu_processes(
        [
            "train",
            "rlvr",
            "--data",
            str(tmp_path / "mix"),
            "--model",
            str(model_dir),
            "--output",
            str(tmp_path / "out"),
            "--max-length",
            "96",
            "--max-new-tokens",
            "6",
            "--num-generations",
            "4",
            "--batch-size",
            "4",
            "--micro-batch-size",
            "1",
            "--max-steps",
            "3",
            "--lr",
            "1e-2",
            "--beta",
            "0.1",
            "--eval-size",
            "5",
            "--no-tensorboard",
        ]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = read_log(tmp_path / "out")
    assert [r["step"] for r in log] == [1, 2, 3]
    for r in log:  # 4 prompts (groups) per step over the two processes
        assert r["zero_signal_groups"] == 4 * r["zero_signal_share"]
        assert r["correct_share"] * 16 == round(r["correct_share"] * 16)  # 16 samples
    assert abs(log[0]["kl"]) < 1e-7
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["eval"]["before"]["rows"] == summary["eval"]["after"]["rows"] == 5
    assert summary["train_prompts"] == 9
