"""Stage `decontaminate`: match every source against evaluation sets; keep the clean rows."""

from __future__ import annotations

import json
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting, RejectsWriter
from manifests.rejects import REJECTS_NAME
from skillmix.pipeline.sources import SourceRef
from skillmix.pipeline.stage import REQUIRED, Default, Stage, StageContext, StageResult, Task
from skillmix.pipeline.stages._io import read_source

REPORT = "report"


def resolve_eval(spec: str, resolve) -> str:
    """Local eval files in a recipe are relative to the recipe's folder."""
    from decontam.evalsets import parse_eval_spec

    name, path, fields = parse_eval_spec(spec)
    if path is None:
        return spec
    suffix = f":{'+'.join(fields)}" if fields else ""
    return f"{name}={resolve(path)}{suffix}"


class DecontaminateTask(Task):
    def __init__(
        self,
        sources: list[SourceRef],
        evals: list[str],
        options: dict[str, Any],
        out_dir: Path,
        on_bad_row: str,
        workers: int,
        lineage: dict[str, str] | None = None,
    ) -> None:
        self.sources, self.evals, self.options = sources, evals, options
        self.out_dir, self.on_bad_row, self.workers = out_dir, on_bad_row, workers
        self.lineage = lineage or {}

    def run(self) -> None:
        from decontam import find_contamination

        self.out_dir.mkdir(parents=True, exist_ok=True)
        read_acc = {ref.name: Accounting() for ref in self.sources}
        with RejectsWriter(self.out_dir / REJECTS_NAME) as rejects:
            rows = chain.from_iterable(
                read_source(
                    ref, self.on_bad_row, rejects, read_acc[ref.name], self.lineage.get(ref.name)
                )
                for ref in self.sources
            )
            find_contamination(
                rows,
                self.evals,
                out_dir=self.out_dir,
                remove=True,
                workers=self.workers,
                **self.options,
            )
        (self.out_dir / "read_accounting.json").write_text(
            json.dumps({k: v.to_dict() for k, v in read_acc.items()}, sort_keys=True)
        )


class Decontaminate(Stage):
    TYPE = "decontaminate"
    # eval_dir: a folder from `skillmix evals pull`; the registry names in `evals` (all of
    # its sets when `evals` is []) are read from it offline, sha256-checked
    OPTIONS: ClassVar[dict[str, Any]] = {
        "evals": REQUIRED,
        "method": "ngram",
        "ngram_size": Default("decontam.engine:DecontamConfig", "ngram_size"),
        "threshold": Default("decontam.engine:DecontamConfig", "threshold"),
        "fields": Default("decontam.engine:DecontamConfig", "fields"),
        "eval_dir": None,
    }
    FILE_OPTIONS: ClassVar[tuple[str, ...]] = ("evals", "eval_dir")

    @classmethod
    def option_paths(cls, value: Any) -> list[str]:
        from decontam.evaldir import INDEX
        from decontam.evalsets import parse_eval_spec

        if isinstance(value, str):  # eval_dir: its index holds every file's sha256
            return [str(Path(value) / INDEX)]
        return [
            path
            for spec in super().option_paths(value)
            if (path := parse_eval_spec(spec)[1]) is not None
        ]

    def tasks(self, ctx: StageContext) -> list[Task]:
        evals = [resolve_eval(str(e), ctx.recipe.resolve) for e in ctx.options["evals"]]
        options = {k: v for k, v in ctx.options.items() if k != "evals"}
        if options["eval_dir"] is not None:
            options["eval_dir"] = ctx.recipe.resolve(str(options["eval_dir"]))
        return [
            DecontaminateTask(
                list(ctx.sources.values()),
                evals,
                options,
                ctx.stage_dir / REPORT,
                ctx.on_bad_row,
                ctx.workers,
                {name: ctx.lineage(ref.path) for name, ref in ctx.sources.items()},
            )
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        from decontam.audit import safe_name

        out = ctx.stage_dir / REPORT
        report = json.loads((out / "report.json").read_text())
        read_acc = json.loads((out / "read_accounting.json").read_text())
        sources, accounting = {}, {}
        for name, ref in ctx.sources.items():
            stats = report["sources"].get(name, {"rows": 0, "flagged": 0, "kept": 0})
            acc = Accounting(
                rows_in=read_acc[name]["rows_in"],
                rows_out=stats["kept"],
                rejected=read_acc[name]["rejected"],
            )
            if stats["flagged"]:
                acc.remove("contaminated", stats["flagged"])
            accounting[name] = acc
            kept = out / "kept" / f"{safe_name(name)}.jsonl"
            if kept.exists():
                sources[name] = ref.moved_to(str(kept))
        rel = out.relative_to(ctx.run_dir)
        contaminated = {
            src: stats["contaminated_evals"] for src, stats in report["sources"].items()
        }
        return StageResult(
            sources=sources,
            accounting=accounting,
            reports={
                "contamination report": str(rel / "report.html"),
                "report.json": str(rel / "report.json"),
            },
            products={"contamination": str(out / "report.json")},
            summary={
                "emptied_sources": sorted(set(ctx.sources) - set(sources)),
                "contaminated": contaminated,
            },
        )
