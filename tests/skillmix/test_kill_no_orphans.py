"""After `kill -9` of `skillmix run`, no worker it forked lives on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.skillmix.pipeline_helpers import write_recipe, write_sources


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited; only its entry is left


def test_workers_exit_when_the_driver_is_killed(tmp_path: Path) -> None:
    write_sources(tmp_path, n=3000)
    recipe = write_recipe(
        tmp_path,
        [{"decontaminate": {"evals": ["leak=evals.jsonl:question", "humaneval"]}}, {"dedup": {}}],
        total=4000,
    )
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skillmix",
            "run",
            str(recipe),
            "--run-dir",
            str(run_dir),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < 2:  # wait for the stage's worker pool
        assert proc.poll() is None, "the run ended before its workers started"
        assert time.monotonic() < deadline, "no worker pool seen"
        workers = _children(proc.pid)
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < end:
        time.sleep(0.05)
    left = sorted(p for p in workers if _alive(p))
    names = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:200] for p in left}
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {names} outlived the killed driver"
