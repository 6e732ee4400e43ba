"""Stage `synth`: persona-driven skill prompts, then answers, from a model server.

Both steps keep a request cache in the stage folder, so a run that was killed asks the
server again only for what had no answer. The answers become an `sft` source (`as`) and,
where a ground truth is known, an `rlvr` source (`<as>_rlvr`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting
from manifests.ids import canonical_json
from skillmix.pipeline.sources import SourceRef
from skillmix.pipeline.stage import (
    REQUIRED,
    Default,
    Stage,
    StageContext,
    StageError,
    StageResult,
    Task,
    atomic_target,
)

PROMPTS = "prompts.jsonl"
SFT = "responses.jsonl"
RLVR = "responses.rlvr.jsonl"


def _backend(options: dict[str, Any]) -> Any:
    from curate.backends.factory import BackendOptions

    return BackendOptions(**options)


class SynthTask(Task):
    def __init__(
        self, options: dict[str, Any], seed: int, stage_dir: Any, personas: str, on_bad_row: str
    ) -> None:
        self.options, self.seed, self.stage_dir = options, seed, stage_dir
        self.personas, self.on_bad_row = personas, on_bad_row

    def run(self) -> None:
        from curate.synth.prompts import PromptConfig
        from curate.synth.responses import ResponseConfig
        from curate.synth.run import run_prompt_stage, run_response_stage

        o = self.options
        prompts = self.stage_dir / PROMPTS
        config = PromptConfig(
            skills=tuple(o["skills"]),
            per_skill=int(o["per_skill"]),
            seed=self.seed,
            source=o["as"],
            decontam=tuple(o["decontam"] or ()),
        )
        run_prompt_stage(prompts, config, _backend(o["backend"]), personas=self.personas)
        responder = o["response_backend"] or o["backend"]
        run_response_stage(
            prompts,
            self.stage_dir / SFT,
            ResponseConfig(samples=int(o["samples"]), seed=self.seed),
            _backend(responder),
            rlvr_out=self.stage_dir / RLVR,
            on_bad_row=self.on_bad_row,
        )
        for name in (SFT, RLVR):
            set_lineage(self.stage_dir / name, f"{self.stage_dir.name}/{name}")


def set_lineage(path: Path, label: str) -> None:
    """Synthesized rows name their file relative to the run folder, so a mix made from
    them does not depend on where the run folder is."""
    if not path.exists():
        return
    tmp = atomic_target(path)
    with open(path, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        for line_number, line in enumerate(src, start=1):
            row = json.loads(line)
            meta = json.loads(row["metadata"] or "{}")
            meta.setdefault("file", label)
            meta.setdefault("row", line_number)
            row["metadata"] = canonical_json(meta)
            dst.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


class Synth(Stage):
    TYPE = "synth"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "skills": REQUIRED,
        "per_skill": REQUIRED,
        "as": REQUIRED,
        "backend": REQUIRED,
        "response_backend": None,
        "personas": "builtin",
        "samples": Default("curate.synth.responses:ResponseConfig", "samples"),
        "decontam": None,
        "take": {"fraction": 1.0},
        "seed": None,
    }

    def tasks(self, ctx: StageContext) -> list[Task]:
        name = ctx.options["as"]
        if name in ctx.sources or f"{name}_rlvr" in ctx.sources:
            raise StageError(f"stage {ctx.name}: as: {name!r} already names a source")
        seed = ctx.options["seed"]
        personas = str(ctx.options["personas"])
        if personas != "builtin" and not personas.startswith("hf://"):
            personas = ctx.recipe.resolve(personas)
        return [
            SynthTask(
                ctx.options,
                ctx.recipe.mix.seed if seed is None else int(seed),
                ctx.stage_dir,
                personas,
                ctx.on_bad_row,
            )
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        from curate.synth.run import summary_path_for

        name = ctx.options["as"]
        prompts = json.loads(summary_path_for(ctx.stage_dir / PROMPTS).read_text())
        answers = json.loads(summary_path_for(ctx.stage_dir / SFT).read_text())
        sources = dict(ctx.sources)
        take = dict(ctx.options["take"])
        accounting = {"prompts": Accounting.from_dict(prompts["accounting"])}
        for kind, file, new_name in (("sft", SFT, name), ("rlvr", RLVR, f"{name}_rlvr")):
            acc = Accounting.from_dict(answers["accounting"][kind])
            accounting[f"{kind} answers"] = acc
            if acc.rows_out:
                sources[new_name] = SourceRef(
                    name=new_name, path=str(ctx.stage_dir / file), kind=kind, take=take
                )
        return StageResult(
            sources=sources,
            accounting=accounting,
            reports={
                "prompt summary": f"{ctx.stage_dir.name}/{PROMPTS}.summary.json",
                "answer summary": f"{ctx.stage_dir.name}/{SFT}.summary.json",
            },
            summary={"usage": {"prompts": prompts.get("usage"), "answers": answers.get("usage")}},
        )
