"""Stage keys: a hash of a stage's config, its inputs, and the key of the stage before it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from manifests.ids import canonical_json
from manifests.readers import HUB_PREFIX

CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """sha256 of a file, or of every file under a folder (names included)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        with open(file, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def input_digest(spec: str, name: str | None = None) -> str:
    """Local inputs are hashed by content; hub datasets, and files not there (yet), by their
    name: `name`, a form of `spec` that does not change when the project moves."""
    if spec.startswith(HUB_PREFIX) or not Path(spec).exists():
        return f"spec:{name or spec}"
    return file_digest(spec)


def stage_key(stage_type: str, options: dict, inputs: dict[str, str], previous: str) -> str:
    payload = {"type": stage_type, "options": options, "inputs": inputs, "previous": previous}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:20]
