"""Two CPU processes under `accelerate launch` (DDP, gloo) follow the one-process curve."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from trainers import SFTConfig, read_log, run_sft


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    launcher = Path(sys.executable).parent / "accelerate"
    # One thread per process: two processes on two cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
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
    done = subprocess.run(
        [
            str(launcher),
            "launch",
            "--cpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(free_port()),
            "-m",
            "skillmix",
            *args,
            "--output",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = read_log(tmp_path / "one"), read_log(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3]
    for a, b in zip(one, two, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["label_tokens"] == b["label_tokens"]
