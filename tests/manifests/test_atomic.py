"""The atomic writer: the final name holds a whole file or its previous content."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.atomic import OutputError, atomic_open, atomic_path
from manifests.writers import RowWriter

ROW = {"id": "a", "messages": [{"role": "user", "content": "hi"},
                               {"role": "assistant", "content": "yo"}],
       "source": "s", "metadata": {}}


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
