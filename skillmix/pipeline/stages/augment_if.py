"""Stage `augment_if`: verifiable IFEval constraints added to the prompts of some sources.

Each input source is one task; their rows become one new `rlvr` source (`as`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting
from skillmix.pipeline.sources import SourceRef
from skillmix.pipeline.stage import (
    REQUIRED,
    Default,
    Stage,
    StageContext,
    StageResult,
    Task,
    atomic_target,
)
from skillmix.pipeline.stages._io import from_sources, source_file


class AugmentTask(Task):
    def __init__(
        self,
        ref: SourceRef,
        new_name: str,
        config: Any,
        out: Path,
        on_bad_row: str,
        lineage: str | None = None,
    ) -> None:
        self.ref, self.new_name, self.config, self.out = ref, new_name, config, out
        self.on_bad_row, self.lineage = on_bad_row, lineage

    def run(self) -> None:
        from curate.ifaug import augment_file

        tmp = atomic_target(self.out)
        acc = augment_file(
            self.ref.path,
            tmp,
            self.config,
            source=self.new_name,
            on_bad_row=self.on_bad_row,
            rejects_path=self.out.with_suffix(".rejects.jsonl"),
            lineage=self.lineage,
        )
        self.out.with_suffix(".accounting.json").write_text(_json(acc.to_dict()))
        tmp.replace(self.out)


def _json(data: dict) -> str:
    import json

    return json.dumps(data, sort_keys=True)


class AugmentIf(Stage):
    TYPE = "augment_if"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "from": REQUIRED,
        "as": REQUIRED,
        "take": {"fraction": 1.0},
        "seed": None,
        "min_constraints": Default("curate.ifaug:AugmentConfig", "min_constraints"),
        "max_constraints": Default("curate.ifaug:AugmentConfig", "max_constraints"),
    }

    def _config(self, ctx: StageContext) -> Any:
        from curate.ifaug import AugmentConfig

        seed = ctx.options["seed"]
        return AugmentConfig(
            seed=ctx.recipe.mix.seed if seed is None else int(seed),
            min_constraints=int(ctx.options["min_constraints"]),
            max_constraints=int(ctx.options["max_constraints"]),
        )

    def _inputs(self, ctx: StageContext) -> list[SourceRef]:
        return from_sources(ctx)

    def tasks(self, ctx: StageContext) -> list[Task]:
        config = self._config(ctx)
        return [
            AugmentTask(
                ref,
                ctx.options["as"],
                config,
                source_file(ctx.stage_dir, f"part-{ref.name}"),
                ctx.on_bad_row,
                ctx.lineage(ref.path),
            )
            for ref in self._inputs(ctx)
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        import json

        name = ctx.options["as"]
        out = source_file(ctx.stage_dir, name)
        accounting = {}
        with open(out, "wb") as merged:
            for ref in self._inputs(ctx):
                part = source_file(ctx.stage_dir, f"part-{ref.name}")
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, merged)
                acc = json.loads(part.with_suffix(".accounting.json").read_text())
                accounting[ref.name] = Accounting.from_dict(acc)
        sources = dict(ctx.sources)
        sources[name] = SourceRef(
            name=name,
            path=str(out),
            kind="rlvr",
            take=dict(ctx.options["take"]),
            skill="precise_if",
        )
        return StageResult(
            sources=sources,
            accounting=accounting,
            summary={"new_source": name, "rows": sum(a.rows_out for a in accounting.values())},
        )
