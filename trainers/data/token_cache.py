"""Tokenized mixes cached on disk, so a resumed or repeated run skips tokenization.

The key hashes the shards (their sha256s from the manifest), the tokenizer (its full
serialized form and special tokens), the chat template, the recipe's tokenization
(kind, max length) and this file's format version. A hit still verifies the shards
against their manifest. `<key>.npz` holds each part's token ids and labels concatenated
with offsets; `<key>.json` holds the row accounting of the run that built it, and
`<key>.rejects.jsonl` its rejected rows, copied to the output of every run that uses it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from manifests import Accounting
from trainers.data.chat import Tokenized

FORMAT = 1


def tokenizer_fingerprint(tokenizer) -> str:
    digest = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode())
    digest.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True).encode())
    digest.update((tokenizer.chat_template or "").encode())
    return digest.hexdigest()


def token_cache_key(data_fingerprint: str, tokenizer, kind: str, max_length: int) -> str:
    record = {
        "format": FORMAT,
        "data": data_fingerprint,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "kind": kind,
        "max_length": max_length,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]


def save_parts(path: Path, parts: dict[str, list[Tokenized]]) -> None:
    arrays = {}
    for name, docs in parts.items():
        lengths = [len(d.input_ids) for d in docs]
        arrays[f"{name}.offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        arrays[f"{name}.ids"] = _join([d.input_ids for d in docs])
        arrays[f"{name}.labels"] = _join([d.labels for d in docs])
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _join(seqs: list) -> np.ndarray:
    if not seqs:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate([np.asarray(s, dtype=np.int32) for s in seqs])


def load_parts(path: Path) -> dict[str, list[Tokenized]]:
    with np.load(path) as z:
        names = sorted({key.rsplit(".", 1)[0] for key in z.files})
        parts = {}
        for name in names:
            ids, labels, offsets = z[f"{name}.ids"], z[f"{name}.labels"], z[f"{name}.offsets"]
            parts[name] = [
                Tokenized(input_ids=ids[a:b], labels=labels[a:b])
                for a, b in itertools.pairwise(offsets.tolist())
            ]
    return parts


def cached_parts(
    cache_dir: str | Path | None,
    key: str,
    build: Callable[[Accounting], dict[str, list[Tokenized]]],
    *,
    rejects_path: Path,
    is_main_process: bool,
) -> tuple[dict[str, list[Tokenized]], Accounting, bool]:
    """The tokenized parts from the cache, or built (and stored when `cache_dir` is set).

    Returns (parts, accounting, was_cached)."""
    if cache_dir is None:
        accounting = Accounting()
        return build(accounting), accounting, False
    folder = Path(cache_dir)
    data, stats = folder / f"{key}.npz", folder / f"{key}.json"
    saved_rejects = folder / f"{key}.rejects.jsonl"
    if data.exists() and stats.exists():
        accounting = Accounting.from_dict(json.loads(stats.read_text())["accounting"])
        if is_main_process and saved_rejects.exists() and not rejects_path.exists():
            rejects_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved_rejects, rejects_path)
        return load_parts(data), accounting, True
    accounting = Accounting()
    parts = build(accounting)
    if is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        save_parts(data, parts)
        if rejects_path.exists():
            shutil.copyfile(rejects_path, saved_rejects)
        record = {
            "key": key,
            "accounting": accounting.to_dict(),
            "documents": {name: len(docs) for name, docs in parts.items()},
            "tokens": {
                name: int(sum(len(d.input_ids) for d in docs)) for name, docs in parts.items()
            },
        }
        tmp = stats.with_name(stats.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(stats)
    return parts, accounting, False
