"""Stage `train`: SFT, DPO or RLVR on a mix that an earlier `mix` stage made."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting
from skillmix.pipeline.stage import REQUIRED, Stage, StageContext, StageError, StageResult, Task


class TrainTask(Task):
    def __init__(
        self, method: str, config_file: str | None, settings: dict[str, Any], summary_path: Path
    ) -> None:
        self.method, self.config_file, self.settings = method, config_file, settings
        self.summary_path = summary_path

    def run(self) -> None:
        import json

        from trainers import train_from_options

        summary = train_from_options(self.method, self.config_file, self.settings)
        self.summary_path.write_text(json.dumps(summary, sort_keys=True, default=str))


class Train(Stage):
    TYPE = "train"
    USES_EXECUTOR = False  # training scales out through accelerate / torchrun instead
    OPTIONS: ClassVar[dict[str, Any]] = {
        "method": "sft",
        "data": None,
        "model": REQUIRED,
        "config": None,
        "settings": {},
    }
    FILE_OPTIONS: ClassVar[tuple[str, ...]] = ("config",)

    def _mix(self, ctx: StageContext) -> dict:
        from trainers.recipes import RECIPES

        method = ctx.options["method"]
        if method not in RECIPES:
            raise StageError(f"stage {ctx.name}: method: expected one of {sorted(RECIPES)}")
        kind = RECIPES[method].row_kind
        wanted = ctx.options["data"]
        mixes = ctx.products.get("mixes", [])
        if wanted is not None:
            mixes = [m for m in mixes if m["stage"] == wanted]
        mixes = [m for m in mixes if m["kind"] == kind]
        if not mixes:
            raise StageError(
                f"stage {ctx.name}: no earlier {kind} mix stage"
                + (f" named {wanted!r}" if wanted else "")
            )
        return mixes[-1]

    def _model(self, ctx: StageContext, mix: dict) -> str:
        model = str(ctx.options["model"])
        if model != "tiny":
            return ctx.recipe.resolve(model) if Path(ctx.recipe.resolve(model)).exists() else model
        from manifests.shards import iter_shard_rows
        from manifests.text import row_text
        from trainers.tiny_model import build_tiny_model

        folder = ctx.stage_dir / "tiny-model"
        if not (folder / "config.json").exists():
            texts = (row_text(r, "all") for r in iter_shard_rows(mix["dir"]))
            build_tiny_model(texts, folder, seed=ctx.recipe.mix.seed)
        return str(folder)

    def tasks(self, ctx: StageContext) -> list[Task]:
        mix = self._mix(ctx)
        output = ctx.stage_dir / "model"
        settings = {
            **ctx.options["settings"],
            "data": mix["dir"],
            "output": str(output),
            "model": self._model(ctx, mix),
        }
        if any(output.glob("checkpoint-*")):  # interrupted: go on from the last checkpoint
            settings["resume"] = "latest"
        config = ctx.options["config"]
        return [
            TrainTask(
                ctx.options["method"],
                ctx.recipe.resolve(config) if config else None,
                settings,
                ctx.stage_dir / "summary.json",
            )
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        import json

        summary = json.loads((ctx.stage_dir / "summary.json").read_text())
        acc = Accounting.from_dict(summary["accounting"])
        return StageResult(
            sources=ctx.sources,
            accounting={"training data": acc},
            reports={
                "metrics": str((ctx.stage_dir / "model" / "metrics.jsonl").relative_to(ctx.run_dir))
            },
            products={"model": summary.get("output", str(ctx.stage_dir / "model"))},
            summary={k: summary.get(k) for k in ("steps", "final_loss", "output")},
        )
