"""Run folders: safe names, alias-free YAML, marked stage folders, one lock per folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from manifests.atomic import remove_dead_temp_files
from manifests.locks import FolderLockedError, folder_lock
from skillmix.pipeline.safety import (
    RecipeYamlError,
    UnsafeNameError,
    check_name,
    load_yaml,
    mark_stage,
    remove_stage,
)
from skillmix.pipeline.stage import StageError


@pytest.mark.parametrize(
    "name", ["x/../../victim", "/abs/path", "..", "", "a\nb", "a\\b", "a..b", "-x"]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeNameError):
        check_name("stages[0].name", name)


def test_plain_names_pass() -> None:
    assert check_name("name", "dedup-2.v1_x") == "dedup-2.v1_x"


def test_billion_laughs_is_refused_before_expansion(tmp_path: Path) -> None:
    lines = ["name: demo", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    lines += ["stages:", "  - dedup: {bomb: *a9}"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecipeYamlError, match="alias"):
        load_yaml(path)


def test_only_marked_folders_are_removed(tmp_path: Path) -> None:
    user = tmp_path / "01-mine"
    user.mkdir()
    (user / "key").write_text("x\n")
    with pytest.raises(StageError, match="not a folder skillmix run created"):
        remove_stage(user)
    assert (user / "key").exists()
    ours = tmp_path / "02-dedup"
    ours.mkdir()
    mark_stage(ours)
    remove_stage(ours)
    assert not ours.exists()


def test_dead_runs_temp_files_go_live_ones_stay(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = tmp_path / "03-tag" / f".tmp-{dead}-tagger.bin"
    stale.parent.mkdir()
    stale.write_bytes(b"x")
    live = tmp_path / f".tmp-{os.getpid()}-out.jsonl"
    live.write_bytes(b"y")
    assert remove_dead_temp_files(tmp_path) == [stale]
    assert live.exists() and not stale.exists()


def test_second_holder_gets_the_first_ones_pid(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from manifests.locks import folder_lock\n"
            f"with folder_lock(Path({str(tmp_path)!r})):\n"
            " print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLockedError, match=f"PID {holder.pid}"), folder_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(tmp_path):  # kill -9 released it
        pass
