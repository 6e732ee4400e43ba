"""Stage `mix`: the recipe's weighted mix of the current sources, as shards + manifest.

By default it mixes every source of the recipe's kind with the recipe's own mix keys
(total, tokens, dedup, decontaminate, shards); options override them for this stage, so
one run can also make, say, an `rlvr` mix of the prompts an `augment_if` stage wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from skillmix.pipeline.sources import Sources
from skillmix.pipeline.stage import Stage, StageContext, StageError, StageResult, Task

MIX_KEYS = ("total", "tokens", "dedup", "decontaminate", "shards")
OUT = "mix"


class MixTask(Task):
    def __init__(
        self,
        recipe_data: dict,
        base_dir: Path,
        origin: str,
        out_dir: Path,
        tokenizer: str | None,
        on_bad_row: str,
        workers: int,
    ) -> None:
        self.recipe_data, self.base_dir, self.origin = recipe_data, base_dir, origin
        self.out_dir, self.tokenizer = out_dir, tokenizer
        self.on_bad_row, self.workers = on_bad_row, workers

    def run(self) -> None:
        from mixers import mix
        from mixers.recipe import parse_recipe

        recipe = parse_recipe(self.recipe_data, origin=self.origin, base_dir=self.base_dir)
        result = mix(
            recipe,
            self.out_dir,
            tokenizer=self.tokenizer,
            on_bad_row=self.on_bad_row,
            workers=self.workers,
        )
        (self.out_dir.parent / "mix_accounting.json").write_text(
            json.dumps(result.accounting.to_dict(), sort_keys=True)
        )


def _from_recipe_dir(path: str, base_dir: Path) -> str:
    """A source's path as the mixer's recipe (and its manifest) records it: relative to the
    recipe's folder, like the recipe's own sources, so equal runs write equal manifests."""
    if path.startswith("hf://"):
        return path
    return Path(os.path.relpath(os.path.normpath(path), base_dir)).as_posix()


class Mix(Stage):
    TYPE = "mix"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "kind": None,
        "sources": None,
        "total": None,
        "tokens": None,
        "dedup": None,
        "decontaminate": None,
        "shards": None,
        "tokenizer": None,
    }

    def _sources(self, ctx: StageContext, kind: str) -> Sources:
        names = ctx.options["sources"]
        if names is None:
            return {n: s for n, s in ctx.sources.items() if s.kind == kind}
        missing = [n for n in names if n not in ctx.sources]
        if missing:
            raise StageError(f"stage {ctx.name}: sources: no source named {missing[0]!r}")
        wrong = [n for n in names if ctx.sources[n].kind != kind]
        if wrong:
            raise StageError(
                f"stage {ctx.name}: sources: {wrong[0]!r} holds "
                f"{ctx.sources[wrong[0]].kind} rows, not {kind}"
            )
        return {n: ctx.sources[n] for n in names}

    def recipe_data(self, ctx: StageContext) -> dict:
        base = ctx.recipe.mix_data
        kind = ctx.options["kind"] or base["kind"]
        sources = self._sources(ctx, kind)
        if not sources:
            raise StageError(f"stage {ctx.name}: no {kind} sources to mix")
        data: dict[str, Any] = {
            "name": base["name"] if ctx.name == "mix" else f"{base['name']}-{ctx.name}",
            "seed": base.get("seed", 0),
            "kind": kind,
            "sources": [
                {
                    "name": s.name,
                    "path": _from_recipe_dir(s.path, ctx.recipe.base_dir),
                    "skill": s.skill,
                    "take": s.take,
                    **({"mapping": s.mapping} if s.mapping else {}),
                }
                for s in sources.values()
            ],
        }
        for key in MIX_KEYS:
            value = ctx.options[key] if ctx.options[key] is not None else base.get(key)
            if value is not None:
                data[key] = value
        weighted = any("weight" in s.take for s in sources.values())
        if not weighted:  # a total only shares weights out; without weights it is moot
            data.pop("total", None)
            data.pop("tokens", None)
        return data

    def tasks(self, ctx: StageContext) -> list[Task]:
        tokenizer = ctx.options["tokenizer"]
        return [
            MixTask(
                self.recipe_data(ctx),
                ctx.recipe.base_dir,
                f"{ctx.recipe.origin} (stage {ctx.name})",
                ctx.stage_dir / OUT,
                ctx.recipe.resolve(tokenizer) if tokenizer else None,
                ctx.on_bad_row,
                ctx.workers,
            )
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        from mixers.mix import source_accounting

        out = ctx.stage_dir / OUT
        manifest = json.loads((out / "manifest.json").read_text())
        accounting = {e["name"]: source_accounting(e) for e in manifest["sources"]}
        product = {
            "stage": ctx.name,
            "kind": manifest["kind"],
            "dir": str(out),
            "manifest": str(out / "manifest.json"),
            "rows": manifest["total_rows"],
        }
        mixes = [*ctx.products.get("mixes", []), product]
        reports = {"manifest": str((out / "manifest.json").relative_to(ctx.run_dir))}
        decontam = manifest.get("decontamination") or {}
        if decontam.get("report_path"):
            reports["mix contamination report"] = str(
                (out / decontam["report_path"]).with_name("report.html").relative_to(ctx.run_dir)
            )
        return StageResult(
            sources=ctx.sources,
            accounting=accounting,
            reports=reports,
            products={"mix": product, "mixes": mixes},
            summary={"rows": manifest["total_rows"], "shards": len(manifest["shards"])},
        )
