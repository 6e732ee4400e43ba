"""Reading shards back, in manifest order, after checking them against the manifest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.shard_ipc import open_ipc_batches
from manifests.shards.layout import BATCH_ROWS
from manifests.shards.manifest import load_manifest, verify_shards


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
