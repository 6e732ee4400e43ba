"""Stage `dedup`: exact and MinHash near-duplicates across sources, before mixing.

Uses the mixer's own dedup (normalized prompt keys; decontam's MinHash), so a row is a
duplicate here exactly when it would be one inside a mix. Sources are compared with the
others of their kind; the first source in the table keeps a shared prompt.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from manifests import Accounting, RejectsWriter
from manifests.progress import Progress
from skillmix.pipeline.sources import SourceRef
from skillmix.pipeline.stage import Stage, StageContext, StageResult, Task, atomic_target
from skillmix.pipeline.stages._io import source_file

WORK = "work"


class DedupTask(Task):
    def __init__(
        self,
        refs: list[SourceRef],
        options: dict[str, Any],
        seed: int,
        stage_dir: Path,
        on_bad_row: str,
        lineage: dict[str, str] | None = None,
    ) -> None:
        self.refs, self.options, self.seed = refs, options, seed
        self.stage_dir, self.on_bad_row = stage_dir, on_bad_row
        self.lineage = lineage or {}

    def run(self) -> None:
        from mixers.dedup import exact_duplicates, near_duplicates
        from mixers.recipe import MinhashSpec
        from mixers.stage import stage_source

        kind = self.refs[0].kind
        work = self.stage_dir / WORK / kind
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        with (
            RejectsWriter(self.stage_dir / f"rejects-{kind}.jsonl") as rejects,
            Progress(len(self.refs), desc=f"dedup {kind}: stage", unit="source") as bar,
        ):
            staged = []
            for i, ref in enumerate(self.refs):
                staged.append(
                    stage_source(
                        i,
                        ref.name,
                        ref.path,
                        kind,
                        work,
                        skill=ref.skill,
                        mapping=ref.mapping,
                        on_bad_row=self.on_bad_row,
                        rejects=rejects,
                        lineage=self.lineage.get(ref.name),
                    )
                )
                bar.update(1, rows=sum(s.rows for s in staged))
        alive = [np.ones(s.rows, dtype=bool) for s in staged]
        exact = [np.zeros(s.rows, dtype=bool) for s in staged]
        if self.options["exact"]:
            exact = exact_duplicates([s.keys for s in staged], alive)
            alive = [a & ~e for a, e in zip(alive, exact, strict=True)]
        near = [np.zeros(s.rows, dtype=bool) for s in staged]
        if self.options["minhash"] is not None:
            spec = MinhashSpec(**self.options["minhash"])
            near = near_duplicates(staged, alive, kind, spec, self.seed, f"dedup {kind}: near")
            alive = [a & ~n for a, n in zip(alive, near, strict=True)]
        for source, keep, e, n in zip(staged, alive, exact, near, strict=True):
            out = source_file(self.stage_dir, source.name, ".arrow")
            _write_kept(source.open(), keep, out)
            acc = Accounting(
                rows_in=source.accounting.rows_in,
                rows_out=int(keep.sum()),
                rejected=source.accounting.rejected,
            )
            for reason, mask in (("duplicate_exact", e), ("duplicate_near", n)):
                if mask.any():
                    acc.remove(reason, int(mask.sum()))
            out.with_suffix(".accounting.json").write_text(json.dumps(acc.to_dict()))
        shutil.rmtree(work, ignore_errors=True)


def _write_kept(batches: list[pa.RecordBatch], keep: np.ndarray, out: Path) -> None:
    if not keep.any():  # nothing left: no file, and the stage drops the source
        return
    tmp = atomic_target(out)
    with pa.ipc.new_file(str(tmp), batches[0].schema) as writer:
        start = 0
        for batch in batches:
            mask = keep[start : start + batch.num_rows]
            writer.write_batch(batch.filter(pa.array(mask)))
            start += batch.num_rows
    tmp.replace(out)


class Dedup(Stage):
    TYPE = "dedup"
    OPTIONS: ClassVar[dict[str, Any]] = {"exact": True, "minhash": {"threshold": 0.8}}

    def tasks(self, ctx: StageContext) -> list[Task]:
        by_kind: dict[str, list[SourceRef]] = {}
        for ref in ctx.sources.values():
            by_kind.setdefault(ref.kind, []).append(ref)
        return [
            DedupTask(
                refs,
                ctx.options,
                ctx.recipe.mix.seed,
                ctx.stage_dir,
                ctx.on_bad_row,
                {ref.name: ctx.lineage(ref.path) for ref in refs},
            )
            for refs in by_kind.values()
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        sources, accounting = {}, {}
        for name, ref in ctx.sources.items():
            out = source_file(ctx.stage_dir, name, ".arrow")
            accounting[name] = Accounting.from_dict(
                json.loads(out.with_suffix(".accounting.json").read_text())
            )
            if out.exists():
                sources[name] = ref.moved_to(str(out))
        return StageResult(
            sources=sources,
            accounting=accounting,
            summary={"emptied_sources": sorted(set(ctx.sources) - set(sources))},
        )
