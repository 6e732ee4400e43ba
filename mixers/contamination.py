"""The decontamination step of a mix, through `decontam.find_contamination`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixers.recipe import DecontamSpec
from mixers.staged import StagedSource


def duplicate_ids(source: StagedSource) -> set[str]:
    """Ids that more than one staged row of `source` carries."""
    batches = source.open()
    if not batches:
        return set()
    counts = pc.value_counts(pa.chunked_array([b.column("id") for b in batches]))
    return {v["values"] for v in counts.to_pylist() if v["counts"] > 1}


def _row_key(row_id: str, position: int, dups: set[str]) -> str:
    # Rows are told apart by position: a shared id gets the row's position appended, so
    # a clean row never goes with a contaminated one that happens to carry its id.
    return f"{row_id}#{position}" if row_id in dups else row_id


def _staged_rows(staged: list[StagedSource], dups: list[set[str]]) -> Iterator[dict]:
    for source, shared in zip(staged, dups, strict=True):
        position = 0
        for batch in source.open():
            for row in batch.to_pylist():
                if shared:
                    row["id"] = _row_key(row["id"], position, shared)
                position += 1
                yield row


def resolve_eval(spec: str, base_dir: Path) -> str:
    """An eval spec with a local path taken relative to the recipe's folder.

    Specs are registry names (`gsm8k`) or `[NAME=]PATH[:FIELD+FIELD]` (see decontam).
    """
    import decontam

    if spec in decontam.REGISTRY:
        return spec
    name, sep, rest = spec.partition("=")
    if not sep:
        name, rest = "", spec
    path, fields = rest, ""
    if not (base_dir / path).exists() and ":" in rest:
        path, _, tail = rest.rpartition(":")
        fields = ":" + tail
    if Path(path).is_absolute() or not (base_dir / path).exists():
        return spec
    return f"{name}{sep}{base_dir / path}{fields}"


def contaminated(
    staged: list[StagedSource],
    spec: DecontamSpec,
    report_dir: Path,
    *,
    base_dir: Path,
    workers: int = 1,
    dups: list[set[str]] | None = None,
) -> tuple[list[np.ndarray], dict]:
    """Per source, the rows that match an eval set; and the summary for the manifest."""
    import decontam

    evals = [resolve_eval(e, base_dir) for e in spec.evals]
    if dups is None:
        dups = [duplicate_ids(source) for source in staged]
    result = decontam.find_contamination(
        _staged_rows(staged, dups),
        evals,
        method=spec.method,
        ngram_size=spec.ngram_size,
        threshold=spec.threshold,
        fields=spec.fields,
        out_dir=report_dir,
        remove=False,
        workers=workers,
    )
    masks = []
    for source, shared in zip(staged, dups, strict=True):
        flagged = result.flagged.get(source.name, set())
        mask = np.zeros(source.rows, dtype=bool)
        if flagged:
            at = 0
            for batch in source.open():
                for i, row_id in enumerate(batch.column("id").to_pylist()):
                    mask[at + i] = _row_key(row_id, at + i, shared) in flagged
                at += batch.num_rows
        masks.append(mask)
    summary = {
        "evals": list(spec.evals),
        "method": spec.method,
        "ngram_size": spec.ngram_size,
        "threshold": spec.threshold,
        "fields": spec.fields,
        "flagged": {s.name: int(m.sum()) for s, m in zip(staged, masks, strict=True)},
        "report_path": str(result.report_path) if result.report_path else None,
    }
    return masks, summary
