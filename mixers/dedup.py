"""Dedup within the mix: exact (normalized prompt keys) and near (decontam's MinHash)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from manifests.progress import track
from mixers.keys import normalized_prompts
from mixers.recipe import MinhashSpec
from mixers.staged import StagedSource


def exact_duplicates(keys: list[np.ndarray], alive: list[np.ndarray]) -> list[np.ndarray]:
    """Per source, the live rows whose prompt key an earlier live row already has.

    "Earlier" follows the recipe's source order, then row order, so the first source to
    list a prompt keeps it.
    """
    positions = [np.flatnonzero(a) for a in alive]
    flat = np.concatenate([k[p] for k, p in zip(keys, positions, strict=True)])
    _, first = np.unique(flat, return_index=True)
    duplicate = np.ones(len(flat), dtype=bool)
    duplicate[first] = False
    out, start = [], 0
    for k, p in zip(keys, positions, strict=True):
        mask = np.zeros(len(k), dtype=bool)
        mask[p] = duplicate[start : start + len(p)]
        out.append(mask)
        start += len(p)
    return out


def _prompt_items(
    staged: list[StagedSource], alive: list[np.ndarray], kind: str
) -> Iterator[tuple[str, str]]:
    base = 0
    for source, live in zip(staged, alive, strict=True):
        for batch, start in zip(source.open(), source.offsets[:-1], strict=False):
            texts = normalized_prompts(pa.Table.from_batches([batch]), kind).to_list()
            for j, text in enumerate(texts):
                row = int(start) + j
                if live[row]:
                    yield str(base + row), text
        base += source.rows


def near_duplicates(
    staged: list[StagedSource],
    alive: list[np.ndarray],
    kind: str,
    spec: MinhashSpec,
    seed: int,
    desc: str = "mix: near dedup",
) -> list[np.ndarray]:
    """Per source, the live rows that decontam's MinHash finds near an earlier kept row."""
    import decontam

    live = int(sum(a.sum() for a in alive))
    pairs = decontam.minhash_duplicates(
        track(_prompt_items(staged, alive, kind), desc=desc, total=live),
        threshold=spec.threshold,
        num_perm=spec.num_perm,
        shingle_size=spec.shingle_size,
        seed=seed,
    )
    duplicates = [int(key) for key in pairs]
    out, base = [], 0
    for source in staged:
        mask = np.zeros(source.rows, dtype=bool)
        dups = [k - base for k in duplicates if base <= k < base + source.rows]
        mask[np.asarray(dups, dtype=np.int64)] = True
        out.append(mask)
        base += source.rows
    return out
