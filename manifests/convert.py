"""One input file into one output file: in a row contract, or rlvr rows in a peer's layout.

What `skillmix convert` calls. Rows are read by `read_rows` (bad rows through its gate,
rejected ones to rejects.jsonl beside the output) and written atomically: the output
holds every row or, on any failure, is left as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from manifests.accounting import Accounting
from manifests.adapters import detect_kind
from manifests.atomic import atomic_open, atomic_path
from manifests.errors import BadRowError, UsageError
from manifests.exports import EXPORT_LAYOUTS, export_rows
from manifests.progress import track
from manifests.rejects import RejectsWriter, rejects_path_for
from manifests.rows import read_rows
from manifests.writers import RowWriter

CONTRACT = "contract"  # the row contracts themselves (manifests.schemas)
LAYOUTS = (CONTRACT, *EXPORT_LAYOUTS)
EXPORT_SUFFIXES = (".jsonl", ".parquet")


@dataclass
class Written:
    """An output file and how its rows were accounted for."""

    path: Path
    kind: str
    rows: int
    accounting: Accounting
    rejects_path: Path | None  # where bad rows went; None when there were none
    layout: str = CONTRACT


def convert_file(
    input_path: str | Path,
    output_path: str | Path,
    kind: str | None = None,
    *,
    layout: str = CONTRACT,
    source: str | None = None,
    skill: str | None = None,
    mapping: dict[str, str] | None = None,
    on_bad_row: str = "error",
) -> Written:
    """`input_path` (any supported shape and format) written to `output_path`, whose
    extension picks the format. `layout` other than "contract" exports rlvr rows in a
    peer's layout (`export_file`). `kind=None` takes the kind of the first good row."""
    reading = {"source": source, "skill": skill, "mapping": mapping, "on_bad_row": on_bad_row}
    if layout != CONTRACT:
        return export_file(input_path, output_path, layout, **reading)
    acc = Accounting()
    with RejectsWriter(rejects_path_for(output_path)) as rejects:
        rows = read_rows(input_path, kind, rejects=rejects, accounting=acc, **reading)
        first = next(rows, None)
        if first is None:
            raise _nothing_to_write(input_path, acc)
        out_kind = kind or detect_kind(first)
        with RowWriter(output_path, out_kind) as writer:
            writer.write(first)
            for row in track(rows, desc=f"convert {input_path}"):
                writer.write(row)
    acc.check()
    return Written(Path(output_path), out_kind, writer.count, acc, _rejected(rejects))


def export_file(
    input_path: str | Path,
    output_path: str | Path,
    layout: str,
    *,
    source: str | None = None,
    skill: str | None = None,
    mapping: dict[str, str] | None = None,
    on_bad_row: str = "error",
) -> Written:
    """The rlvr rows of `input_path` in `layout` (manifests.exports), as .jsonl or .parquet."""
    if layout not in EXPORT_LAYOUTS:
        raise UsageError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    suffix = Path(output_path).suffix
    if suffix not in EXPORT_SUFFIXES:
        raise UsageError(f"--layout {layout} writes .jsonl or .parquet, not {suffix!r}")
    acc = Accounting()
    reading = {"source": source, "skill": skill, "mapping": mapping, "on_bad_row": on_bad_row}
    with RejectsWriter(rejects_path_for(output_path)) as rejects:
        read = read_rows(input_path, "rlvr", rejects=rejects, accounting=acc, **reading)
        rows = list(export_rows(track(read, desc=f"export {input_path}"), layout))
    if not rows:
        raise _nothing_to_write(input_path, acc)
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        with atomic_path(output_path) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)
    else:
        with atomic_open(output_path) as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    acc.check()
    return Written(Path(output_path), "rlvr", len(rows), acc, _rejected(rejects), layout)


def _nothing_to_write(input_path: str | Path, acc: Accounting) -> BadRowError:
    return BadRowError(str(input_path), None, f"no valid rows to write ({acc.summary()})")


def _rejected(rejects: RejectsWriter) -> Path | None:
    return rejects.path if rejects.count else None
