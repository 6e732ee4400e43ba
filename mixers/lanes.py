"""The two reading lanes of pass one, each yielding contract tables of a source.

The columnar lane converts whole Arrow batches of Parquet/Arrow files and sends only the
rows it cannot convert in bulk through the per-row adapter; the record lane reads any file
row by row through `read_rows`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from manifests import RowGate, detect_kind, read_rows, schema_for, to_contract
from mixers.columnar import ColumnarSource, contract_table, fast_lane_mask, iter_batches
from mixers.errors import MixError
from mixers.staged import STAGE_BATCH_ROWS


def columnar_tables(
    source: ColumnarSource,
    kind: str,
    *,
    name: str,
    skill: str | None,
    gate: RowGate,
    lineage: str | None = None,
) -> Iterator[pa.Table]:
    """`lineage`: the file name recorded in the rows' metadata (default: the path read)."""
    schema = schema_for(kind)
    lineage = lineage or source.path
    first = 0
    for batch in iter_batches(source):
        n = batch.num_rows
        gate.count_in(n)
        fast = fast_lane_mask(batch, kind, skill_given=skill is not None)
        table = contract_table(batch, kind, source=name, skill=skill, file=lineage, first_row=first)
        if fast.all():
            yield table
        else:
            keep = np.flatnonzero(fast)
            slow_rows, slow_at = [], []
            slow = np.flatnonzero(~fast)
            for i, record in zip(slow, batch.take(pa.array(slow)).to_pylist(), strict=True):
                try:
                    slow_rows.append(
                        to_contract(
                            record,
                            kind,
                            file=lineage,
                            row=first + int(i),
                            source=name,
                            skill=skill,
                        )
                    )
                    slow_at.append(int(i))
                except ValueError as exc:
                    gate.reject(source.path, first + int(i), str(exc), record)
            parts = [table.take(pa.array(keep))]
            if slow_rows:
                parts.append(pa.Table.from_pylist(slow_rows, schema=schema))
            merged = pa.concat_tables(parts)
            order = np.argsort(
                np.concatenate([keep, np.asarray(slow_at, dtype=np.int64)]), kind="stable"
            )
            yield merged.take(pa.array(order))
        first += n


def record_tables(
    path: str,
    kind: str,
    *,
    where: str,
    name: str,
    skill: str | None,
    mapping: dict[str, str] | None,
    gate: RowGate,
    lineage: str | None = None,
) -> Iterator[pa.Table]:
    schema = schema_for(kind)
    # A prompt mix takes the prompt of any row; other kinds must match what the file holds.
    read_kind = kind if mapping or kind == "prompt" else None
    rows = read_rows(
        path,
        read_kind,
        source=name,
        skill=skill,
        mapping=mapping,
        on_bad_row=gate.on_bad_row,
        rejects=gate.rejects,
        accounting=gate.accounting,
        lineage=lineage,
    )
    buffer: list[dict] = []
    for row in rows:
        if not buffer and detect_kind(row) != kind:
            raise MixError(
                f"{where}: {path} holds {detect_kind(row)} rows, but the recipe's kind is {kind}"
            )
        buffer.append(row)
        if len(buffer) >= STAGE_BATCH_ROWS:
            yield pa.Table.from_pylist(buffer, schema=schema)
            buffer = []
    if buffer:
        yield pa.Table.from_pylist(buffer, schema=schema)
