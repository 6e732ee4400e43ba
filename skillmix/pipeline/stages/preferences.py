"""Stage `preferences`: on-policy preference pairs for the prompts of some sources.

The prompts of the `from` sources (any kind: the turns up to the last user turn) are
answered by every model of the `pool`, rated by the `judge` (or, for prompts with a known
check, scored by their verifier) and paired, as `skillmix synth --preferences` does. The
request cache lives in the stage folder, so a killed run asks nothing answered again.
The pairs become a new `preference` source (`as`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting, BadRowError, RejectsWriter, read_rows
from manifests.rejects import REJECTS_NAME
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
from skillmix.pipeline.stages._io import from_sources
from skillmix.pipeline.stages.synth import set_lineage

PROMPTS = "prompts.jsonl"
PAIRS = "pairs.jsonl"
READ = "read_accounting.json"


class PreferencesTask(Task):
    def __init__(
        self,
        name: str,
        refs: list[SourceRef],
        options: dict[str, Any],
        seed: int,
        stage_dir: Path,
        on_bad_row: str,
        lineage: dict[str, str] | None = None,
    ) -> None:
        self.name, self.refs, self.options, self.seed = name, refs, options, seed
        self.stage_dir, self.on_bad_row = stage_dir, on_bad_row
        self.lineage = lineage or {}

    def run(self) -> None:
        from curate.backends import SamplingParams
        from curate.synth.preferences import PreferenceConfig
        from curate.synth.run import run_preference_stage

        o = self.options
        self._write_prompts(o["max_prompts"])
        config = PreferenceConfig(
            samples=int(o["samples"]),
            seed=self.seed,
            params=SamplingParams(
                temperature=float(o["temperature"]), max_tokens=int(o["max_tokens"])
            ),
            judge_retries=int(o["judge_retries"]),
            min_margin=float(o["min_margin"]),
            keep_truncated=bool(o["keep_truncated"]),
            source=o["as"],
        )
        pool = [_backend(member) for member in o["pool"]]
        judge = _backend(o["judge"]) if o["judge"] else None
        try:
            run_preference_stage(
                self.stage_dir / PROMPTS,
                self.stage_dir / PAIRS,
                config,
                pool,
                judge,
                on_bad_row=self.on_bad_row,
            )
        except BadRowError:
            raise
        except ValueError as exc:  # no pairs, no judge, a pool twice: one named line
            raise StageError(f"stage {self.name}: {exc}") from None
        set_lineage(self.stage_dir / PAIRS, f"{self.stage_dir.name}/{PAIRS}")

    def _write_prompts(self, limit: int | None) -> None:
        """The prompts of every input source in one file, the first `limit` of them."""
        acc = Accounting()
        target = self.stage_dir / PROMPTS
        tmp = atomic_target(target)
        with (
            RejectsWriter(self.stage_dir / REJECTS_NAME) as rejects,
            open(tmp, "w", encoding="utf-8") as fh,
        ):
            for ref in self.refs:
                for row in read_rows(
                    ref.path,
                    "prompt",
                    source=ref.name,
                    skill=ref.skill,
                    mapping=ref.mapping,
                    on_bad_row=self.on_bad_row,
                    rejects=rejects,
                    accounting=acc,
                    lineage=self.lineage.get(ref.name),
                ):
                    if limit is not None and acc.rows_out > limit:
                        acc.rows_out -= 1
                        acc.remove("beyond_max_prompts")
                        continue
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(target)
        (self.stage_dir / READ).write_text(json.dumps(acc.to_dict(), sort_keys=True))


def _backend(options: Any) -> Any:
    from curate.backends.factory import BackendOptions

    if not isinstance(options, dict) or not options.get("model"):
        raise StageError(f"a backend needs a mapping with a model, got {options!r}")
    try:
        return BackendOptions(**options)
    except TypeError as exc:
        raise StageError(f"backend {options!r}: {exc}") from None


class Preferences(Stage):
    TYPE = "preferences"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "from": REQUIRED,
        "as": REQUIRED,
        "pool": REQUIRED,
        "judge": None,
        "samples": Default("curate.synth.preferences:PreferenceConfig", "samples"),
        "temperature": Default("curate.synth.preferences:PreferenceConfig", "params.temperature"),
        "max_tokens": Default("curate.synth.preferences:PreferenceConfig", "params.max_tokens"),
        "min_margin": Default("curate.synth.preferences:PreferenceConfig", "min_margin"),
        "judge_retries": Default("curate.synth.preferences:PreferenceConfig", "judge_retries"),
        "keep_truncated": Default("curate.synth.preferences:PreferenceConfig", "keep_truncated"),
        "max_prompts": None,
        "take": {"fraction": 1.0},
        "seed": None,
    }

    def _inputs(self, ctx: StageContext) -> list[SourceRef]:
        refs = from_sources(ctx)
        pool = ctx.options["pool"]
        if not isinstance(pool, list) or not pool:
            raise StageError(
                f"stage {ctx.name}: pool: expected a list of backends "
                "({model: ..., base_url: ...})"
            )
        for member in [*pool, *([ctx.options["judge"]] if ctx.options["judge"] else [])]:
            try:
                _backend(member)
            except StageError as exc:
                raise StageError(f"stage {ctx.name}: {exc}") from None
        return refs

    def tasks(self, ctx: StageContext) -> list[Task]:
        seed = ctx.options["seed"]
        refs = self._inputs(ctx)
        return [
            PreferencesTask(
                ctx.name,
                refs,
                ctx.options,
                ctx.recipe.mix.seed if seed is None else int(seed),
                ctx.stage_dir,
                ctx.on_bad_row,
                {ref.name: ctx.lineage(ref.path) for ref in refs},
            )
        ]

    def finish(self, ctx: StageContext) -> StageResult:
        from curate.synth.run import summary_path_for

        name = ctx.options["as"]
        read = Accounting.from_dict(json.loads((ctx.stage_dir / READ).read_text()))
        summary = json.loads(summary_path_for(ctx.stage_dir / PAIRS).read_text())
        pairs = Accounting.from_dict(summary["accounting"])
        total = read.then(pairs)
        sources = dict(ctx.sources)
        sources[name] = SourceRef(
            name=name,
            path=str(ctx.stage_dir / PAIRS),
            kind="preference",
            take=dict(ctx.options["take"]),
        )
        summary_rel = f"{ctx.stage_dir.name}/{PAIRS}.summary.json"
        product = {
            "stage": ctx.name,
            "source": name,
            "pairs": pairs.rows_out,
            "pairs_file": str(ctx.stage_dir / PAIRS),
            "summary": summary_rel,
            "pool": [m["model"] for m in summary["pool"]],
            "judge": (summary["judge"] or {}).get("model"),
            "accounting": total.to_dict(),
            "usage": summary["usage"],
            "notes": summary["notes"],
        }
        return StageResult(
            sources=sources,
            accounting={"preferences": total},
            reports={"preference summary": summary_rel},
            products={"preferences": [*ctx.products.get("preferences", []), product]},
            summary={
                "new_source": name,
                "pairs": pairs.rows_out,
                "usage": summary["usage"],
                "notes": summary["notes"],
            },
        )
