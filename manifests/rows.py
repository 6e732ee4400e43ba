"""read_rows: any supported input as a stream of contract rows, every row accounted for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from manifests.accounting import Accounting
from manifests.adapters import detect_kind, to_contract
from manifests.errors import BadRowError
from manifests.readers import read_records
from manifests.rejects import RejectsWriter
from manifests.schemas import check_kind

ON_BAD_ROW = ("error", "skip")


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
    lineage: str | None = None,
) -> Iterator[dict]:
    """Yield contract rows from `path`.

    Rows without lineage record `lineage` as their file (default: `path` as given); see
    `adapters.lineage_file`. Errors and rejects name `path` itself.

    With `on_bad_row="error"` the first bad row raises `BadRowError` (file, row, problem);
    with `"skip"` it goes to `rejects` with its reason and is counted as rejected.
    `kind=None` takes the kind of the first good record.
    """
    if on_bad_row not in ON_BAD_ROW:
        raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")
    if on_bad_row == "skip" and rejects is None:
        raise ValueError("on_bad_row='skip' needs a RejectsWriter to record what it skips")
    if kind is not None:
        check_kind(kind)
    acc = accounting if accounting is not None else Accounting()
    for record in read_records(path):
        acc.add_in()
        problem = record.error
        row = None
        if problem is None:
            assert record.data is not None
            kind = kind or detect_kind(record.data)
            try:
                row = to_contract(
                    record.data,
                    kind,
                    file=record.file if lineage is None else lineage,
                    row=record.row,
                    source=source,
                    skill=skill,
                    mapping=mapping,
                )
            except ValueError as exc:
                problem = str(exc)
        if row is None:
            if on_bad_row == "error":
                raise BadRowError(record.file, record.row, problem or "bad row")
            assert rejects is not None
            rejects.reject(
                record.file,
                record.row,
                problem or "bad row",
                record.data if record.data is not None else record.raw,
            )
            acc.reject()
            continue
        acc.add_out()
        yield row
