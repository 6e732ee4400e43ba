"""The same stage on datatrove's local pool, a real local Ray, and a (simulated) Slurm;
the Slurm driver's sbatch options and failure detection on fake squeue output.
(A real Slurm: tests/cluster, `make test-cluster`.)"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skillmix.pipeline import ExecutorSpec, load_run_recipe, run_pipeline, slurm
from skillmix.pipeline.executors import TaskPipeline, build_executor
from skillmix.pipeline.slurm import (
    SlurmError,
    SlurmOptions,
    SlurmTaskError,
    environment_lines,
    error_line,
    find_failures,
    job_name_for,
    parse_squeue,
    sbatch_directives,
    task_ids,
    watch,
)
from skillmix.pipeline.stage import StageError
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
    return sorted(
        p.name for p in (run_dir / "00-augment_if" / "executor" / "completions").iterdir()
    )


def test_local_pool_with_several_tasks(recipe, in_process, tmp_path):
    records = run_pipeline(
        load_run_recipe(recipe),
        run_dir=tmp_path / "pool",
        executor=ExecutorSpec("local", workers=2),
        echo=quiet,
    )
    assert (tmp_path / "pool" / OUTPUT).read_bytes() == in_process
    assert completions(tmp_path / "pool") == ["00000", "00001"]
    assert records[0]["accounting"]["rows_in"] == 62 + 31


def test_ray_executor_on_a_local_ray(recipe, in_process, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is in the dev extra")
    try:
        run_pipeline(
            load_run_recipe(recipe),
            run_dir=tmp_path / "ray",
            executor=ExecutorSpec("ray", workers=2),
            echo=quiet,
        )
    finally:
        ray.shutdown()
    assert (tmp_path / "ray" / OUTPUT).read_bytes() == in_process
    assert completions(tmp_path / "ray") == ["00000", "00001"]


FAKE_SBATCH = """#!/usr/bin/env bash
# A one-node stand-in for sbatch --parsable: keeps the script, runs each array task in turn.
script="${@: -1}"
n=$(ls "$SBATCH_LOG" | grep -c '^job-.*\\.sh$' || true)
cp "$script" "$SBATCH_LOG/job-$n.sh"
echo "$@" > "$SBATCH_LOG/job-$n.args"
last=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\).*/\\1/p' "$script")
for i in $(seq 0 "${last:-0}"); do
  SLURM_ARRAY_TASK_ID=$i RUN_OFFSET=0 SLURM_NODELIST=localhost SLURM_JOB_ID=$n \\
    env -u VIRTUAL_ENV PATH="$(dirname "$0"):/usr/bin:/bin" \\
    bash "$script" > "$SBATCH_LOG/job-$n-$i.out" 2>&1 || exit 1
done
echo "$((100 + n))"
"""
FAKE_SCONTROL = """#!/usr/bin/env bash
# `scontrol show hostnames NODELIST` / `scontrol show partition NAME`: one host, any partition.
echo "${@: -1}"
"""
FAKE_SQUEUE = """#!/usr/bin/env bash
# Nothing is ever left in this queue.
exit 0
"""


def fake_slurm(tmp_path: Path, monkeypatch, **scripts: str) -> Path:
    bin_dir, log = tmp_path / "bin", tmp_path / "sbatch-log"
    bin_dir.mkdir()
    log.mkdir()
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(log))
    return log


def test_slurm_executor_script_and_run(recipe, in_process, tmp_path, monkeypatch):
    """The job runs this interpreter even with no venv on PATH (the fake strips PATH)."""
    log = fake_slurm(
        tmp_path, monkeypatch, sbatch=FAKE_SBATCH, scontrol=FAKE_SCONTROL, squeue=FAKE_SQUEUE
    )
    spec = ExecutorSpec(
        "slurm",
        workers=2,
        tasks=2,
        poll_seconds=0.2,
        timeout_seconds=120,
        slurm={
            "partition": "gpu-big",
            "time": "01:30:00",
            "cpus_per_task": 3,
            "qos": "high",
            "sbatch_args": ["--comment=t1"],
        },
    )
    run_pipeline(load_run_recipe(recipe), run_dir=tmp_path / "slurm", executor=spec, echo=quiet)
    assert (tmp_path / "slurm" / OUTPUT).read_bytes() == in_process
    script = (log / "job-0.sh").read_text()
    executor_dir = (tmp_path / "slurm" / "00-augment_if" / "executor").resolve()
    name = job_name_for("skillmix-augment_if", executor_dir)
    for line in (
        "#SBATCH --partition=gpu-big",
        "#SBATCH --time=01:30:00",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH --array=0-1%2",
        "#SBATCH --qos=high",
        "#SBATCH --comment=t1",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --output={executor_dir}/slurm_logs/%A_%a.out",
    ):
        assert line in script
    assert "--requeue" not in script and "mem-per-cpu" not in script
    assert f"exec {sys.executable} -m datatrove.tools.launch_pickled_pipeline" in script
    assert "--parsable" in (log / "job-0.args").read_text()
    assert (executor_dir / "stats.json").is_file()  # merged by the driver, no merge job
    assert len(list(log.glob("job-*.sh"))) == 1


def test_build_executor_kinds(tmp_path):
    task = AugmentTask.__new__(AugmentTask)
    for kind, cls in (
        ("local", "LocalPipelineExecutor"),
        ("ray", "RayPipelineExecutor"),
        ("slurm", "SkillmixSlurmExecutor"),
    ):
        executor = build_executor(
            ExecutorSpec(kind, workers=3), [task, task], tmp_path / kind, "job"
        )
        assert type(executor).__name__ == cls and executor.world_size == 2
    with pytest.raises(ValueError, match="executor must be one of"):
        ExecutorSpec("kubernetes")
    with pytest.raises(StageError, match="--tasks must be >= 1"):
        ExecutorSpec("local", tasks=0)


# --- sbatch options ---------------------------------------------------------------------


def directives(**options) -> dict[str, str]:
    return sbatch_directives(
        SlurmOptions(**options),
        job_name="j",
        array_size=4,
        throttle=None,
        log_pattern="/l/%A_%a.out",
    )


def test_defaults_leave_the_cluster_to_choose():
    got = directives()
    assert got == {
        "job-name": "j",
        "array": "0-3",
        "output": "/l/%A_%a.out",
        "error": "/l/%A_%a.out",
        "cpus-per-task": "1",
        "nodes": "1",
    }


def test_every_option_reaches_sbatch():
    got = directives(
        partition="p1",
        time="00:10:00",
        cpus_per_task=4,
        mem_per_cpu="3G",
        qos="low",
        account="lab",
        sbatch_args=["--requeue", "--constraint=ssd"],
    )
    assert {
        k: got[k]
        for k in (
            "partition",
            "time",
            "cpus-per-task",
            "mem-per-cpu",
            "qos",
            "account",
            "requeue",
            "constraint",
        )
    } == {
        "partition": "p1",
        "time": "00:10:00",
        "cpus-per-task": "4",
        "mem-per-cpu": "3G",
        "qos": "low",
        "account": "lab",
        "requeue": "",
        "constraint": "ssd",
    }
    assert directives(mem="8G")["mem"] == "8G"
    throttled = sbatch_directives(
        SlurmOptions(), job_name="j", array_size=5, throttle=2, log_pattern="x"
    )
    assert throttled["array"] == "0-4%2"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"sbatch_args": ["--array=0-9"]}, r"\['array'\] are set by skillmix"),
        ({"sbatch_args": ["--output=x"]}, r"\['output'\] are set by skillmix"),
        ({"sbatch_args": ["-p debug"]}, "write it as --name=value"),
        ({"sbatch_args": ["--"]}, "write it as --name=value"),
        ({"mem": "1G", "mem_per_cpu": "1G"}, "not both"),
        ({"cpus_per_task": 0}, "cpus per task must be >= 1"),
    ],
)
def test_bad_slurm_options_are_named(options, message):
    with pytest.raises(SlurmError, match=message):
        SlurmOptions(**options)


def test_unknown_option_key_is_named():
    with pytest.raises(SlurmError, match=r"unknown Slurm option\(s\) \['partitoin'\]"):
        SlurmOptions.from_mapping({"partitoin": "x"})
    assert SlurmOptions.from_mapping({"venv_path": "/v", "qos": None}).venv == "/v"


def test_environment_without_and_with_a_venv(tmp_path):
    lines, python = environment_lines(None)
    assert python == sys.executable
    if sys.prefix != sys.base_prefix:
        assert f"export VIRTUAL_ENV={sys.prefix}" in lines
    (tmp_path / "v" / "bin").mkdir(parents=True)
    (tmp_path / "v" / "bin" / "activate").write_text("")
    for given in (tmp_path / "v", tmp_path / "v" / "bin" / "activate"):
        assert environment_lines(str(given)) == (
            [f"source {tmp_path / 'v' / 'bin' / 'activate'}"],
            "python",
        )
    with pytest.raises(SlurmError, match="no virtualenv activate script"):
        environment_lines(str(tmp_path / "nope"))


def test_cli_maps_options(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import skillmix.commands.run as run_cmd
    from skillmix.cli import main

    seen = {}
    monkeypatch.setattr(run_cmd, "run_pipeline", lambda recipe, **kw: seen.update(kw))
    folder = tmp_path / "r"
    write_sources(folder, n=6)
    path = write_recipe(folder, AUGMENT)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(path),
            "--executor",
            "slurm",
            "--workers",
            "3",
            "--tasks",
            "2",
            "--slurm-partition",
            "p",
            "--slurm-qos",
            "q",
            "--slurm-account",
            "a",
            "--slurm-mem-per-cpu",
            "2G",
            "--slurm-time",
            "1:00:00",
            "--slurm-sbatch-arg=--exclusive",
            "--slurm-sbatch-arg=--constraint=c",
            "--slurm-poll-seconds",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    spec = seen["executor"]
    assert (spec.kind, spec.workers, spec.tasks) == ("slurm", 3, 2)
    assert (
        spec.slurm.partition,
        spec.slurm.qos,
        spec.slurm.account,
        spec.slurm.mem_per_cpu,
        spec.slurm.time,
        spec.slurm.poll_seconds,
    ) == ("p", "q", "a", "2G", "1:00:00", 0.5)
    assert spec.slurm.sbatch_args == ["--exclusive", "--constraint=c"]
    bad = CliRunner().invoke(
        main,
        ["run", str(path), "--executor", "slurm", "--slurm-mem", "1G", "--slurm-mem-per-cpu", "1G"],
    )
    assert bad.exit_code == 1 and "not both" in bad.output and "Traceback" not in bad.output


# --- watching the array ------------------------------------------------------------------

SQUEUE_OUT = """\
7_0|COMPLETED|None
7_1|RUNNING|None
7_2|FAILED|NonZeroExitCode
7_3|PENDING|Priority
7_4|CANCELLED|None
7_6|COMPLETED|None
7_7|PENDING|DependencyNeverSatisfied
7_8|TIMEOUT|TimeLimit
"""


def test_find_failures_from_squeue():
    tasks = task_ids([("7", r) for r in (10, 11, 12, 13, 14, 15, 16, 17, 18)])
    assert tasks["7_0"] == 10 and tasks["7_8"] == 18
    failures = find_failures(tasks, parse_squeue(SQUEUE_OUT), completed={10})
    got = {(f.job, f.rank, f.state) for f in failures}
    assert got == {
        ("7_2", 12, "FAILED"),
        ("7_4", 14, "CANCELLED"),
        ("7_5", 15, "gone"),
        ("7_6", 16, "COMPLETED"),
        ("7_7", 17, "stuck pending"),
        ("7_8", 18, "TIMEOUT"),
    }
    assert find_failures(tasks, parse_squeue(SQUEUE_OUT), completed=set(range(10, 19))) == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_watch_returns_once_every_rank_is_complete(tmp_path):
    clock, marks = FakeClock(), tmp_path / "completions"
    marks.mkdir()

    def query(jobs):
        assert jobs == ["5"]
        (marks / f"{int(clock.now):05d}").touch()  # one more rank finishes per poll
        return {"5_0": ("RUNNING", "None"), "5_1": ("PENDING", "None")}

    watch(
        {"5_0": 0, "5_1": 1},
        tmp_path,
        "s",
        SlurmOptions(poll_seconds=1),
        query=query,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.now == 2


def test_watch_names_stage_rank_error_line_and_log(tmp_path):
    logs = tmp_path / "slurm_logs"
    logs.mkdir()
    (logs / "9_1.out").write_text(
        'skillmix stage job x\nTraceback (most recent call last):\n  File "a.py", line 1\n'
        "manifests.errors.BadRowError: data.jsonl, row 3: malformed JSON\n+ exit 1\n"
    )
    states = iter(
        [
            {"9_0": ("RUNNING", ""), "9_1": ("RUNNING", "")},
            {"9_0": ("RUNNING", ""), "9_1": ("FAILED", "NonZeroExitCode")},
        ]
    )
    clock = FakeClock()
    with pytest.raises(SlurmTaskError) as err:
        watch(
            {"9_0": 0, "9_1": 1},
            tmp_path,
            "00-augment",
            SlurmOptions(poll_seconds=1),
            query=lambda jobs: next(states),
            clock=clock,
            sleep=clock.sleep,
        )
    text = str(err.value)
    assert "stage 00-augment" in text and "rank 1 (job 9_1) FAILED (NonZeroExitCode)" in text
    assert "BadRowError: data.jsonl, row 3: malformed JSON" in text
    assert f"log: {logs / '9_1.out'}" in text and "rank 0" not in text
    assert clock.now == 1  # noticed on the second poll


def test_watch_gives_up_on_a_silent_squeue_and_on_timeout(tmp_path):
    clock = FakeClock()
    with pytest.raises(SlurmError, match="squeue has not answered for 31 s"):
        watch(
            {"1_0": 0},
            tmp_path,
            "s",
            SlurmOptions(poll_seconds=1, unreachable_seconds=30),
            query=lambda jobs: None,
            clock=clock,
            sleep=clock.sleep,
        )
    clock = FakeClock()
    with pytest.raises(SlurmTaskError, match=r"ranks \[0\] did not finish in 10 s"):
        watch(
            {"1_0": 0},
            tmp_path,
            "s",
            SlurmOptions(poll_seconds=1, timeout_seconds=10),
            query=lambda jobs: {"1_0": ("PENDING", "Priority")},
            clock=clock,
            sleep=clock.sleep,
        )


def test_error_line_picks_the_last_error(tmp_path):
    log = tmp_path / "t.out"
    log.write_text("2026 | ERROR    | first problem\nValueError: the real one\n+ exit 1\ndone\n")
    assert error_line(tmp_path / "missing", log) == "ValueError: the real one"
    assert error_line(tmp_path / "missing").startswith("no error line")
    log.write_text("/v/bin/activate: No such file or directory\n")
    assert "No such file" in error_line(log)


def test_a_hanging_squeue_counts_as_no_answer(tmp_path, monkeypatch):
    def hang(args, **kwargs):
        raise subprocess.TimeoutExpired(args, 30)

    monkeypatch.setattr(slurm.subprocess, "run", hang)
    assert slurm.query_states(["1"]) is None
    with pytest.raises(slurm.SlurmTimeout, match="did not answer in 30 s"):
        slurm.sbatch(tmp_path / "x.slurm")


def test_many_vanished_tasks_are_summarised_quickly(tmp_path):
    failures = [slurm.TaskFailure(f"3_{i}", i, "gone") for i in range(40)]
    began = time.monotonic()
    text = slurm.describe(failures, "01-x", tmp_path)
    assert time.monotonic() - began < 5  # one settle wait in all, not one per task
    assert text.startswith("stage 01-x: 40 Slurm task(s) did not finish")
    assert text.count("left the queue without a completion marker") == 10
    assert text.endswith("... and 30 more (ranks " + ", ".join(map(str, range(10, 40))) + ")")


def test_error_line_of_a_cancelled_task(tmp_path):
    log = tmp_path / "x.out"
    log.write_text("start\nslurmstepd: error: *** JOB 12 ON vm CANCELLED AT 2026-12-03 ***\n")
    assert "CANCELLED" in error_line(tmp_path / "missing", log)


# --- the driver against fake Slurm commands ------------------------------------------------

STATEFUL_SQUEUE = """#!/usr/bin/env bash
# squeue -n NAME: the stale job 55 until it is cancelled; squeue -j ID: pending until cancelled.
echo "squeue $*" >> "$SBATCH_LOG/calls"
if [[ " $* " == *" -n "* ]]; then
  [ -f "$SBATCH_LOG/cancelled-55" ] || echo 55
  exit 0
fi
while [ $# -gt 0 ]; do [ "$1" = -j ] && id=$2; shift; done
[ -f "$SBATCH_LOG/cancelled-$id" ] || echo "${id}_0|PENDING|Priority"
"""
RECORDING_SCANCEL = """#!/usr/bin/env bash
echo "scancel $*" >> "$SBATCH_LOG/calls"
for id in "$@"; do touch "$SBATCH_LOG/cancelled-$id"; done
"""
PENDING_SBATCH = """#!/usr/bin/env bash
echo "sbatch $*" >> "$SBATCH_LOG/calls"
echo 77
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_cancels_submitted_and_stale_jobs(signum, tmp_path, monkeypatch):
    before = signal.getsignal(signum)
    log = fake_slurm(
        tmp_path,
        monkeypatch,
        sbatch=PENDING_SBATCH,
        squeue=STATEFUL_SQUEUE,
        scancel=RECORDING_SCANCEL,
        scontrol=FAKE_SCONTROL,
    )

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signum)
        time.sleep(5)
        raise AssertionError("the signal did not stop the watch")

    monkeypatch.setattr(slurm, "watch", terminated)
    task = AugmentTask.__new__(AugmentTask)
    with pytest.raises(slurm.DriverStopped) as stopped:
        slurm.run_on_slurm(
            [TaskPipeline([task])],
            1,
            tmp_path / "00-s" / "executor",
            "x",
            SlurmOptions(),
            throttle=None,
        )
    assert stopped.value.code == 128 + signum
    calls = (log / "calls").read_text().splitlines()
    scancels = [c for c in calls if c.startswith("scancel")]
    assert scancels == ["scancel 55", "scancel 77"]  # stale first, then its own
    first_sbatch = next(i for i, c in enumerate(calls) if c.startswith("sbatch"))
    assert calls.index("scancel 55") < first_sbatch
    assert signal.getsignal(signum) is before  # handler restored


def test_unknown_partition_is_named(tmp_path, monkeypatch):
    fake_slurm(
        tmp_path,
        monkeypatch,
        scontrol='#!/bin/sh\n[ "$1" = show ] && exit 1\n',
        sinfo="#!/bin/sh\necho debug\necho gpu\n",
    )
    with pytest.raises(SlurmError, match=r"partition 'cpu' not found.*partitions: debug, gpu"):
        slurm.check_partition("cpu")


def test_missing_slurm_commands_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmError, match="`sbatch` not found"):
        slurm.sbatch(tmp_path / "x.slurm")
