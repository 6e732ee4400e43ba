"""Reading a stage's input sources and writing its output sources, with accounting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from manifests import Accounting, RejectsWriter, read_rows
from skillmix.pipeline.sources import SourceRef
from skillmix.pipeline.stage import StageContext, StageError


def read_source(
    ref: SourceRef,
    on_bad_row: str,
    rejects: RejectsWriter,
    accounting: Accounting,
    lineage: str | None = None,
) -> Iterator[dict]:
    """The contract rows of a source, tagged with the source's name (and skill, if set);
    rows without lineage record `lineage` (StageContext.lineage) as their file."""
    return read_rows(
        ref.path,
        ref.kind,
        source=ref.name,
        skill=ref.skill,
        mapping=ref.mapping,
        on_bad_row=on_bad_row,
        rejects=rejects,
        accounting=accounting,
        lineage=lineage,
    )


def source_file(stage_dir: Path, name: str, suffix: str = ".jsonl") -> Path:
    return stage_dir / "sources" / f"{name}{suffix}"


def from_sources(ctx: StageContext) -> list[SourceRef]:
    """The sources a stage's `from` option names (one or a list), checked; its `as` must be
    a new source name."""
    names = ctx.options["from"]
    names = [names] if isinstance(names, str) else list(names)
    missing = [n for n in names if n not in ctx.sources]
    if missing:
        raise StageError(
            f"stage {ctx.name}: from: no source named {missing[0]!r} "
            f"(sources: {', '.join(ctx.sources)})"
        )
    if ctx.options["as"] in ctx.sources:
        raise StageError(f"stage {ctx.name}: as: {ctx.options['as']!r} already names a source")
    return [ctx.sources[n] for n in names]
