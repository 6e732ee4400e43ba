"""Stage `tag`: a fastText skill classifier (trained here, or given) tags sources by skill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting
from skillmix.pipeline.sources import SourceRef
from skillmix.pipeline.stage import (
    Default,
    Stage,
    StageContext,
    StageError,
    StageResult,
    Task,
    atomic_target,
)
from skillmix.pipeline.stages._io import source_file

MODEL = "tagger.bin"


class TagTask(Task):
    def __init__(
        self,
        ref: SourceRef,
        model: str,
        out: Path,
        min_confidence: float,
        on_bad_row: str,
        lineage: str | None = None,
    ) -> None:
        self.ref, self.model, self.out = ref, model, out
        self.min_confidence, self.on_bad_row, self.lineage = min_confidence, on_bad_row, lineage

    def run(self) -> None:
        from curate.tagging import apply_tagger

        if self.ref.mapping or self.ref.skill:
            raise StageError(
                f"tag: source {self.ref.name!r} has a mapping or a fixed skill; "
                "tag it after a stage that rewrites it, or drop its `skill`"
            )
        tmp = atomic_target(self.out)
        acc = apply_tagger(
            self.model,
            self.ref.path,
            tmp,
            min_confidence=self.min_confidence,
            kind=self.ref.kind,
            on_bad_row=self.on_bad_row,
            rejects_path=self.out.with_suffix(".rejects.jsonl"),
            lineage=self.lineage,
        )
        self.out.with_suffix(".accounting.json").write_text(json.dumps(acc.to_dict()))
        tmp.replace(self.out)


class Tag(Stage):
    TYPE = "tag"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "model": None,
        "train": None,
        "train_options": {},
        "sources": None,
        "min_confidence": Default("curate.tagging.fasttext_tagger:apply_tagger", "min_confidence"),
    }
    FILE_OPTIONS: ClassVar[tuple[str, ...]] = ("model", "train")

    def _model_path(self, ctx: StageContext) -> str:
        if (ctx.options["model"] is None) == (ctx.options["train"] is None):
            raise StageError(
                f"stage {ctx.name}: give `model` (a fastText .bin) or `train` "
                "(labeled rows to train one), not both"
            )
        if ctx.options["model"] is not None:
            return ctx.recipe.resolve(str(ctx.options["model"]))
        return str(ctx.stage_dir / MODEL)

    def prepare(self, ctx: StageContext) -> None:
        model = Path(self._model_path(ctx))
        if ctx.options["train"] is None or model.exists():
            return
        from curate.tagging import TagTrainConfig, train_tagger

        options = {"seed": ctx.recipe.mix.seed, **ctx.options["train_options"]}
        tmp = atomic_target(model)
        report = train_tagger(
            ctx.recipe.resolve(str(ctx.options["train"])),
            tmp,
            TagTrainConfig(**options),
            on_bad_row=ctx.on_bad_row,
            rejects_path=ctx.stage_dir / "train.rejects.jsonl",
        )
        (ctx.stage_dir / "tagger_report.json").write_text(
            json.dumps(_report_dict(report), indent=2, sort_keys=True)
        )
        tmp.replace(model)
        Path(f"{tmp}.report.json").unlink(missing_ok=True)  # train_tagger's copy; kept above

    def _targets(self, ctx: StageContext) -> list[SourceRef]:
        names = ctx.options["sources"] or list(ctx.sources)
        missing = [n for n in names if n not in ctx.sources]
        if missing:
            raise StageError(f"stage {ctx.name}: sources: no source named {missing[0]!r}")
        return [ctx.sources[n] for n in names]

    def tasks(self, ctx: StageContext) -> list[Task]:
        model = self._model_path(ctx)
        return [
            TagTask(
                ref,
                model,
                source_file(ctx.stage_dir, ref.name),
                float(ctx.options["min_confidence"]),
                ctx.on_bad_row,
                ctx.lineage(ref.path),
            )
            for ref in self._targets(ctx)
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        sources, accounting = dict(ctx.sources), {}
        for ref in self._targets(ctx):
            out = source_file(ctx.stage_dir, ref.name)
            accounting[ref.name] = Accounting(
                **json.loads(out.with_suffix(".accounting.json").read_text())
            )
            sources[ref.name] = ref.moved_to(str(out), skill=None)
        reports = {}
        if (ctx.stage_dir / "tagger_report.json").exists():
            reports["tagger precision/recall"] = str(
                (ctx.stage_dir / "tagger_report.json").relative_to(ctx.run_dir)
            )
        return StageResult(sources=sources, accounting=accounting, reports=reports)


def _report_dict(report: Any) -> dict:
    from dataclasses import asdict

    return asdict(report)
