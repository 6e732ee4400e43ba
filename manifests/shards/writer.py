"""Writing contract rows as shards: the shard writer and the folder it writes into.

Shards are written under a hidden temporary name and renamed when complete; the manifest
is written last (see `manifests.shards.manifest`), so a folder with a manifest is whole.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.atomic import OutputError, fsync_path, remove_dead_temp_files
from manifests.schemas import check_kind, schema_for
from manifests.shard_ipc import IpcShardFile
from manifests.shards.layout import (
    BATCH_ROWS,
    FORMATS,
    MANIFEST_NAME,
    SHARD_RE,
    TMP_RE,
    file_sha256,
    shard_name,
)
from manifests.shards.manifest import build_manifest, write_manifest
from manifests.validate import validate_row


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create `out_dir` and remove what a previous (possibly crashed) write left there.

    Only the manifest, shard files and our temporary files are touched; the manifest goes
    first, so the folder never looks whole while it is being rewritten.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    remove_dead_temp_files(out, recursive=False)
    for entry in out.iterdir():
        if SHARD_RE.match(entry.name) or TMP_RE.match(entry.name):
            entry.unlink()
    return out


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table's contract columns, in contract order and types."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"table lacks contract field(s) {', '.join(map(repr, missing))}")
    return table.select(schema.names).cast(schema)


def _single_batch(table: pa.Table) -> pa.RecordBatch:
    if all(column.num_chunks == 1 for column in table.columns):
        return table.to_batches()[0]
    return table.combine_chunks().to_batches()[0]


class _ParquetShardFile:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(str(path), schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch, row_group_size=batch.num_rows)

    def close(self) -> tuple[int, str]:
        self._writer.close()
        return self.path.stat().st_size, file_sha256(self.path)

    def abort(self) -> None:
        self._writer.close()


class ShardWriter:
    """Rows (dicts or Arrow tables) into shards of at most `max_rows` rows / `max_bytes` bytes.

    Rows are re-batched into record batches of `batch_rows`, so the files depend only on the
    rows and the limits, not on how the caller chunked them. `max_bytes` counts the Arrow
    data of whole batches; a shard closes before the batch that would take it past the cap.
    """

    def __init__(
        self,
        out_dir: str | Path,
        kind: str,
        *,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        fmt: str = "arrow",
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"shard format must be one of {FORMATS}, got {fmt!r}")
        for name, value in (("max_rows", max_rows), ("max_bytes", max_bytes)):
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.kind = check_kind(kind)
        self.schema = schema_for(kind)
        self.out_dir = prepare_out_dir(out_dir)
        self.fmt = fmt
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.batch_rows = batch_rows if max_rows is None else min(batch_rows, max_rows)
        self.rows_written = 0
        self._rows: list[dict] = []
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._file: IpcShardFile | _ParquetShardFile | None = None
        self._shard_rows = 0
        self._shard_bytes = 0
        self._done: list[dict] = []  # closed shards, under their temporary names

    def write(self, row: dict) -> None:
        """One contract row; a row that breaks the contract raises ValueError with its index."""
        try:
            validate_row(row, self.kind)
        except ValueError as exc:
            raise ValueError(
                f"row {self.rows_written + len(self._rows) + self._pending_rows}: {exc}"
            ) from None
        self._rows.append(row)
        if len(self._rows) >= self.batch_rows:
            self._flush_rows()

    def write_table(self, table: pa.Table | pa.RecordBatch) -> None:
        """Contract rows as Arrow (extra columns are dropped, types cast to the contract)."""
        self._flush_rows()
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if table.num_rows == 0:
            return
        self._pending.append(conform(table, self.schema))
        self._pending_rows += table.num_rows
        self._drain(final=False)

    def _flush_rows(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            self._pending.append(pa.Table.from_pylist(rows, schema=self.schema))
            self._pending_rows += len(rows)
            self._drain(final=False)

    def _take(self, n: int) -> pa.RecordBatch:
        table = self._pending[0] if len(self._pending) == 1 else pa.concat_tables(self._pending)
        rest = table.slice(n)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows -= n
        return _single_batch(table.slice(0, n))

    def _drain(self, final: bool) -> None:
        while self._pending_rows >= self.batch_rows or (final and self._pending_rows):
            n = min(self.batch_rows, self._pending_rows)
            if self.max_rows is not None:
                n = min(n, self.max_rows - self._shard_rows)
            batch = self._take(n)
            if (
                self.max_bytes is not None
                and self._shard_rows
                and self._shard_bytes + batch.nbytes > self.max_bytes
            ):
                self._close_shard()
            self._write_batch(batch)
            if self.max_rows is not None and self._shard_rows >= self.max_rows:
                self._close_shard()

    def _write_batch(self, batch: pa.RecordBatch) -> None:
        if self._file is None:
            path = self.out_dir / f".shard-{len(self._done):05d}.{self.fmt}.tmp"
            try:
                self._file = (
                    IpcShardFile(path, self.schema)
                    if self.fmt == "arrow"
                    else _ParquetShardFile(path, self.schema)
                )
            except OSError as exc:
                raise OutputError(path, exc.strerror or str(exc)) from None
        try:
            self._file.write(batch)
        except OSError as exc:  # a full disk: name the shard, not just the errno
            raise OutputError(self._file.path, exc.strerror or str(exc)) from None
        self._shard_rows += batch.num_rows
        self._shard_bytes += batch.nbytes
        self.rows_written += batch.num_rows

    def _close_shard(self) -> None:
        if self._file is None:
            return
        try:
            size, sha = self._file.close()
        except OSError as exc:
            raise OutputError(self._file.path, exc.strerror or str(exc)) from None
        self._done.append(
            {"tmp": self._file.path, "rows": self._shard_rows, "bytes": size, "sha256": sha}
        )
        self._file = None
        self._shard_rows = 0
        self._shard_bytes = 0

    def close(self) -> list[dict]:
        """Finish the last shard and give every shard its final name; returns their entries."""
        self._flush_rows()
        self._drain(final=True)
        if self._file is None and not self._done:
            # No rows: one empty shard, so readers still find the schema.
            self._write_batch(pa.RecordBatch.from_pylist([], schema=self.schema))
        self._close_shard()
        total = len(self._done)
        for done in self._done:  # on disk before any gets its final name, or the manifest
            fsync_path(done["tmp"])
        shards = []
        for index, done in enumerate(self._done):
            name = shard_name(index, total, self.fmt)
            os.replace(done["tmp"], self.out_dir / name)
            shards.append(
                {
                    "file": name,
                    "rows": done["rows"],
                    "bytes": done["bytes"],
                    "sha256": done["sha256"],
                }
            )
        return shards

    def abort(self) -> None:
        """Drop everything written so far (used when the producer of rows fails)."""
        if self._file is not None:
            with contextlib.suppress(OSError, pa.ArrowException):  # the disk may be full
                self._file.abort()
            self._file.path.unlink(missing_ok=True)
            self._file = None
        for done in self._done:
            Path(done["tmp"]).unlink(missing_ok=True)
        self._done = []

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is not None:
            self.abort()


def write_shards(
    rows: Iterable[dict],
    out_dir: str | Path,
    kind: str,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    fmt: str = "arrow",
    manifest_extra: dict | None = None,
) -> dict:
    """Write contract rows as shards plus manifest.json; returns the manifest."""
    with ShardWriter(out_dir, kind, max_rows=max_rows, max_bytes=max_bytes, fmt=fmt) as writer:
        for row in rows:
            writer.write(row)
        shards = writer.close()
    manifest = build_manifest(
        kind, fmt, shards, manifest_extra, run={"out_dir": str(Path(out_dir).resolve())}
    )
    write_manifest(out_dir, manifest)
    return manifest
