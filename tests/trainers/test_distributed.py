"""Two CPU processes under `accelerate launch` (DDP, gloo) follow the one-process curve."""

import pytest

from tests.trainers.launch import launch_two_cpu_processes
from trainers import SFTConfig, read_log, run_sft


def test_two_processes_match_one(model_dir, sft_mix, tmp_path):
    args = [
        "train",
        "sft",
        "--data",
        str(sft_mix),
        "--model",
        str(model_dir),
        "--batch-size",
        "4",
        "--micro-batch-size",
        "1",
        "--max-steps",
        "3",
        "--lr",
        "3e-3",
        "--no-tensorboard",
    ]
    run_sft(
        SFTConfig(
            data=str(sft_mix),
            model=str(model_dir),
            output=str(tmp_path / "one"),
            batch_size=4,
            micro_batch_size=1,
            max_steps=3,
            learning_rate=3e-3,
            tensorboard=False,
        )
    )
    done = launch_two_cpu_processes([*args, "--output", str(tmp_path / "two")])
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = read_log(tmp_path / "one"), read_log(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3]
    for a, b in zip(one, two, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["label_tokens"] == b["label_tokens"]
