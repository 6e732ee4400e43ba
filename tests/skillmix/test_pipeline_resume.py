"""Killing `skillmix run` inside a stage and running it again gives the same shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.skillmix.pipeline_helpers import write_recipe, write_sources

STAGES = [
    {"decontaminate": {"evals": ["leak=evals.jsonl:question", "humaneval"]}},
    {"dedup": {}},
    {"mix": {}},
]


def start_run(recipe: Path, run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "skillmix", "run", str(recipe), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=recipe.parent,
    )


def run_to_end(recipe: Path, run_dir: Path) -> None:
    proc = start_run(recipe, run_dir)
    assert proc.wait(timeout=240) == 0


def shard_hashes(run_dir: Path) -> list[str]:
    manifest = json.loads((run_dir / "02-mix" / "mix" / "manifest.json").read_text())
    return [s["sha256"] for s in manifest["shards"]]


def kill_inside(recipe: Path, run_dir: Path, folder: str) -> None:
    """Start a run and SIGKILL it once `folder` has started but before it finished."""
    proc = start_run(recipe, run_dir)
    key = run_dir / folder / "key"
    deadline = time.monotonic() + 240
    while not key.exists():
        assert proc.poll() is None, "the run ended before the stage started"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    write_sources(folder, n=3000)
    recipe = write_recipe(folder, STAGES, total=4000, shards={"max_rows": 500})
    baseline = folder / "uninterrupted"
    run_to_end(recipe, baseline)
    return recipe, shard_hashes(baseline)


@pytest.mark.parametrize("folder", ["00-decontaminate", "02-mix"])
def test_kill_during_stage_then_rerun_gives_the_same_shards(project, tmp_path, folder):
    recipe, expected = project
    run_dir = tmp_path / "run"
    for _ in range(3):  # the kill must land inside the stage; retry if the stage won the race
        kill_inside(recipe, run_dir, folder)
        if not (run_dir / folder / "stage.json").exists():
            break
        import shutil

        shutil.rmtree(run_dir)
    assert not (run_dir / folder / "stage.json").exists(), "never killed inside the stage"
    run_to_end(recipe, run_dir)
    assert shard_hashes(run_dir) == expected
    stages = json.loads((run_dir / "run.json").read_text())["stages"]
    assert [s["type"] for s in stages] == ["decontaminate", "dedup", "mix"]
    decontam = stages[0]["accounting"]
    assert decontam["removed"] == {"contaminated": 1}
    assert stages[1]["accounting"]["removed"]["duplicate_exact"] == 2
