"""Running a stage's tasks on datatrove's executors: local processes, Slurm, or Ray.

Each task is one datatrove rank. datatrove records finished ranks in
`<logging_dir>/completions/`, so a stage that was killed runs only its unfinished tasks
again. The driver waits for every rank before the stage's `finish` step.

Two numbers: `tasks` is how many of a stage's tasks run at once (the local pool's size,
the Slurm array's `%N` throttle, Ray's workers), `workers` the processes inside one task.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillmix.pipeline.safety import die_with_parent
from skillmix.pipeline.slurm import SlurmOptions, completed_ranks, run_on_slurm
from skillmix.pipeline.stage import StageError, Task

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
    workers: int = 1  # processes inside one task (and the local pool when `tasks` is unset)
    tasks: int | None = None  # tasks at once; None: local `workers`, Slurm and Ray no cap
    slurm: SlurmOptions | dict[str, Any] = field(default_factory=SlurmOptions)
    ray_address: str | None = None
    poll_seconds: float | None = None  # Slurm: overrides slurm.poll_seconds
    timeout_seconds: float | None = None  # Slurm: overrides slurm.timeout_seconds

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.kind!r}")
        for name in ("workers", "tasks"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise StageError(f"--{name} must be >= 1, got {value}")
        if isinstance(self.slurm, dict):
            self.slurm = SlurmOptions.from_mapping(self.slurm)
        if self.poll_seconds is not None:
            self.slurm.poll_seconds = self.poll_seconds
        if self.timeout_seconds is not None:
            self.slurm.timeout_seconds = self.timeout_seconds


def build_executor(spec: ExecutorSpec, tasks: Sequence[Task], logging_dir: Path, job_name: str):
    """The datatrove executor that runs `tasks`, one rank each (Slurm: see slurm.py)."""
    pipeline = [TaskPipeline(tasks)]
    n = len(tasks)
    if spec.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        # One worker runs the ranks in this process; more use datatrove's process pool.
        return LocalPipelineExecutor(
            pipeline,
            tasks=n,
            workers=min(spec.tasks or spec.workers, n),
            logging_dir=str(logging_dir),
            start_method="spawn",
        )
    if spec.kind == "slurm":
        from skillmix.pipeline.slurm import SkillmixSlurmExecutor, job_name_for

        name = job_name_for(job_name, logging_dir)
        return SkillmixSlurmExecutor(
            pipeline,
            tasks=n,
            job_name=name,
            logging_dir=str(logging_dir),
            options=spec.slurm,
            throttle=spec.tasks,
        )
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(
        pipeline, tasks=n, workers=spec.tasks or spec.workers, logging_dir=str(logging_dir)
    )


def run_tasks(spec: ExecutorSpec, tasks: Sequence[Task], logging_dir: Path, job_name: str) -> None:
    """Run every task to completion on the chosen executor (Slurm: submit, then watch)."""
    if not tasks:
        return
    if spec.kind == "slurm":
        run_on_slurm(
            [TaskPipeline(tasks)], len(tasks), logging_dir, job_name, spec.slurm, spec.tasks
        )
    else:
        if spec.kind == "ray":
            import ray

            if not ray.is_initialized():
                ray.init(
                    address=spec.ray_address,
                    ignore_reinit_error=True,
                    include_dashboard=False,
                    log_to_driver=False,
                )
        build_executor(spec, tasks, logging_dir, job_name).run()
    missing = set(range(len(tasks))) - completed_ranks(logging_dir)
    if missing:
        raise StageError(
            f"{logging_dir.parent.name}: tasks {sorted(missing)} did not complete; "
            f"see the logs in {logging_dir / 'logs'}"
        )
