"""Reading a stage's input sources and writing its output sources, with accounting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from manifests import Accounting, RejectsWriter, read_rows
from skillmix.pipeline.sources import SourceRef


def read_source(ref: SourceRef, on_bad_row: str, rejects: RejectsWriter,
                accounting: Accounting) -> Iterator[dict]:
    """The contract rows of a source, tagged with the source's name (and skill, if set)."""
    return read_rows(ref.path, ref.kind, source=ref.name, skill=ref.skill, mapping=ref.mapping,
                     on_bad_row=on_bad_row, rejects=rejects, accounting=accounting)


def source_file(stage_dir: Path, name: str, suffix: str = ".jsonl") -> Path:
    return stage_dir / "sources" / f"{name}{suffix}"
