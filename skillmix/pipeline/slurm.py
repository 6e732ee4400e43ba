"""Running a stage's tasks as a Slurm job array, and watching them until they end.

The driver writes datatrove's `executor.pik` and `ranks_to_run.json` into the stage's
executor folder, submits one sbatch array (array task i runs rank ranks_to_run[i]) and
polls `squeue` and the completion markers. A task that failed, was cancelled, or left the
queue without a completion marker ends the stage with a `SlurmTaskError` naming the
stage, rank, the task's last error line and its log. SIGINT/SIGTERM of the driver cancels
the jobs it submitted. datatrove's dependent `merge_stats` job is not submitted (it would
pend forever after a failure): the driver merges the stats itself.

Job names carry a hash of the executor folder, so a rerun finds jobs that a killed driver
left in the queue and cancels them before it submits the unfinished ranks again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
from datatrove.executor import SlurmPipelineExecutor

from skillmix.pipeline.stage import StageError

# States of a task that is still on its way (squeue's long names).
ACTIVE = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
    "RESV_DEL_HOLD",
    "SPECIAL_EXIT",
}
# Pending reasons that never clear by themselves: the task would pend forever.
STUCK_REASONS = {
    "DependencyNeverSatisfied",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "PartitionTimeLimit",
    "PartitionNodeLimit",
    "PartitionConfig",
    "AssociationJobLimit",
    "QOSMaxWallDurationPerJobLimit",
}
# Directives the driver itself relies on; extra sbatch arguments must not change them.
RESERVED = {"array", "output", "error", "job-name", "parsable"}
MAX_ARRAY = 1000
ERROR_LINE = re.compile(
    r"(^[\w.]*(Error|Exception|Interrupt|Exit)\b.*)|(error:)|(\| ERROR +\|)"
    r"|CANCELLED|DUE TO TIME LIMIT|oom-kill|Killed|No such file or directory"
    r"|command not found"
)


class SlurmError(StageError):
    """Slurm refused the job, or could not be asked about it."""


class SlurmTimeout(SlurmError):
    """A Slurm command did not answer in time."""


class SlurmTaskError(SlurmError):
    """One or more tasks of a stage failed, were cancelled, or vanished on Slurm."""


class DriverStopped(SystemExit):
    """SIGINT/SIGTERM reached the driver; its jobs were cancelled on the way out."""


@dataclass
class SlurmOptions:
    """What goes into each stage's sbatch script. None means: the cluster's default."""

    partition: str | None = None
    time: str | None = None
    cpus_per_task: int = 1
    mem: str | None = None  # per node, e.g. "8G"
    mem_per_cpu: str | None = None  # e.g. "2G"
    qos: str | None = None
    account: str | None = None
    venv: str | None = None  # a virtualenv folder or its bin/activate; default this interpreter's
    sbatch_args: list[str] = field(default_factory=list)  # e.g. ["--constraint=ssd", "--requeue"]
    poll_seconds: float = 5.0
    timeout_seconds: float | None = None  # the whole stage; None waits as long as tasks live
    unreachable_seconds: float = 120.0  # squeue failing this long ends the run

    def __post_init__(self) -> None:
        if self.cpus_per_task < 1:
            raise SlurmError(f"Slurm cpus per task must be >= 1, got {self.cpus_per_task}")
        if self.mem and self.mem_per_cpu:
            raise SlurmError("give Slurm memory per node (mem) or per CPU (mem_per_cpu), not both")
        extra = parse_sbatch_args(self.sbatch_args)
        clash = RESERVED & set(extra)
        if clash:
            raise SlurmError(f"extra sbatch argument(s) {sorted(clash)} are set by skillmix")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> SlurmOptions:
        known = set(cls.__dataclass_fields__)
        values = {
            ("venv" if k == "venv_path" else k): v for k, v in options.items() if v is not None
        }
        unknown = sorted(set(values) - known)
        if unknown:
            raise SlurmError(f"unknown Slurm option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


def parse_sbatch_args(args: Sequence[str]) -> dict[str, str]:
    """["--constraint=ssd", "--requeue"] -> {"constraint": "ssd", "requeue": ""}."""
    parsed: dict[str, str] = {}
    for arg in args:
        key, _, value = arg.strip().lstrip("-").partition("=")
        if not key or " " in key or (arg.strip().startswith("-") and not arg.startswith("--")):
            raise SlurmError(f"extra sbatch argument {arg!r}: write it as --name=value or --flag")
        parsed[key] = value
    return parsed


def sbatch_directives(
    options: SlurmOptions, *, job_name: str, array_size: int, throttle: int | None, log_pattern: str
) -> dict[str, str]:
    """The #SBATCH lines of a stage's array (values "" are flags)."""
    directives: dict[str, str] = {
        "job-name": job_name,
        "array": f"0-{array_size - 1}" + (f"%{throttle}" if throttle else ""),
        "output": log_pattern,
        "error": log_pattern,
        "cpus-per-task": str(options.cpus_per_task),
        "nodes": "1",
    }
    for key, value in (
        ("partition", options.partition),
        ("time", options.time),
        ("mem", options.mem),
        ("mem-per-cpu", options.mem_per_cpu),
        ("qos", options.qos),
        ("account", options.account),
    ):
        if value:
            directives[key] = str(value)
    directives.update(parse_sbatch_args(options.sbatch_args))
    return directives


def environment_lines(venv: str | None) -> tuple[list[str], str]:
    """Shell lines that give the job this run's Python, and the interpreter to call.

    Without a venv the job runs this very interpreter (its absolute path), with its
    virtualenv's bin first on PATH, so console scripts and subprocesses match the driver.
    """
    if venv:
        path = Path(venv).expanduser()
        activate = path / "bin" / "activate" if path.is_dir() else path
        if not activate.is_file():
            raise SlurmError(f"--slurm-venv {venv}: no virtualenv activate script at {activate}")
        return [f"source {shlex.quote(str(activate.resolve()))}"], "python"
    lines = []
    if sys.prefix != sys.base_prefix:
        lines += [
            f"export VIRTUAL_ENV={shlex.quote(sys.prefix)}",
            f'export PATH={shlex.quote(str(Path(sys.prefix) / "bin"))}:"$PATH"',
        ]
    return lines, shlex.quote(sys.executable)


def job_name_for(base: str, logging_dir: Path) -> str:
    digest = hashlib.sha256(str(logging_dir.resolve()).encode()).hexdigest()[:8]
    return f"{base}-{digest}"


class SkillmixSlurmExecutor(SlurmPipelineExecutor):
    """datatrove's Slurm executor with skillmix's own submission (see the module doc).

    Inside a job, datatrove's `run` picks the rank from SLURM_ARRAY_TASK_ID and RUN_OFFSET.
    """

    def __init__(
        self,
        pipeline: list,
        *,
        tasks: int,
        job_name: str,
        logging_dir: str,
        options: SlurmOptions,
        throttle: int | None,
    ) -> None:
        super().__init__(
            pipeline,
            tasks=tasks,
            time=options.time or "",
            partition="",
            cpus_per_task=options.cpus_per_task,
            job_name=job_name,
            logging_dir=logging_dir,
            max_array_size=MAX_ARRAY,
            qos="",
            requeue=False,
            requeue_signals=None,
            with_srun=False,
            slurm_logs_folder=str(Path(logging_dir) / "slurm_logs"),
        )
        self.options = options
        self.throttle = throttle

    def launch_merge_stats(self) -> None:  # merged by the driver (a dependent job could orphan)
        pass

    def script(self, array_size: int) -> str:
        log_pattern = str(Path(self.slurm_logs_folder) / "%A_%a.out")
        directives = sbatch_directives(
            self.options,
            job_name=self.job_name,
            array_size=array_size,
            throttle=self.throttle,
            log_pattern=log_pattern,
        )
        env, python = environment_lines(self.options.venv)
        pik = shlex.quote(self.logging_dir.resolve_paths("executor.pik"))
        return "\n".join(
            ["#!/bin/bash"]
            + [f"#SBATCH --{k}={v}" if v else f"#SBATCH --{k}" for k, v in directives.items()]
            + [
                f'echo "skillmix stage job {self.job_name}, task $SLURM_ARRAY_TASK_ID"',
                *env,
                "set -e",
                "export PYTHONUNBUFFERED=TRUE",
                f"exec {python} -m datatrove.tools.launch_pickled_pipeline {pik}",
                "",
            ]
        )

    def submit(self) -> list[tuple[str, int]]:
        """Submit the unfinished ranks; returns (array job id, rank) per array task."""
        ranks = self.get_incomplete_ranks()
        if not ranks:
            return []
        os.makedirs(self.slurm_logs_folder, exist_ok=True)
        with self.logging_dir.open("executor.pik", "wb") as f:
            dill.dump(deepcopy(self), f, fmode=dill.CONTENTS_FMODE)
        with self.logging_dir.open("ranks_to_run.json", "w") as f:
            json.dump(ranks, f)
        submitted: list[tuple[str, int]] = []
        for offset in range(0, len(ranks), MAX_ARRAY):
            chunk = ranks[offset : offset + MAX_ARRAY]
            text = self.script(len(chunk))
            part = offset // MAX_ARRAY
            script = Path(self.logging_dir.resolve_paths(f"launch_script_{part}.slurm"))
            script.write_text(text)
            job_id = sbatch(script, f"--export=ALL,RUN_OFFSET={part}")
            submitted += [(job_id, rank) for rank in chunk]
        return submitted


# --- talking to Slurm -------------------------------------------------------------------


def _slurm(args: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(
            f"`{args[0]}` not found: --executor slurm needs the Slurm client "
            "commands (sbatch, squeue, scancel) on PATH"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmTimeout(f"`{' '.join(args[:2])}` did not answer in {timeout:.0f} s") from None


def sbatch(script: Path, *args: str) -> str:
    done = _slurm(["sbatch", "--parsable", *args, str(script)])
    if done.returncode != 0:
        raise SlurmError(f"sbatch refused {script}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip().split(";")[0]


def check_partition(name: str | None) -> None:
    if not name:
        return
    done = _slurm(["scontrol", "show", "partition", name])
    if done.returncode != 0:
        listed = _slurm(["sinfo", "-h", "-o", "%R"]).stdout.split()
        raise SlurmError(
            f"Slurm partition {name!r} not found on this cluster; partitions: "
            f"{', '.join(listed) or 'none listed'} (omit --slurm-partition "
            "for the cluster's default)"
        )


def parse_squeue(text: str) -> dict[str, tuple[str, str]]:
    """`squeue -h -r -t all -o %i|%T|%r` lines -> {"JOB_TASK": (state, reason)}."""
    states = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0]:
            states[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return states


def query_states(job_ids: Sequence[str]) -> dict[str, tuple[str, str]] | None:
    """States of every array task of `job_ids`; None when squeue could not be asked."""
    try:
        done = _slurm(
            ["squeue", "-h", "-r", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%r"]
        )
    except SlurmTimeout:
        return None
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:  # all of them purged from the queue
            return {}
        return None
    return parse_squeue(done.stdout)


def queued_jobs(job_name: str) -> list[str]:
    """Array job ids still pending or running under `job_name` (this user's)."""
    user = _user()
    done = _slurm(["squeue", "-h", "-n", job_name, "-u", user, "-o", "%A"])
    if done.returncode != 0:
        raise SlurmError(f"squeue failed: {done.stderr.strip()}")
    return sorted(set(done.stdout.split()))


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def cancel(job_ids: Sequence[str], wait_seconds: float = 30.0) -> list[str]:
    """scancel `job_ids` and wait until none is pending or running; returns those still alive."""
    if not job_ids:
        return []
    _slurm(["scancel", *job_ids])
    deadline = time.monotonic() + wait_seconds
    while True:
        states = query_states(job_ids)
        alive = sorted({t.split("_")[0] for t, (s, _) in (states or {}).items() if s in ACTIVE})
        if states is not None and not alive:
            return []
        if time.monotonic() > deadline:
            return alive or list(job_ids)
        time.sleep(0.5)


# --- watching a stage -------------------------------------------------------------------


@dataclass
class TaskFailure:
    job: str  # "ARRAYJOB_TASK"
    rank: int
    state: str  # FAILED, CANCELLED, ..., or "gone" when it left the queue unfinished
    reason: str = ""


def task_ids(submitted: Sequence[tuple[str, int]]) -> dict[str, int]:
    """{"ARRAYJOB_TASK": rank}: array task i of each job runs the i-th rank sent with it."""
    ids: dict[str, int] = {}
    counters: dict[str, int] = {}
    for job, rank in submitted:
        i = counters.get(job, 0)
        counters[job] = i + 1
        ids[f"{job}_{i}"] = rank
    return ids


def find_failures(
    tasks: Mapping[str, int], states: Mapping[str, tuple[str, str]], completed: set[int]
) -> list[TaskFailure]:
    """Tasks that will never write their completion marker."""
    failures = []
    for job, rank in tasks.items():
        if rank in completed:
            continue
        state, reason = states.get(job, ("gone", ""))
        if state in ACTIVE:
            if state == "PENDING" and reason in STUCK_REASONS:
                failures.append(TaskFailure(job, rank, "stuck pending", reason))
            continue
        failures.append(TaskFailure(job, rank, state, reason))
    return failures


NO_ERROR_LINE = "no error line in its log (killed or cancelled before it wrote one)"


def error_line(*logs: Path, settle_seconds: float = 0.0) -> str:
    """The last line that reads like an error in the first log that has one.

    slurmstepd may write its "CANCELLED AT" line a moment after squeue shows the state,
    so a log without an error line is read again for up to `settle_seconds`.
    """
    deadline = time.monotonic() + settle_seconds
    while True:
        line = _error_line(logs)
        if line != NO_ERROR_LINE or time.monotonic() >= deadline:
            return line
        time.sleep(0.25)


def _error_line(logs: Sequence[Path]) -> str:
    for log in logs:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            if ERROR_LINE.search(line.strip()):
                return line.strip()[:500]
    return NO_ERROR_LINE


def completed_ranks(logging_dir: Path) -> set[int]:
    folder = logging_dir / "completions"
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


def describe(
    failures: Sequence[TaskFailure], stage: str, logging_dir: Path, shown: int = 10
) -> str:
    lines = [f"stage {stage}: {len(failures)} Slurm task(s) did not finish"]
    settle_until = time.monotonic() + 3  # one short wait for late log lines, in all
    for f in failures[:shown]:
        state = {"gone": "left the queue without a completion marker (cancelled?)"}.get(
            f.state, f.state + (f" ({f.reason})" if f.reason and f.reason != "None" else "")
        )
        slurm_log = logging_dir / "slurm_logs" / f"{f.job}.out"
        task_log = logging_dir / "logs" / f"task_{f.rank:05d}.log"
        line = error_line(
            slurm_log, task_log, settle_seconds=max(0.0, settle_until - time.monotonic())
        )
        lines.append(f"  rank {f.rank} (job {f.job}) {state}: {line}")
        lines.append(f"    log: {slurm_log}")
    if len(failures) > shown:
        lines.append(
            f"  ... and {len(failures) - shown} more (ranks "
            f"{', '.join(str(f.rank) for f in failures[shown:])})"
        )
    return "\n".join(lines)


def watch(
    tasks: Mapping[str, int],
    logging_dir: Path,
    stage: str,
    options: SlurmOptions,
    query: Callable[[Sequence[str]], dict[str, tuple[str, str]] | None] = query_states,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return when every task's rank is complete; raise as soon as one cannot be."""
    jobs = sorted({t.split("_")[0] for t in tasks})
    start = last_answer = clock()
    while True:
        if set(tasks.values()) <= completed_ranks(logging_dir):
            return
        states = query(jobs)
        now = clock()
        if states is None:
            if now - last_answer > options.unreachable_seconds:
                raise SlurmError(
                    f"stage {stage}: squeue has not answered for "
                    f"{now - last_answer:.0f} s (jobs {', '.join(jobs)})"
                )
        else:
            last_answer = now
            failures = find_failures(tasks, states, completed_ranks(logging_dir))
            if failures:
                raise SlurmTaskError(describe(failures, stage, logging_dir))
        if options.timeout_seconds is not None and now - start > options.timeout_seconds:
            missing = sorted(set(tasks.values()) - completed_ranks(logging_dir))
            raise SlurmTaskError(
                f"stage {stage}: ranks {missing} did not finish in "
                f"{options.timeout_seconds:.0f} s (cancelled)"
            )
        sleep(options.poll_seconds)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT/SIGTERM raise DriverStopped (exit 128+signal) so cleanup code runs."""

    def handler(signum: int, _frame: Any) -> None:
        raise DriverStopped(128 + signum)

    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _ignore_signals() -> None:
    with contextlib.suppress(ValueError):  # not the main thread
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)


def merge_stats(logging_dir: Path) -> None:
    from datatrove.utils.stats import PipelineStats

    stats = [
        PipelineStats.from_json(json.loads(p.read_text()))
        for p in sorted((logging_dir / "stats").glob("*.json"))
    ]
    if stats:
        with open(logging_dir / "stats.json", "w") as f:
            sum(stats, start=PipelineStats()).save_to_disk(f)


def run_on_slurm(
    pipeline: list,
    n_tasks: int,
    logging_dir: Path,
    base_name: str,
    options: SlurmOptions,
    throttle: int | None,
) -> None:
    """Submit a stage's unfinished ranks as an array and wait for them (see the module doc)."""
    stage = logging_dir.parent.name
    logging_dir.mkdir(parents=True, exist_ok=True)
    job_name = job_name_for(base_name, logging_dir)
    check_partition(options.partition)
    stale = queued_jobs(job_name)
    if stale:  # left by a driver that was killed: their ranks are submitted again below
        alive = cancel(stale)
        if alive:
            raise SlurmError(
                f"stage {stage}: jobs {', '.join(alive)} of an earlier run are "
                "still in the queue after scancel"
            )
        print(
            f"[{stage}] cancelled Slurm jobs {', '.join(stale)} left by an earlier driver",
            file=sys.stderr,
        )
    executor = SkillmixSlurmExecutor(
        pipeline,
        tasks=n_tasks,
        job_name=job_name,
        logging_dir=str(logging_dir),
        options=options,
        throttle=throttle,
    )
    submitted: list[tuple[str, int]] = []
    with stop_on_signals():
        try:
            submitted = executor.submit()
            if not submitted:
                return
            (logging_dir / "slurm_jobs.json").write_text(
                json.dumps({"job_name": job_name, "tasks": task_ids(submitted)}, indent=1) + "\n"
            )
            watch(task_ids(submitted), logging_dir, stage, options)
        except BaseException as exc:
            _ignore_signals()  # a second Ctrl-C must not cut the cleanup short
            jobs = {job for job, _ in submitted}
            with contextlib.suppress(SlurmError):  # a job submitted just before a signal
                jobs |= set(queued_jobs(job_name))
            jobs = sorted(jobs)
            alive = cancel(jobs)
            if jobs:
                note = (
                    f"still in the queue after scancel: {', '.join(alive)}"
                    if alive
                    else f"cancelled Slurm jobs {', '.join(jobs)}"
                )
                if isinstance(exc, DriverStopped):
                    print(f"[{stage}] stopped by signal {exc.code - 128}; {note}", file=sys.stderr)
                elif isinstance(exc, StageError):
                    raise type(exc)(f"{exc}\n  {note}") from None
            raise
    merge_stats(logging_dir)
