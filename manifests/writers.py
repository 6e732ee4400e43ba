"""RowWriter: contract rows to JSONL (.gz/.zst), Parquet, Arrow IPC, CSV or save_to_disk."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.schemas import MESSAGE_FIELDS, schema_for

BATCH_ROWS = 1024


def output_format(path: str | Path) -> str:
    name = Path(path).name.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        name = name.removesuffix(suffix)
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"),
                     (".parquet", "parquet"), (".arrow", "arrow"), (".ipc", "arrow"),
                     (".feather", "arrow"), (".csv", "csv")):
        if name.endswith(ext):
            return fmt
    if "." not in Path(path).name:
        return "disk"
    raise ValueError(f"{path}: unknown output type: use .jsonl[.gz|.zst], .parquet, .arrow, "
                     ".csv, or a folder name (save_to_disk)")


def open_text_out(path: str) -> IO[str]:
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8", newline="")
    if path.endswith((".zst", ".zstd")):
        import zstandard

        raw = zstandard.ZstdCompressor().stream_writer(open(path, "wb"))  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


class RowWriter:
    """Writes rows of one kind to `path`, in the format its extension names.

    Columnar formats are written a batch at a time, so memory stays flat.
    """

    def __init__(self, path: str | Path, kind: str) -> None:
        self.path = str(path)
        self.kind = kind
        self.schema = schema_for(kind)
        self.format = output_format(path)
        self.count = 0
        self._batch: list[dict] = []
        self._sink: Any = None
        self._tmp: str | None = None
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._open()

    def _open(self) -> None:
        if self.format == "jsonl":
            self._sink = open_text_out(self.path)
        elif self.format == "csv":
            self._sink = open_text_out(self.path)
            self._csv = csv.writer(self._sink)
            self._csv.writerow(self.schema.names)
        elif self.format == "parquet":
            self._sink = pq.ParquetWriter(self.path, self.schema)
        elif self.format == "arrow":
            self._sink = pa.ipc.new_file(self.path, self.schema)
        else:  # save_to_disk: stream into an Arrow stream file, then let datasets lay it out
            fd, self._tmp = tempfile.mkstemp(suffix=".arrow", dir=Path(self.path).parent)
            os.close(fd)
            self._sink = pa.ipc.new_stream(self._tmp, self.schema)

    def write(self, row: dict) -> None:
        self.count += 1
        if self.format == "jsonl":
            self._sink.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif self.format == "csv":
            self._csv.writerow([self._csv_cell(row, f) for f in self.schema.names])
        else:
            self._batch.append(row)
            if len(self._batch) >= BATCH_ROWS:
                self._flush()

    def _csv_cell(self, row: dict, field: str) -> str:
        value = row[field]
        if field in MESSAGE_FIELDS[self.kind]:
            return json.dumps(value, ensure_ascii=False)
        return value

    def _flush(self) -> None:
        if self._batch:
            self._sink.write_batch(pa.RecordBatch.from_pylist(self._batch, schema=self.schema))
            self._batch = []

    def close(self) -> None:
        if self._sink is None:
            return
        self._flush()
        self._sink.close()
        self._sink = None
        if self.format == "disk":
            self._save_to_disk()

    def _save_to_disk(self) -> None:
        import datasets

        assert self._tmp is not None
        try:
            datasets.Dataset.from_file(self._tmp).save_to_disk(self.path)
        finally:
            os.unlink(self._tmp)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_rows(rows: Any, path: str | Path, kind: str) -> int:
    """Write an iterable of rows; returns how many were written."""
    with RowWriter(path, kind) as writer:
        for row in rows:
            writer.write(row)
    return writer.count
