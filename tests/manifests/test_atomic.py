"""The atomic writer: the final name holds a whole file or its previous content."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from manifests.atomic import OutputError, atomic_open, atomic_path, atomic_write_text
from manifests.writers import RowWriter

ROW = {
    "id": "a",
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    "source": "s",
    "metadata": {},
}


def test_failure_keeps_previous_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_success_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_open(target) as fh:
        fh.write("new")
        assert not target.exists()
    assert target.read_text() == "new"


def test_folder_as_target_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"), atomic_path(tmp_path):
        pass


def test_rowwriter_failure_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "rows.jsonl"
    with pytest.raises(KeyError), RowWriter(target, "sft") as writer:
        writer.write(ROW)
        raise KeyError("x")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temp_files_go_with_the_next_write(tmp_path: Path) -> None:
    import os

    dead = _dead_pid()
    stale = tmp_path / f".tmp-{dead}-out.jsonl.abc123"
    stale.write_text("982 rows of a killed run")
    stale_dir = tmp_path / f".tmp-{dead}-out.jsonl.dir42"
    stale_dir.mkdir()
    (stale_dir / "x").write_text("x")
    live = tmp_path / f".tmp-{os.getpid()}-out.jsonl.live"  # another writer, still running
    live.write_text("in progress")
    other = tmp_path / f".tmp-{dead}-other.jsonl.zz"  # a killed writer of another file
    other.write_text("not ours to judge here")
    with atomic_open(tmp_path / "out.jsonl") as fh:
        fh.write("whole\n")
    assert (tmp_path / "out.jsonl").read_text() == "whole\n"
    assert not stale.exists() and not stale_dir.exists()
    assert live.exists() and other.exists()


def test_a_run_folder_sweep_removes_only_dead_writers_files(tmp_path: Path) -> None:
    import os

    from manifests.atomic import remove_dead_temp_files

    dead = _dead_pid()
    (tmp_path / "01-tag").mkdir()
    big = tmp_path / "01-tag" / f".tmp-{dead}-tagger.bin.q1"
    big.write_bytes(b"\0" * 1024)
    mine = tmp_path / "01-tag" / f".tmp-{os.getpid()}-tagger.bin.q2"
    mine.write_bytes(b"\0")
    user = tmp_path / ".tmp-notes"  # no pid: not a temp name of ours
    user.write_text("keep")
    assert remove_dead_temp_files(tmp_path) == [big]
    assert mine.exists() and user.exists()


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_get_the_modes_of_a_plain_write_under_the_umask(tmp_path: Path, mask) -> None:
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        with atomic_open(tmp_path / "g.bin", "wb") as fh:
            fh.write(b"y")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "g.bin").stat().st_mode) == 0o666 & ~mask
