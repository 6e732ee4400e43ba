"""What every pipeline stage is: checked options, tasks that write atomically, a result."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from manifests import Accounting
from skillmix.defaults import field_default
from skillmix.pipeline.locations import Locations
from skillmix.pipeline.sources import Sources

REQUIRED = object()


@dataclass(frozen=True)
class Default:
    """An option's default read from the room that owns it ("module:Config", field), when the
    stage's options are checked: the room's config class stays the one place it is written."""

    config: str
    field: str

    def value(self) -> Any:
        return field_default(self.config, self.field)


class StageError(ValueError):
    """A problem with a stage's options or inputs; the message names the stage and key."""


@dataclass
class StageContext:
    run_dir: Path
    stage_dir: Path
    name: str
    options: dict[str, Any]
    sources: Sources
    products: dict[str, Any]  # what earlier stages made: {"mix": {...}, "mixes": [...], ...}
    recipe: Any  # skillmix.pipeline.recipe.RunRecipe
    on_bad_row: str = "error"
    workers: int = 1

    def lineage(self, path: str) -> str:
        """The file name rows read from `path` record: relative to the recipe's folder (or,
        for a file a stage made, to the run dir), so equal runs write equal rows."""
        return Locations.of(self.run_dir, self.recipe.base_dir).lineage(path)


@dataclass
class StageResult:
    sources: Sources
    accounting: dict[str, Accounting] = field(default_factory=dict)  # per source (or "all")
    reports: dict[str, str] = field(default_factory=dict)  # label -> path relative to run dir
    products: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def total(self) -> Accounting:
        total = Accounting()
        for acc in self.accounting.values():
            total.merge(acc)
        return total


class Task:
    """One unit of a stage's work, run by an executor (possibly in another process)."""

    def run(self) -> None:
        raise NotImplementedError


class Stage:
    TYPE: ClassVar[str]
    OPTIONS: ClassVar[dict[str, Any]] = {}
    FILE_OPTIONS: ClassVar[tuple[str, ...]] = ()  # options naming files whose content counts
    USES_EXECUTOR: ClassVar[bool] = True  # data stages run on the datatrove executor

    @classmethod
    def check_options(cls, where: str, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            allowed = ", ".join(sorted(cls.OPTIONS)) or "none"
            raise StageError(
                f"{where}.{unknown[0]}: unknown option for stage {cls.TYPE!r} (allowed: {allowed})"
            )
        resolved = {}
        for key, default in cls.OPTIONS.items():
            if key in options:
                resolved[key] = options[key]
            elif default is REQUIRED:
                raise StageError(f"{where}.{key}: required by stage {cls.TYPE!r}")
            else:
                resolved[key] = default.value() if isinstance(default, Default) else default
        return resolved

    @classmethod
    def option_paths(cls, value: Any) -> list[str]:
        """The file paths a FILE_OPTIONS value names (a path, a list of them, or none)."""
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]

    def prepare(self, ctx: StageContext) -> None:
        """Work on the driver before the tasks (e.g. training a model the tasks apply)."""

    def tasks(self, ctx: StageContext) -> list[Task]:
        raise NotImplementedError

    def finish(self, ctx: StageContext) -> StageResult:
        raise NotImplementedError


def atomic_target(path: Path) -> Path:
    """A temporary name beside `path` (same suffix); `os.replace` it onto `path` when whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")
