"""A Parquet source without an `id` column (or other optional contract columns) goes
through the columnar lane's slow path row by row, as read_rows reads it: no KeyError."""

import pyarrow as pa
import pyarrow.parquet as pq

from manifests import Accounting, RejectsWriter, RowGate, read_rows
from mixers.columnar import columnar_source
from mixers.lanes import columnar_tables


def test_parquet_without_id_reads_like_read_rows(tmp_path):
    turns = [{"role": "assistant", "content": "ok"}]
    rows = [{"messages": [{"role": "user", "content": f"Grüß {i}"}, *turns]} for i in range(5)]
    rows.append({"messages": [{"role": "user", "content": "no answer"}]})  # a bad sft row
    path = tmp_path / "no_id.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    source = columnar_source(str(path), "sft")
    assert source is not None and "id" not in source.columns
    acc, expected_acc = Accounting(), Accounting()
    with RejectsWriter(tmp_path / "a.jsonl") as a, RejectsWriter(tmp_path / "b.jsonl") as b:
        gate = RowGate("skip", a, acc)
        tables = list(columnar_tables(source, "sft", name="s", skill=None, gate=gate))
        expected = list(
            read_rows(
                str(path), "sft", source="s", on_bad_row="skip", rejects=b, accounting=expected_acc
            )
        )
    assert pa.concat_tables(tables).to_pylist() == expected and len(expected) == 5
    assert (acc.rows_in, acc.rejected) == (expected_acc.rows_in, expected_acc.rejected) == (6, 1)
