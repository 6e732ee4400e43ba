"""Shards of contract rows plus manifest.json: writing, loading, verifying, reading back.

A shard folder holds `shard-00000-of-000NN.arrow` files (Arrow IPC, see `shard_ipc`) or
`.parquet` files, and `manifest.json`, which lists every shard with its rows, bytes and
sha256. Shards are written under a hidden temporary name and renamed when complete, and the
manifest is written last (itself through a temporary name), so a folder with a manifest is
whole and a crash leaves a folder that `load_manifest` refuses.

- `layout`: file names, formats, hashes
- `writer`: `ShardWriter`, `write_shards`
- `manifest`: `build_manifest`, `write_manifest`, `load_manifest`, `verify_shards`
- `reader`: `iter_shard_batches`, `iter_shard_rows`, `shard_paths`
"""

from manifests.shards.layout import (
    BATCH_ROWS,
    FORMATS,
    MANIFEST_NAME,
    SHARD_RE,
    TMP_RE,
    file_sha256,
    shard_name,
)
from manifests.shards.manifest import (
    REQUIRED_KEYS,
    RUN_KEY,
    WRITER_KEYS,
    build_manifest,
    comparable,
    load_manifest,
    run_facts,
    schema_json,
    toolkit_version,
    verify_shards,
    write_datasets_side_files,
    write_manifest,
)
from manifests.shards.reader import iter_shard_batches, iter_shard_rows, shard_paths
from manifests.shards.writer import ShardWriter, conform, prepare_out_dir, write_shards

__all__ = [
    "BATCH_ROWS",
    "FORMATS",
    "MANIFEST_NAME",
    "REQUIRED_KEYS",
    "RUN_KEY",
    "SHARD_RE",
    "TMP_RE",
    "WRITER_KEYS",
    "ShardWriter",
    "build_manifest",
    "comparable",
    "conform",
    "file_sha256",
    "iter_shard_batches",
    "iter_shard_rows",
    "load_manifest",
    "prepare_out_dir",
    "run_facts",
    "schema_json",
    "shard_name",
    "shard_paths",
    "toolkit_version",
    "verify_shards",
    "write_datasets_side_files",
    "write_manifest",
    "write_shards",
]
