"""What a shard folder holds: file names, formats, the batch size, and file hashes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MANIFEST_NAME = "manifest.json"
FORMATS = ("arrow", "parquet")
BATCH_ROWS = 1024
SHARD_RE = re.compile(r"^shard-(\d{5})-of-(\d{5})\.(arrow|parquet)$")
TMP_RE = re.compile(r"^\.shard-\d{5}\.(arrow|parquet)\.tmp$|^\.manifest\.json\.tmp$")


def shard_name(index: int, total: int, fmt: str) -> str:
    return f"shard-{index:05d}-of-{total:05d}.{fmt}"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
