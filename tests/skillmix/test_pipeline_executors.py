"""The same stage on datatrove's local pool, a real local Ray, and a (simulated) Slurm."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from skillmix.pipeline import ExecutorSpec, load_run_recipe, run_pipeline
from skillmix.pipeline.executors import build_executor
from skillmix.pipeline.stages.augment_if import AugmentTask
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

AUGMENT = [{"augment_if": {"from": ["alpaca", "chat"], "as": "if_prompts"}}]
OUTPUT = Path("00-augment_if") / "sources" / "if_prompts.jsonl"


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    folder = tmp_path_factory.mktemp("executors")
    write_sources(folder, n=60)
    return write_recipe(folder, AUGMENT)


@pytest.fixture(scope="module")
def in_process(recipe):
    """The stage run with one worker, in this process: the reference output."""
    run_dir = recipe.parent / "one"
    run_pipeline(load_run_recipe(recipe), run_dir=run_dir, echo=quiet)
    return (run_dir / OUTPUT).read_bytes()


def completions(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "00-augment_if" / "executor" / "completions")
                  .iterdir())


def test_local_pool_with_several_tasks(recipe, in_process, tmp_path):
    records = run_pipeline(load_run_recipe(recipe), run_dir=tmp_path / "pool",
                           executor=ExecutorSpec("local", workers=2), echo=quiet)
    assert (tmp_path / "pool" / OUTPUT).read_bytes() == in_process
    assert completions(tmp_path / "pool") == ["00000", "00001"]
    assert records[0]["accounting"]["rows_in"] == 62 + 31


def test_ray_executor_on_a_local_ray(recipe, in_process, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is in the dev extra")
    try:
        run_pipeline(load_run_recipe(recipe), run_dir=tmp_path / "ray",
                     executor=ExecutorSpec("ray", workers=2), echo=quiet)
    finally:
        ray.shutdown()
    assert (tmp_path / "ray" / OUTPUT).read_bytes() == in_process
    assert completions(tmp_path / "ray") == ["00000", "00001"]


FAKE_SBATCH = """#!/usr/bin/env bash
# A one-node stand-in for sbatch: keeps the script, runs each array task in turn.
script="${@: -1}"
n=$(ls "$SBATCH_LOG" | grep -c '^job-.*\\.sh$' || true)
cp "$script" "$SBATCH_LOG/job-$n.sh"
last=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\).*/\\1/p' "$script")
for i in $(seq 0 "${last:-0}"); do
  SLURM_ARRAY_TASK_ID=$i RUN_OFFSET=0 SLURM_NODELIST=localhost SLURM_JOB_ID=$n \\
    bash "$script" > "$SBATCH_LOG/job-$n-$i.out" 2>&1 || exit 1
done
echo "Submitted batch job $((100 + n))"
"""
FAKE_SCONTROL = """#!/usr/bin/env bash
# `scontrol show hostnames NODELIST`: one host here.
echo "${@: -1}"
"""
FAKE_SRUN = """#!/usr/bin/env bash
while [[ "$1" == -* ]]; do [[ "$1" == "-n" ]] && shift; shift; done
exec "$@"
"""


def test_slurm_executor_script_and_run(recipe, in_process, tmp_path, monkeypatch):
    bin_dir, log = tmp_path / "bin", tmp_path / "sbatch-log"
    bin_dir.mkdir()
    log.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN),
                       ("scontrol", FAKE_SCONTROL)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"{bin_dir}:{venv_bin}:{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(log))
    spec = ExecutorSpec("slurm", workers=2, poll_seconds=0.2, timeout_seconds=120,
                        slurm={"partition": "gpu-big", "time": "01:30:00", "cpus_per_task": 3})
    run_pipeline(load_run_recipe(recipe), run_dir=tmp_path / "slurm", executor=spec, echo=quiet)
    assert (tmp_path / "slurm" / OUTPUT).read_bytes() == in_process
    script = (log / "job-0.sh").read_text()
    for line in ("#SBATCH --partition=gpu-big", "#SBATCH --time=01:30:00",
                 "#SBATCH --cpus-per-task=3", "#SBATCH --array=0-1%2",
                 "#SBATCH --job-name=skillmix-augment_if"):
        assert line in script
    assert "launch_pickled_pipeline" in script and "executor.pik" in script


def test_build_executor_kinds(tmp_path):
    task = AugmentTask.__new__(AugmentTask)
    for kind, cls in (("local", "LocalPipelineExecutor"), ("ray", "RayPipelineExecutor")):
        executor = build_executor(ExecutorSpec(kind, workers=3), [task, task], tmp_path / kind,
                                  "job")
        assert type(executor).__name__ == cls and executor.world_size == 2
    with pytest.raises(ValueError, match="executor must be one of"):
        ExecutorSpec("kubernetes")
