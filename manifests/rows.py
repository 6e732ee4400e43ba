"""read_rows: any supported input as a stream of contract rows, every row accounted for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from manifests.accounting import Accounting
from manifests.adapters import detect_kind, to_contract
from manifests.gate import RowGate
from manifests.readers import read_records
from manifests.rejects import RejectsWriter
from manifests.schemas import check_kind


def read_rows(
    path: str | Path,
    kind: str | None = None,
    *,
    source: str | None = None,
    skill: str | None = None,
    mapping: dict[str, str] | None = None,
    on_bad_row: str = "error",
    rejects: RejectsWriter | None = None,
    accounting: Accounting | None = None,
    check: Callable[[dict], str | None] | None = None,
    lineage: str | None = None,
) -> Iterator[dict]:
    """Yield contract rows from `path`.

    Bad rows go through a `RowGate` (`on_bad_row`, `rejects`, `accounting`): "error"
    raises `BadRowError` (file, row, problem) at the first, "skip" rejects and counts them,
    and an input whose every row was rejected raises `NoValidRowsError`. `check` may name
    a further problem of a converted row (None when it is good). `lineage` is the name of
    `path` recorded in each row's metadata (default: `path` as given; errors and rejects
    always name the file read). `kind=None` takes the kind of the first good record.
    """
    gate = RowGate(on_bad_row, rejects, accounting)
    if kind is not None:
        check_kind(kind)
    for record in read_records(path):
        problem = record.error
        row = None
        if problem is None:
            assert record.data is not None
            kind = kind or detect_kind(record.data)
            try:
                row = to_contract(
                    record.data,
                    kind,
                    file=_lineage_name(record.file, str(path), lineage),
                    row=record.row,
                    source=source,
                    skill=skill,
                    mapping=mapping,
                )
            except ValueError as exc:
                problem = str(exc)
            if row is not None and check is not None:
                problem = check(row)
        raw = record.data if record.data is not None else record.raw
        if gate.admit(record.file, record.row, problem, raw):
            yield row
    gate.finish(str(path))


def _lineage_name(file: str, path: str, lineage: str | None) -> str:
    """`file` (one file of `path`, or `path` itself) under the name `lineage` gives `path`."""
    if lineage is None or not file.startswith(path):
        return file
    return lineage + file[len(path) :]
