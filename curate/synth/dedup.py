"""Deduplication and decontamination of generated prompts, through decontam's API."""

from __future__ import annotations

from collections.abc import Sequence

from manifests import Accounting, row_text
from manifests.progress import track


def drop_duplicates(
    rows: list[dict], accounting: Accounting, minhash_threshold: float | None = 0.8, seed: int = 1
) -> list[dict]:
    """Keep the first of each group of exact (after normalization) or near duplicates."""
    from decontam import minhash_duplicates, normalize_text

    kept: list[dict] = []
    seen: set[str] = set()
    for row in rows:
        key = normalize_text(row_text(row))
        if key in seen:
            accounting.remove("duplicate_exact")
            continue
        seen.add(key)
        kept.append(row)
    if minhash_threshold is None or len(kept) < 2:
        return kept
    items = ((row["id"], row_text(row)) for row in kept)
    dups = minhash_duplicates(
        track(items, desc="synth: near dedup", total=len(kept)),
        threshold=minhash_threshold,
        seed=seed,
    )
    if dups:
        accounting.remove("duplicate_near", len(dups))
    return [row for row in kept if row["id"] not in dups]


def drop_contaminated(
    rows: list[dict], evals: Sequence[str], accounting: Accounting, **options
) -> list[dict]:
    """Remove prompts that match the named evaluation sets (decontam's n-gram matching)."""
    if not evals or not rows:
        return rows
    from decontam import find_contamination

    result = find_contamination(rows, list(evals), **options)
    flagged = set().union(*result.flagged.values()) if result.flagged else set()
    if flagged:
        accounting.remove("contaminated", sum(1 for row in rows if row["id"] in flagged))
    return [row for row in rows if row["id"] not in flagged]
