"""The decontamination step of a mix, through `decontam.find_contamination`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from manifests.recipe import DecontamSpec
from mixers.stage import StagedSource


def _staged_rows(staged: list[StagedSource]) -> Iterator[dict]:
    for source in staged:
        for batch in source.open():
            yield from batch.to_pylist()


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
    staged: list[StagedSource], spec: DecontamSpec, report_dir: Path, *, base_dir: Path,
    workers: int = 1,
) -> tuple[list[np.ndarray], dict]:
    """Per source, the rows that match an eval set; and the summary for the manifest."""
    import decontam

    evals = [resolve_eval(e, base_dir) for e in spec.evals]
    result = decontam.find_contamination(
        _staged_rows(staged), evals, method=spec.method, ngram_size=spec.ngram_size,
        threshold=spec.threshold, fields=spec.fields, out_dir=report_dir, remove=False,
        workers=workers,
    )
    masks = []
    for source in staged:
        ids = sorted(result.flagged.get(source.name, set()))
        mask = np.zeros(source.rows, dtype=bool)
        if ids:
            value_set = pa.array(ids, pa.string())
            at = 0
            for batch in source.open():
                hit = pc.is_in(batch.column("id"), value_set=value_set)
                mask[at : at + batch.num_rows] = hit.to_numpy(zero_copy_only=False)
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
