"""One mix's section of the run report: per source available -> selected (+ repeated),
where earlier stages deduplicated or decontaminated, and pictures of what the mix holds."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from skillmix.pipeline.report_charts import (
    BLUE,
    GREY,
    esc,
    histogram,
    segments_bar,
    share_bars,
)
from skillmix.pipeline.report_data import bin_counts, profile_mix

SOURCE_BAR_WIDTH = 200


def stage_anchor(index: int) -> str:
    return f"stage-{index}"


def _removed(acc: dict) -> int:
    return sum(acc.get("removed", {}).values())


def _earlier_cell(own: int | None, ran_here: bool, earlier: list[tuple[int, dict]], name: str):
    """The mix's own count when the mix did this step; else links to the earlier stages
    that did it, with what they removed from this source; else "not run"."""
    if ran_here:
        return esc(own or 0)
    if not earlier:
        return '<span class="muted">not run</span>'
    links = []
    for index, rec in earlier:
        acc = rec.get("per_source", {}).get(name)
        removed = _removed(acc) if acc is not None else None
        count = "" if removed is None else f" −{removed:,}" if removed else " (0 here)"
        links.append(
            f'<a href="#{stage_anchor(index)}" class="earlier">{esc(rec["stage"])}</a>{count}'
        )
    return "earlier: " + ", ".join(links)


def _source_rows(manifest: dict, earlier: dict[str, list[tuple[int, dict]]]) -> tuple[str, int]:
    recipe = manifest.get("recipe") or {}
    dedup = recipe.get("dedup") or {}
    dedup_here = bool(dedup.get("exact")) or bool(dedup.get("minhash"))
    decontam_here = bool(recipe.get("decontaminate") or manifest.get("decontamination"))
    entries = manifest.get("sources") or []
    if isinstance(entries, dict):
        entries = [{"name": k, **v} for k, v in entries.items()]
    widest = max([max(e.get("available", 0), _rows_out(e)) for e in entries] + [1])
    scale = SOURCE_BAR_WIDTH / widest
    rows, upsampled = [], 0
    for e in entries:
        available, selected = e.get("available", 0), e.get("selected", 0)
        out = _rows_out(e)
        repeated = max(out - selected, 0)
        upsampled += repeated
        factor = out / selected if selected else 0.0
        bar = segments_bar(
            [
                ("selected", selected, BLUE),
                ("repeated by upsampling", repeated, "hatch"),
                ("available, not drawn", max(available - selected, 0), GREY),
            ],
            scale=scale,
            width=SOURCE_BAR_WIDTH + 4,
        )
        factor_cell = (
            f'<b class="factor">×{factor:.2f}</b> (+{repeated:,})'
            if repeated
            else ("×1" if selected else "—")
        )
        own_dedup = sum((e.get("deduplicated") or {}).values())
        name = e["name"]
        dedup_cell = _earlier_cell(own_dedup, dedup_here, earlier["dedup"], name)
        decontam_cell = _earlier_cell(
            e.get("decontaminated"), decontam_here, earlier["decontaminate"], name
        )
        cells = [
            f'<td class="l">{esc(name)}</td>',
            f'<td class="l">{esc(e.get("skill") or "—")}</td>',
            f"<td>{available:,}</td><td>{selected:,}</td><td>{out:,}</td>",
            f'<td class="l">{factor_cell}</td><td class="l">{bar}</td>',
            f'<td class="l">{dedup_cell}</td><td class="l">{decontam_cell}</td>',
            f"<td>{e.get('rejected', 0):,}</td>",
        ]
        rows.append(f'<tr class="source">{"".join(cells)}</tr>')
    head = (
        '<tr><th class="l">source</th><th class="l">skill</th><th>available</th>'
        '<th>selected</th><th>rows in mix</th><th class="l">upsampling</th>'
        '<th class="l">selected / repeated / not drawn</th><th class="l">deduplicated</th>'
        '<th class="l">decontaminated</th><th>rejected</th></tr>'
    )
    return f"<table>{head}{''.join(rows)}</table>", upsampled


def _rows_out(entry: dict) -> int:
    if "rows_out" in entry:
        return int(entry["rows_out"])
    return round(entry.get("selected", 0) * float(entry.get("upsample_factor") or 1.0))


def _pictures(mix_dir: Path, manifest: dict, counter, unit: str) -> str:
    profile = profile_mix(mix_dir, manifest, counter, unit)
    axis = profile.unit.split(" (", 1)[0]  # the caption carries the rest
    side = " (chosen side)" if manifest.get("kind") == "preference" else ""
    sample = (
        f" (an evenly spaced sample of {profile.profiled:,} of {profile.total:,} rows)"
        if profile.profiled < profile.total
        else ""
    )
    return (
        '<div class="charts">'
        f'<figure class="skills"><figcaption>Rows per skill</figcaption>'
        f"{share_bars(profile.skills, total=profile.total)}</figure>"
        f'<figure class="lengths"><figcaption>Length per row{side}, in {esc(profile.unit)}{sample}'
        f"</figcaption>{histogram(bin_counts(profile.lengths), x_label=axis)}</figure>"
        f'<figure class="turns"><figcaption>Turns per row{side}{sample}</figcaption>'
        f"{histogram(bin_counts(profile.turns), x_label='turns')}</figure></div>"
    )


def mix_section(
    run_dir: Path,
    index: int,
    record: dict,
    mix_dir: Path,
    earlier: dict[str, list[tuple[int, dict]]],
    counter,
    unit: str,
) -> str:
    manifest = json.loads((mix_dir / "manifest.json").read_text(encoding="utf-8"))
    table, upsampled = _source_rows(manifest, earlier)
    selected = sum(e.get("selected", 0) for e in manifest.get("sources") or [])
    available = sum(e.get("available", 0) for e in manifest.get("sources") or [])
    rel = Path(mix_dir, "manifest.json")
    rel = rel.relative_to(run_dir) if rel.is_relative_to(run_dir) else rel
    parts = [
        f'<section id="{stage_anchor(index)}" class="mix"><h2>Mix: {esc(record["stage"])}</h2>',
        f"<p>{esc(manifest.get('kind', ''))}: <b>{manifest.get('total_rows', 0):,}</b> rows in "
        f"{len(manifest.get('shards', []))} shard(s) = {selected:,} selected of "
        f"{available:,} available + {upsampled:,} repeated by upsampling. "
        f'<a href="{esc(rel.as_posix())}">manifest.json</a></p>',
        '<p class="legend"><span><i class="sw" style="background:#2f7ed8"></i>selected</span>'
        '<span><svg width="12" height="12"><rect width="12" height="12" fill="url(#hatch)"/>'
        "</svg> repeated by upsampling</span>"
        '<span><i class="sw" style="background:#d8d8d8"></i>available, not drawn</span></p>',
        table,
    ]
    if manifest.get("total_rows"):
        try:
            parts.append(_pictures(mix_dir, manifest, counter, unit))
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as err:
            # The page must still be written: say what could not be read instead.
            parts.append(
                f'<p class="muted">The shards could not be read for the pictures: '
                f"{esc(type(err).__name__)}: {esc(err)}</p>"
            )
    parts.append("</section>")
    return "".join(parts)
