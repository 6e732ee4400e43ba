"""Run recipes: a mix recipe plus the stages that lead to it (and past it, to training).

```yaml
name: demo
seed: 42
kind: sft
sources: [...]                 # as in a mix recipe (mixers/recipe.py)
total: 2000
stages:
  - augment_if: {from: [alpaca], as: if_prompts}
  - tag: {train: data/demo/skill_labels.jsonl}
  - decontaminate: {evals: [humaneval]}
  - dedup: {}
  - mix: {}
  - train: {method: sft, model: {tiny: true}}
run_dir: runs/demo             # optional; default runs/<name>
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixers.recipe import Recipe, RecipeError, parse_recipe
from skillmix.pipeline.safety import check_name, load_yaml
from skillmix.pipeline.sources import SourceRef, Sources
from skillmix.pipeline.stage import StageError
from skillmix.pipeline.stages import STAGES

RUN_KEYS = ("stages", "run_dir")


@dataclass(frozen=True)
class StageSpec:
    index: int
    type: str
    name: str
    options: dict[str, Any]

    @property
    def folder(self) -> str:
        return f"{self.index:02d}-{self.name}"


@dataclass(frozen=True)
class RunRecipe:
    name: str
    mix_data: dict[str, Any]  # the mix recipe's own keys, as written
    mix: Recipe
    stages: tuple[StageSpec, ...]
    run_dir: Path
    base_dir: Path
    origin: str

    def initial_sources(self) -> Sources:
        refs = [
            SourceRef(
                name=s.name,
                path=self.mix.source_path(s),
                kind=self.mix.kind,
                take=s.take.to_dict(),
                skill=s.skill,
                mapping=s.mapping,
            )
            for s in self.mix.sources
        ]
        return {ref.name: ref for ref in refs}

    def resolve(self, path: str) -> str:
        """A path from the recipe, relative to the recipe's folder."""
        if path.startswith("hf://") or Path(path).is_absolute():
            return path
        return str((self.base_dir / path).resolve())


def _parse_stages(origin: str, value: Any) -> tuple[StageSpec, ...]:
    if value is None:
        raise StageError(f"{origin}: stages: expected a list of stages")
    if not isinstance(value, list) or not value:
        raise StageError(f"{origin}: stages: expected a non-empty list")
    specs: list[StageSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(value):
        where = f"{origin}: stages[{i}]"
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise StageError(f"{where}: expected one `type: {{options}}` mapping")
        ((stage_type, options),) = entry.items()
        if stage_type not in STAGES:
            raise StageError(
                f"{where}: unknown stage {stage_type!r} (known: {', '.join(sorted(STAGES))})"
            )
        options = dict(options or {})
        if not isinstance(options, dict):
            raise StageError(f"{where}.{stage_type}: expected a mapping of options")
        name = check_name(f"{where}.name", str(options.pop("name", stage_type)))
        if name in seen:
            raise StageError(f"{where}.name: {name!r} is used twice; give the stage a name")
        seen.add(name)
        resolved = STAGES[stage_type].check_options(f"{where}.{stage_type}", options)
        specs.append(StageSpec(i, stage_type, name, resolved))
    return tuple(specs)


def parse_run_recipe(data: Any, *, origin: str, base_dir: Path) -> RunRecipe:
    if not isinstance(data, dict):
        raise RecipeError(f"{origin}: expected a mapping at the top")
    mix_data = {k: v for k, v in data.items() if k not in RUN_KEYS}
    mix = parse_recipe(mix_data, origin=origin, base_dir=base_dir)
    check_name(f"{origin}: name", str(mix.name))
    stages = _parse_stages(origin, data.get("stages"))
    run_dir = Path(data.get("run_dir") or Path("runs") / mix.name)
    if not run_dir.is_absolute():
        run_dir = base_dir / run_dir if "run_dir" in data else Path.cwd() / run_dir
    return RunRecipe(mix.name, mix_data, mix, stages, run_dir, base_dir, origin)


def load_run_recipe(path: str | Path) -> RunRecipe:
    path = Path(path)
    return parse_run_recipe(load_yaml(path), origin=str(path), base_dir=path.resolve().parent)
