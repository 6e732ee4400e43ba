"""manifest.json of a shard folder: building, writing, loading, and verifying shards
against it.

Facts of one run (when, where, on which host, absolute paths) live in the one top-level
key `run`; the rest of the manifest depends only on the recipe, its inputs and the toolkit,
so two equal runs in different folders give manifests that are equal outside `run`.
Loading and verifying never read `run`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.atomic import atomic_write_text
from manifests.schemas import KINDS, schema_for
from manifests.shard_ipc import open_ipc_batches
from manifests.shards.layout import FORMATS, MANIFEST_NAME, SHARD_RE, TMP_RE, file_sha256

REQUIRED_KEYS = (
    "kind",
    "format",
    "seed",
    "skillmix_version",
    "recipe",
    "sources",
    "shards",
    "schema",
    "total_rows",
    "token_counts",
    "decontamination",
)
WRITER_KEYS = ("kind", "format", "shards", "schema", "total_rows", "run")
RUN_KEY = "run"


def toolkit_version() -> str:
    """skillmix's version (the same value as `skillmix.__version__`)."""
    try:
        return version("skillmix")
    except PackageNotFoundError:
        return "0.0.0+local"


def schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def run_facts(**facts: Any) -> dict[str, Any]:
    """The `run` key: when and on which host, plus the caller's run-specific `facts`
    (absolute paths, the output folder)."""
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        **facts,
    }


def comparable(manifest: dict) -> dict:
    """The manifest without its `run` key: what equal runs share byte for byte."""
    return {k: v for k, v in manifest.items() if k != RUN_KEY}


def build_manifest(
    kind: str,
    fmt: str,
    shards: list[dict],
    manifest_extra: dict | None = None,
    *,
    run: dict[str, Any] | None = None,
) -> dict:
    """The manifest of written shards; `manifest_extra` fills the recipe-level keys (and
    must hold nothing run-specific); `run` adds facts of this run to the `run` key."""
    extra = dict(manifest_extra or {})
    clash = [key for key in WRITER_KEYS if key in extra]
    if clash:
        raise ValueError(f"manifest_extra may not set {', '.join(clash)} (the writer does)")
    manifest: dict[str, Any] = {
        "kind": kind,
        "format": fmt,
        "seed": None,
        "skillmix_version": toolkit_version(),
        "recipe": None,
        "sources": None,
        "total_rows": sum(s["rows"] for s in shards),
        "shards": shards,
        "schema": schema_json(schema_for(kind)),
        "token_counts": None,
        "decontamination": None,
    }
    manifest.update(extra)
    manifest[RUN_KEY] = run_facts(**(run or {}))
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
