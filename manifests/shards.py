"""Shards of contract rows plus manifest.json: writing, loading, verifying, reading back.

A shard folder holds `shard-00000-of-000NN.arrow` files (Arrow IPC, see `shard_ipc`) or
`.parquet` files, and `manifest.json`, which lists every shard with its rows, bytes and
sha256. Shards are written under a hidden temporary name and renamed when complete, and the
manifest is written last (itself through a temporary name), so a folder with a manifest is
whole and a crash leaves a folder that `load_manifest` refuses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.atomic import OutputError, atomic_write_text, fsync_path, remove_dead_temp_files
from manifests.schemas import KINDS, check_kind, schema_for
from manifests.shard_ipc import IpcShardFile, open_ipc_batches
from manifests.validate import validate_row

MANIFEST_NAME = "manifest.json"
FORMATS = ("arrow", "parquet")
BATCH_ROWS = 1024
SHARD_RE = re.compile(r"^shard-(\d{5})-of-(\d{5})\.(arrow|parquet)$")
TMP_RE = re.compile(r"^\.shard-\d{5}\.(arrow|parquet)\.tmp$|^\.manifest\.json\.tmp$")
REQUIRED_KEYS = (
    "kind",
    "format",
    "seed",
    "skillmix_version",
    "created_at",
    "recipe",
    "sources",
    "shards",
    "schema",
    "total_rows",
    "token_counts",
    "decontamination",
)
WRITER_KEYS = ("kind", "format", "shards", "schema", "total_rows")


def toolkit_version() -> str:
    """skillmix's version (the same value as `skillmix.__version__`)."""
    try:
        return version("skillmix")
    except PackageNotFoundError:
        return "0.0.0+local"


def shard_name(index: int, total: int, fmt: str) -> str:
    return f"shard-{index:05d}-of-{total:05d}.{fmt}"


def schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


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


def build_manifest(
    kind: str, fmt: str, shards: list[dict], manifest_extra: dict | None = None
) -> dict:
    """The manifest of written shards; `manifest_extra` fills the recipe-level keys."""
    extra = dict(manifest_extra or {})
    clash = [key for key in WRITER_KEYS if key in extra]
    if clash:
        raise ValueError(f"manifest_extra may not set {', '.join(clash)} (the writer does)")
    manifest: dict[str, Any] = {
        "kind": kind,
        "format": fmt,
        "seed": None,
        "skillmix_version": toolkit_version(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "recipe": None,
        "sources": None,
        "total_rows": sum(s["rows"] for s in shards),
        "shards": shards,
        "schema": schema_json(schema_for(kind)),
        "token_counts": None,
        "decontamination": None,
    }
    manifest.update(extra)
    return manifest


def _write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_datasets_side_files(out_dir: Path, manifest: dict) -> None:
    """`state.json` and `dataset_info.json`, so `datasets.load_from_disk(out_dir)` opens
    Arrow shards as a `save_to_disk` folder would (Parquet shards have no such layout)."""
    if manifest["format"] != "arrow":
        return
    from datasets import Features

    fingerprint = hashlib.sha256(
        "".join(s["sha256"] for s in manifest["shards"]).encode()
    ).hexdigest()[:16]
    _write_json(
        out_dir / "dataset_info.json",
        {
            "description": f"skillmix {manifest['kind']} mix (see manifest.json)",
            "features": Features.from_arrow_schema(schema_for(manifest["kind"])).to_dict(),
        },
    )
    _write_json(
        out_dir / "state.json",
        {
            "_data_files": [{"filename": s["file"]} for s in manifest["shards"]],
            "_fingerprint": fingerprint,
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        },
    )


def write_manifest(out_dir: str | Path, manifest: dict) -> Path:
    """Write manifest.json through a temporary name, so it appears whole or not at all;
    the `datasets` side files are written just before it."""
    out = Path(out_dir)
    write_datasets_side_files(out, manifest)
    final = out / MANIFEST_NAME
    _write_json(final, manifest)
    return final


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
    manifest = build_manifest(kind, fmt, shards, manifest_extra)
    write_manifest(out_dir, manifest)
    return manifest


def load_manifest(shard_dir: str | Path) -> dict:
    """manifest.json of a shard folder; ValueError says what is missing or wrong."""
    folder = Path(shard_dir)
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such shard folder")
    if not path.exists():
        leftovers = [
            e.name for e in folder.iterdir() if SHARD_RE.match(e.name) or TMP_RE.match(e.name)
        ]
        hint = (
            " (shards without a manifest: the write did not finish; rerun it)" if leftovers else ""
        )
        raise ValueError(f"{path}: missing{hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: expected a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
    if manifest["kind"] not in KINDS:
        raise ValueError(f"{path}: key 'kind': unknown row kind {manifest['kind']!r}")
    if manifest["format"] not in FORMATS:
        raise ValueError(f"{path}: key 'format': expected one of {FORMATS}")
    for i, shard in enumerate(manifest["shards"]):
        if not isinstance(shard, dict) or not {"file", "rows", "bytes", "sha256"} <= set(shard):
            raise ValueError(f"{path}: shards[{i}] needs file, rows, bytes and sha256")
    return manifest


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _open_schema_and_rows(path: Path, fmt: str) -> tuple[pa.Schema, int]:
    if fmt == "parquet":
        meta = pq.ParquetFile(str(path))
        return meta.schema_arrow, meta.metadata.num_rows
    reader = open_ipc_batches(path)
    return reader.schema, sum(batch.num_rows for batch in reader)


def verify_shards(shard_dir: str | Path) -> list[str]:
    """Problems of a shard folder against its manifest; [] when every shard is whole."""
    folder = Path(shard_dir)
    try:
        manifest = load_manifest(folder)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    schema = schema_for(manifest["kind"])
    listed = set()
    for shard in manifest["shards"]:
        path = folder / shard["file"]
        listed.add(shard["file"])
        if not path.exists():
            problems.append(f"{shard['file']}: missing")
            continue
        size = path.stat().st_size
        if size != shard["bytes"]:
            problems.append(f"{shard['file']}: {size} bytes, the manifest says {shard['bytes']}")
        sha = file_sha256(path)
        if sha != shard["sha256"]:
            problems.append(f"{shard['file']}: sha256 {sha} differs from the manifest's")
            continue
        try:
            file_schema, rows = _open_schema_and_rows(path, manifest["format"])
        except (pa.ArrowException, OSError) as exc:
            problems.append(f"{shard['file']}: unreadable ({exc})")
            continue
        if rows != shard["rows"]:
            problems.append(f"{shard['file']}: {rows} rows, the manifest says {shard['rows']}")
        if not file_schema.equals(schema):
            problems.append(f"{shard['file']}: schema differs from the {manifest['kind']} contract")
    total = sum(s["rows"] for s in manifest["shards"])
    if total != manifest["total_rows"]:
        problems.append(f"total_rows {manifest['total_rows']} but the shards hold {total}")
    for entry in sorted(folder.iterdir()):
        if SHARD_RE.match(entry.name) and entry.name not in listed:
            problems.append(f"{entry.name}: a shard file the manifest does not list")
    return problems


def shard_paths(shard_dir: str | Path) -> list[Path]:
    manifest = load_manifest(shard_dir)
    return [Path(shard_dir) / s["file"] for s in manifest["shards"]]


def iter_shard_batches(
    shard_dir: str | Path, *, verify: bool = True, expected_kind: str | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of every shard, in manifest order."""
    manifest = load_manifest(shard_dir)
    if expected_kind is not None and manifest["kind"] != expected_kind:
        raise ValueError(
            f"{shard_dir}: shards hold {manifest['kind']!r} rows, expected {expected_kind!r}"
        )
    if verify:
        problems = verify_shards(shard_dir)
        if problems:
            raise ValueError(
                f"{shard_dir}: shards do not match manifest.json: " + "; ".join(problems)
            )
    for shard in manifest["shards"]:
        path = Path(shard_dir) / shard["file"]
        if manifest["format"] == "parquet":
            yield from pq.ParquetFile(str(path)).iter_batches(batch_size=BATCH_ROWS)
        else:
            yield from open_ipc_batches(path)


def iter_shard_rows(
    shard_dir: str | Path, *, verify: bool = True, expected_kind: str | None = None
) -> Iterator[dict]:
    """Contract rows of a shard folder, in order; `verify` checks hashes first."""
    for batch in iter_shard_batches(shard_dir, verify=verify, expected_kind=expected_kind):
        yield from batch.to_pylist()
