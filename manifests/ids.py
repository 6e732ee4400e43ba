"""Stable row ids: the same input row gets the same id on every run."""

from __future__ import annotations

import hashlib
import json


def canonical_json(value: object) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stable_id(source: str, content: object) -> str:
    """A hex hash of the source name and the row's content."""
    digest = hashlib.sha256(f"{source}\0{canonical_json(content)}".encode())
    return digest.hexdigest()[:24]
