"""RowWriter: contract rows to JSONL (.gz/.zst), Parquet, Arrow IPC, CSV or save_to_disk."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.atomic import AtomicTarget, OutputError
from manifests.schemas import MESSAGE_FIELDS, schema_for

BATCH_ROWS = 1024


def output_format(path: str | Path) -> str:
    name = Path(path).name.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        name = name.removesuffix(suffix)
    for ext, fmt in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".parquet", "parquet"),
        (".arrow", "arrow"),
        (".ipc", "arrow"),
        (".feather", "arrow"),
        (".csv", "csv"),
    ):
        if name.endswith(ext):
            return fmt
    if "." not in Path(path).name:
        return "disk"
    raise ValueError(
        f"{path}: unknown output type: use .jsonl[.gz|.zst], .parquet, .arrow, "
        ".csv, or a folder name (save_to_disk)"
    )


def open_text_out(path: str, target: str | None = None) -> IO[str]:
    """A text sink compressed as `path`'s name says, written to `target` (default `path`)."""
    target = target or path
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(target, "wb"), encoding="utf-8", newline="")
    if path.endswith((".zst", ".zstd")):
        import zstandard

        raw = zstandard.ZstdCompressor().stream_writer(open(target, "wb"))  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(target, "w", encoding="utf-8", newline="")


def finite_json(value: Any) -> Any:
    """NaN and ±Infinity become null: JSON has no such numbers (stated in docs/manifests)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def dumps_row(row: dict) -> str:
    """One JSON line; never writes the invalid tokens NaN/Infinity."""
    try:
        return json.dumps(row, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(finite_json(row), ensure_ascii=False, allow_nan=False)


class RowWriter:
    """Writes rows of one kind to `path`, in the format its extension names.

    Columnar formats are written a batch at a time, so memory stays flat. The output is
    atomic: rows go to a temp file beside `path`, renamed into place on `close()`; a failure
    (or leaving the `with` block by an exception) removes it, so `path` never holds a
    partial file.
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
        self._atomic = AtomicTarget(self.path, folder=self.format == "disk")
        try:
            self._open(str(self._atomic.path))
        except BaseException as exc:
            self._atomic.abort()
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise OutputError(self.path, exc.strerror or str(exc)) from None
            raise

    def _open(self, target: str) -> None:
        if self.format == "jsonl":
            self._sink = open_text_out(self.path, target)
        elif self.format == "csv":
            self._sink = open_text_out(self.path, target)
            self._csv = csv.writer(self._sink)
            self._csv.writerow(self.schema.names)
        elif self.format == "parquet":
            self._sink = pq.ParquetWriter(target, self.schema)
        elif self.format == "arrow":
            self._sink = pa.ipc.new_file(target, self.schema)
        else:  # save_to_disk: stream into an Arrow stream file, then let datasets lay it out
            fd, self._tmp = tempfile.mkstemp(suffix=".arrow", dir=Path(self.path).parent)
            os.close(fd)
            self._sink = pa.ipc.new_stream(self._tmp, self.schema)

    def write(self, row: dict) -> None:
        try:
            self._write(row)
        except OSError as exc:
            self.abort()
            raise OutputError(self.path, exc.strerror or str(exc)) from None

    def _write(self, row: dict) -> None:
        self.count += 1
        if self.format == "jsonl":
            self._sink.write(dumps_row(row) + "\n")
        elif self.format == "csv":
            self._csv.writerow([self._csv_cell(row, f) for f in self.schema.names])
        else:
            self._batch.append(row)
            if len(self._batch) >= BATCH_ROWS:
                self._flush()

    def _csv_cell(self, row: dict, field: str) -> str:
        value = row[field]
        if field in MESSAGE_FIELDS[self.kind]:
            return json.dumps(finite_json(value), ensure_ascii=False, allow_nan=False)
        return value

    def _flush(self) -> None:
        if self._batch:
            self._sink.write_batch(pa.RecordBatch.from_pylist(self._batch, schema=self.schema))
            self._batch = []

    def close(self) -> None:
        """Finish the file and move it under its final name."""
        if self._sink is None:
            return
        try:
            self._flush()
            self._sink.close()
            self._sink = None
            if self.format == "disk":
                self._save_to_disk()
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise OutputError(self.path, exc.strerror or str(exc)) from None
            raise
        self._atomic.commit()

    def abort(self) -> None:
        """Drop what was written: the final name is left as it was."""
        if self._sink is not None:
            sink, self._sink = self._sink, None
            with contextlib.suppress(Exception):
                sink.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None
        self._atomic.abort()

    def _save_to_disk(self) -> None:
        import datasets

        assert self._tmp is not None
        try:
            datasets.Dataset.from_file(self._tmp).save_to_disk(str(self._atomic.path))
        finally:
            os.unlink(self._tmp)
            self._tmp = None

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_rows(rows: Any, path: str | Path, kind: str) -> int:
    """Write an iterable of rows; returns how many were written."""
    with RowWriter(path, kind) as writer:
        for row in rows:
            writer.write(row)
    return writer.count
