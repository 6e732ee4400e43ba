"""Running a stage's tasks on datatrove's executors: local processes, Slurm, or Ray.

Each task is one datatrove rank. datatrove records finished ranks in
`<logging_dir>/completions/`, so a stage that was killed runs only its unfinished tasks
again. The driver waits for every rank before the stage's `finish` step.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillmix.pipeline.safety import die_with_parent
from skillmix.pipeline.stage import Task

EXECUTORS = ("local", "slurm", "ray")


class TaskPipeline:
    """A datatrove pipeline step: rank r runs task r."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.tasks = list(tasks)

    def __call__(self, data: Any, rank: int = 0, world_size: int = 1) -> None:
        if multiprocessing.parent_process() is not None:  # a pool worker: die with the driver
            die_with_parent()
        self.tasks[rank].run()

    def __repr__(self) -> str:  # datatrove logs its pipeline
        return f"skillmix stage ({len(self.tasks)} tasks)"


@dataclass
class ExecutorSpec:
    kind: str = "local"
    workers: int = 1
    slurm: dict[str, Any] = field(default_factory=dict)  # partition, time, cpus_per_task, ...
    ray_address: str | None = None
    poll_seconds: float = 5.0
    timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.kind!r}")


def build_executor(spec: ExecutorSpec, tasks: Sequence[Task], logging_dir: Path, job_name: str):
    """The datatrove executor that runs `tasks`, one rank each."""
    pipeline = [TaskPipeline(tasks)]
    n = len(tasks)
    if spec.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        # One worker runs the ranks in this process; more use datatrove's process pool.
        return LocalPipelineExecutor(pipeline, tasks=n, workers=min(spec.workers, n),
                                     logging_dir=str(logging_dir), start_method="spawn")
    if spec.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        options = {"time": "04:00:00", "partition": "cpu", **spec.slurm}
        options.setdefault("slurm_logs_folder", str(logging_dir / "slurm_logs"))
        # `workers` caps how many array tasks Slurm runs at once (--array=0-N%workers).
        return SlurmPipelineExecutor(pipeline, tasks=n, job_name=job_name, workers=spec.workers,
                                     logging_dir=str(logging_dir), **options)
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(pipeline, tasks=n, workers=spec.workers,
                               logging_dir=str(logging_dir))


def completed_ranks(logging_dir: Path) -> set[int]:
    folder = logging_dir / "completions"
    return {int(p.name) for p in folder.iterdir()} if folder.is_dir() else set()


def run_tasks(spec: ExecutorSpec, tasks: Sequence[Task], logging_dir: Path, job_name: str) -> None:
    """Run every task to completion on the chosen executor (Slurm: submit, then wait)."""
    if not tasks:
        return
    if spec.kind == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=spec.ray_address, ignore_reinit_error=True,
                     include_dashboard=False, log_to_driver=False)
    executor = build_executor(spec, tasks, logging_dir, job_name)
    executor.run()
    if spec.kind == "slurm":
        wait_for_ranks(logging_dir, len(tasks), spec.poll_seconds, spec.timeout_seconds)
    missing = set(range(len(tasks))) - completed_ranks(logging_dir)
    if missing:
        raise RuntimeError(f"{job_name}: tasks {sorted(missing)} did not complete; "
                           f"see the logs in {logging_dir / 'logs'}")


def wait_for_ranks(logging_dir: Path, n: int, poll: float, timeout: float | None) -> None:
    start = time.monotonic()
    while len(completed_ranks(logging_dir)) < n:
        if timeout is not None and time.monotonic() - start > timeout:
            raise TimeoutError(f"Slurm tasks under {logging_dir} did not finish in {timeout} s")
        time.sleep(poll)
