"""`skillmix run --executor slurm` on a real Slurm (see conftest.py for when these run).

Each test drives the CLI in a subprocess, as a user would, and checks the queue with
squeue afterwards: no test may leave a job behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skillmix.pipeline.slurm import job_name_for
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

SKILLMIX = str(Path(sys.executable).parent / "skillmix")
STAGES = [
    {"augment_if": {"from": ["alpaca", "chat"], "as": "if_prompts"}},
    {"decontaminate": {"evals": ["evals.jsonl:question"]}},
    {"dedup": {"exact": True}},
    {"mix": {}},
]
FAST = ["--executor", "slurm", "--slurm-poll-seconds", "0.5", "--slurm-cpus-per-task", "1"]
HOLD = "--slurm-sbatch-arg=--begin=now+300"  # keeps the array pending while a test acts


def driver_env(**extra: str) -> dict[str, str]:
    """The driver as a user might start it: by path, no virtualenv on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if p != venv_bin)
    return {**env, **extra}


def skillmix_run(recipe: Path, run_dir: Path, *args: str, timeout: float = 240):
    return subprocess.run(
        [SKILLMIX, "run", str(recipe), "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=driver_env(),
        cwd=recipe.parent,
    )


def start(recipe: Path, run_dir: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [SKILLMIX, "run", str(recipe), "--run-dir", str(run_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=driver_env(**env),
        cwd=recipe.parent,
    )


def wait_for_state(task: str, state: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["squeue", "-h", "-r", "-j", task.split("_")[0], "-o", "%i|%T"],
            capture_output=True,
            text=True,
        )
        if f"{task}|{state}" in done.stdout.split():
            return
        time.sleep(0.3)
    raise AssertionError(f"{task} never reached {state} in {seconds} s")


def queue() -> dict[str, str]:
    """{job id: job name} of everything pending or running."""
    done = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i|%j"], capture_output=True, text=True, check=True
    )
    return dict(line.split("|", 1) for line in done.stdout.split())


def stage_job(run_dir: Path, stage: str) -> str:
    return job_name_for(
        f"skillmix-{stage.split('-', 1)[1]}", (run_dir / stage / "executor").resolve()
    )


def wait_for_jobs(name: str, count: int, seconds: float = 60) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ids = sorted(i for i, n in queue().items() if n == name)
        if len(ids) >= count:
            return ids
        time.sleep(0.3)
    raise AssertionError(f"no {count} jobs named {name} appeared in {seconds} s: {queue()}")


def shard_digests(run_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.glob("*/mix/shard-*.arrow"))
    }


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    folder = tmp_path / "recipe"
    write_sources(folder, n=40)
    return write_recipe(folder, STAGES, total=60)


def test_slurm_run_gives_the_local_shards(recipe, tmp_path):
    local = skillmix_run(recipe, tmp_path / "local")
    assert local.returncode == 0, local.stderr
    on_slurm = skillmix_run(recipe, tmp_path / "slurm", *FAST, "--tasks", "2")
    assert on_slurm.returncode == 0, on_slurm.stderr
    expected = shard_digests(tmp_path / "local")
    assert expected and shard_digests(tmp_path / "slurm") == expected
    executor = tmp_path / "slurm" / "00-augment_if" / "executor"
    assert sorted(p.name for p in (executor / "completions").iterdir()) == ["00000", "00001"]
    assert len(list((executor / "stats").glob("*.json"))) == 2
    assert isinstance(json.loads((executor / "stats.json").read_text()), list)  # driver-merged
    logs = sorted((executor / "slurm_logs").glob("*.out"))
    assert len(logs) == 2 and all("skillmix stage job" in p.read_text() for p in logs)
    names = {stage_job(tmp_path / "slurm", p.name) for p in (tmp_path / "slurm").glob("0*")}
    assert not names & set(queue().values())  # no merge_stats or other job left


def test_malformed_row_fails_fast_and_leaves_no_job(recipe, tmp_path):
    chat = recipe.parent / "chat.jsonl"
    lines = chat.read_text().splitlines()
    lines[4] = '{"messages": [{"role": "user", "content": "cut off'
    chat.write_text("\n".join(lines) + "\n")
    began = time.monotonic()
    result = skillmix_run(recipe, tmp_path / "run", *FAST, timeout=120)
    took = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert took < 60, f"took {took:.0f} s"
    assert f"{chat}, row 5" in result.stderr and "malformed JSON" in result.stderr
    assert "stage 00-augment_if" in result.stderr and "log: " in result.stderr
    log = Path(result.stderr.split("log: ")[1].split()[0])
    assert log.is_file() and "row 5" in log.read_text()
    assert "Traceback" not in result.stderr
    assert stage_job(tmp_path / "run", "00-augment_if") not in queue().values()


@pytest.fixture
def cancel_after():
    """Job names whose leftovers a failed test must not leave in the queue."""
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["scancel", "-n", name], check=False)


def test_cancelled_task_is_named(recipe, tmp_path, cancel_after):
    name = stage_job(tmp_path / "run", "00-augment_if")
    cancel_after.append(name)
    driver = start(recipe, tmp_path / "run", *FAST, HOLD)
    try:
        job = wait_for_jobs(name, 2)[0].split("_")[0]
        subprocess.run(["scancel", f"{job}_1"], check=True)
        _, err = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 1, err
    assert f"rank 1 (job {job}_1) left the queue without a completion marker" in err
    assert f"cancelled Slurm jobs {job}" in err
    assert name not in queue().values()


SLOW_TASKS = """import os, time
if os.environ.get("SLURM_ARRAY_TASK_ID"):  # inside a Slurm task only, not in the driver
    time.sleep(120)
"""


def test_cancelled_running_task_is_named(recipe, tmp_path, cancel_after):
    """A task cancelled while it runs: CANCELLED in squeue, Slurm's line in its log."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_TASKS)
    name = stage_job(tmp_path / "run", "00-augment_if")
    cancel_after.append(name)
    driver = start(recipe, tmp_path / "run", *FAST, PYTHONPATH=str(slow))
    try:
        job = wait_for_jobs(name, 2)[0].split("_")[0]
        wait_for_state(f"{job}_0", "RUNNING")
        log = tmp_path / "run" / "00-augment_if" / "executor" / "slurm_logs" / f"{job}_0.out"
        deadline = time.monotonic() + 30  # RUNNING comes before the script has started
        while "skillmix stage job" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, f"{log} never started"
            time.sleep(0.3)
        subprocess.run(["scancel", f"{job}_0"], check=True)
        _, err = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 1, err
    assert f"rank 0 (job {job}_0) CANCELLED" in err
    assert "CANCELLED AT" in err, err  # slurmstepd's line, read from the task's log
    assert f"slurm_logs/{job}_0.out" in err
    assert name not in queue().values()


def test_sigterm_cancels_the_drivers_jobs(recipe, tmp_path, cancel_after):
    name = stage_job(tmp_path / "run", "00-augment_if")
    cancel_after.append(name)
    driver = start(recipe, tmp_path / "run", *FAST, HOLD)
    try:
        wait_for_jobs(name, 2)
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 128 + signal.SIGTERM, err
    assert "stopped by signal 15; cancelled Slurm jobs" in err
    assert name not in queue().values()


def test_rerun_after_kill9_cancels_the_stale_array(recipe, tmp_path, cancel_after):
    name = stage_job(tmp_path / "run", "00-augment_if")
    cancel_after.append(name)
    driver = start(recipe, tmp_path / "run", *FAST, HOLD)
    try:
        stale = {i.split("_")[0] for i in wait_for_jobs(name, 2)}
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
    finally:
        driver.kill()
    assert stale <= {i.split("_")[0] for i in queue()}  # the dead driver's array is still there
    rerun = skillmix_run(recipe, tmp_path / "run", *FAST)
    assert rerun.returncode == 0, rerun.stderr
    assert (
        f"cancelled Slurm jobs {', '.join(sorted(stale))} left by an earlier driver" in rerun.stderr
    )
    assert not stale & {i.split("_")[0] for i in queue()}
    assert shard_digests(tmp_path / "run")


def test_unknown_partition_is_a_named_error(recipe, tmp_path):
    result = skillmix_run(recipe, tmp_path / "run", *FAST, "--slurm-partition", "nosuchpart")
    assert result.returncode == 1
    assert "Slurm partition 'nosuchpart' not found on this cluster" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_recipe_on_slurm_gives_the_local_shards(tmp_path):
    """The shipped demo recipe (augment-if, preference pairs from the mock pool and judge,
    tag, decontaminate, dedup, three mixes, a CPU SFT) on Slurm and locally."""
    from curate.backends.mock_server import MockOpenAIServer, template_answer

    demo = Path(__file__).parents[2] / "manifests" / "recipes" / "demo_run.yaml"
    with MockOpenAIServer(template_answer, port=18931):  # the port the recipe names
        local = skillmix_run(demo, tmp_path / "local", timeout=400)
        assert local.returncode == 0, local.stderr[-3000:]
        on_slurm = skillmix_run(demo, tmp_path / "slurm", *FAST, "--tasks", "2", timeout=400)
        assert on_slurm.returncode == 0, on_slurm.stderr[-3000:]
    expected = shard_digests(tmp_path / "local")
    assert {Path(k).parts[0] for k in expected} == {"05-mix", "06-rlvr_mix", "07-pref_mix"}
    assert shard_digests(tmp_path / "slurm") == expected
    ran_on_slurm = sorted(
        p.parent.parent.name for p in (tmp_path / "slurm").glob("*/executor/slurm_logs")
    )
    assert "03-decontaminate" in ran_on_slurm and "04-dedup" in ran_on_slurm, ran_on_slurm
