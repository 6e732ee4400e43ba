"""run/report.html: each stage drawn by what it does. Filters as flows (in -> out, removed
by reason, rejected); mixes with their sources, upsampling and pictures of what they hold
(report_mix.py); training as its loss curve. Inline SVG (report_charts.py), no external
assets, every name escaped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from manifests.atomic import atomic_write_text
from skillmix.pipeline.report_charts import BLUE, DEFS, PALETTE, RED, clip, esc, line_chart
from skillmix.pipeline.report_data import load_length_counter, read_curve, whitespace_words
from skillmix.pipeline.report_mix import mix_section, stage_anchor

BAR_WIDTH = 560
MIX, TRAIN = "mix", "train"
# Stage types whose removals a mix table points back to (the column they fill).
EARLIER_STEPS = {"dedup": "dedup", "decontaminate": "decontaminate"}

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1240px}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}.muted{color:#888}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:middle}
th{background:#f4f4f4}td.l,th.l{text-align:left}.legend span{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
section{margin-top:2em}a{color:#2f7ed8}tr:target,section:target h2{background:#fff6d5}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0;width:min-content}
figcaption{font-size:.9em;color:#444;margin-bottom:.3em}.facts td{text-align:left}
"""


def _path(run_dir: Path, value: str | Path) -> Path:
    """Stage records hold paths absolute or relative to the run dir."""
    path = Path(value)
    return path if path.is_absolute() else run_dir / path


def _kind(record: dict) -> str:
    return record["type"] if record["type"] in (MIX, TRAIN) else "filter"


def _removed_text(acc: dict) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(acc["removed"].items())) or "—"


def _flow_svg(indexed: list[tuple[int, dict]]) -> tuple[str, dict[str, str]]:
    """One bar per filter stage, as wide as its rows in, split into out / removed / rejected."""
    records = [rec for _, rec in indexed]
    reasons = sorted({r for rec in records for r in rec["accounting"]["removed"]})
    colors = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}
    widest = max([rec["accounting"]["rows_in"] for rec in records] + [1])
    row_h, label_w = 34, 190
    parts = []
    for i, rec in enumerate(records):
        acc = rec["accounting"]
        y = i * row_h
        parts.append(
            f'<text x="0" y="{y + 20}" font-size="13">{esc(clip(rec["stage"]))}'
            f"<title>{esc(rec['stage'])}</title></text>"
        )
        x = float(label_w)
        segments = [("out", acc["rows_out"], BLUE)]
        segments += [(r, n, colors[r]) for r, n in sorted(acc["removed"].items())]
        segments.append(("rejected", acc["rejected"], RED))
        for label, n, color in segments:
            if n <= 0:
                continue
            w = BAR_WIDTH * n / widest
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 6}" width="{max(w, 1):.1f}" height="20" '
                f'fill="{color}"><title>{esc(label)}: {n:,}</title></rect>'
            )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 20}" font-size="12" fill="#555">'
            f"in {acc['rows_in']:,} → out {acc['rows_out']:,}</text>"
        )
    height = max(len(records), 1) * row_h
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + BAR_WIDTH + 200}" '
        f'height="{height}" font-family="system-ui,sans-serif" class="flows">'
        f"{''.join(parts)}</svg>"
    )
    return svg, colors


def _flow_table(indexed: list[tuple[int, dict]]) -> str:
    rows = []
    for index, rec in indexed:
        acc = rec["accounting"]
        rows.append(
            f'<tr id="{stage_anchor(index)}" class="flow"><td class="l">{esc(rec["stage"])}'
            f'</td><td class="l">{esc(rec["type"])}</td><td>{acc["rows_in"]:,}</td>'
            f'<td>{acc["rows_out"]:,}</td><td class="l">{esc(_removed_text(acc))}</td>'
            f"<td>{acc['rejected']:,}</td></tr>"
        )
    return (
        '<table><tr><th class="l">stage</th><th class="l">type</th><th>in</th><th>out</th>'
        f'<th class="l">removed (by reason)</th><th>rejected</th></tr>{"".join(rows)}</table>'
    )


def _overview(records: list[dict]) -> str:
    """Every stage in order, with what it did in its own terms and a link to its part."""
    rows = []
    for index, rec in enumerate(records):
        acc, summary = rec["accounting"], rec.get("summary") or {}
        kind = _kind(rec)
        if kind == TRAIN:
            loss = summary.get("final_loss")
            did = f"{summary.get('steps', '?')} steps" + (
                f", final loss {loss:.4g}" if isinstance(loss, int | float) else ""
            )
        elif kind == MIX:
            did = f"{acc['rows_in']:,} available → {summary.get('rows', acc['rows_out']):,} rows"
        else:
            did = f"in {acc['rows_in']:,} → out {acc['rows_out']:,}"
        rows.append(
            f'<tr><td class="l"><a href="#{stage_anchor(index)}">{esc(rec["stage"])}</a></td>'
            f'<td class="l">{esc(rec["type"])}</td><td class="l">{esc(did)}</td></tr>'
        )
    return (
        '<table class="overview"><tr><th class="l">stage</th><th class="l">type</th>'
        f'<th class="l">what it did</th></tr>{"".join(rows)}</table>'
    )


def _train_section(run_dir: Path, index: int, rec: dict) -> str:
    summary = rec.get("summary") or {}
    acc = rec["accounting"]
    metrics = rec.get("reports", {}).get("metrics")
    head = (
        f'<section id="{stage_anchor(index)}" class="train"><h2>Training: {esc(rec["stage"])}</h2>'
    )
    path = _path(run_dir, metrics) if metrics else None
    if path is None or not path.exists():
        return f'{head}<p class="muted">No metrics.jsonl was written.</p></section>'
    loss = read_curve(path, "loss")
    reward = read_curve(path, "reward/mean")
    last = loss.points[-1][1] if loss.points else summary.get("final_loss")
    facts = [
        ("method", (rec.get("options") or {}).get("method", "?")),
        ("steps", summary.get("steps", len(loss.points))),
        ("final loss", f"{last:.4f}" if isinstance(last, int | float) else "—"),
        ("tokens seen", f"{loss.tokens:,.0f}" if loss.tokens else "—"),
        ("training rows", f"{acc['rows_in']:,}"),
    ]
    rows = "".join(f'<tr><th class="l">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in facts)
    parts = [
        head,
        f'<table class="facts">{rows}</table>',
        f'<p><a href="{esc(metrics)}">metrics.jsonl</a>',
    ]
    if loss.unreadable:
        parts.append(
            f' <span class="muted">({loss.unreadable} line(s) without a step and a loss '
            "left out)</span>"
        )
    parts.append("</p>")
    if loss.points:
        parts.append(
            '<figure class="loss"><figcaption>Loss per step</figcaption>'
            f"{line_chart(loss.points, x_label='step', y_label='loss')}</figure>"
        )
    else:
        parts.append('<p class="muted">metrics.jsonl holds no loss values.</p>')
    if reward.points:
        parts.append(
            '<figure class="reward"><figcaption>Mean reward per step</figcaption>'
            f"{line_chart(reward.points, x_label='step', y_label='mean reward')}</figure>"
        )
    parts.append("</section>")
    return "".join(parts)


def _length_counter(run_dir: Path, records: list[dict]):
    """The tokenizer of the run's (last) train stage when it saved one, else words."""
    for rec in reversed(records):
        model = (rec.get("products") or {}).get("model") if rec["type"] == TRAIN else None
        if not model:
            continue
        try:
            return load_length_counter(_path(run_dir, model), rec["stage"])
        except Exception as err:  # tokenizers raises its own untyped errors on a bad file
            reason = clip(f"{type(err).__name__}: {err}", 120)
            return whitespace_words, f"whitespace words (the tokenizer did not load: {reason})"
    return whitespace_words, "whitespace words"


def _heat(share: float) -> str:
    # White to red; anything above 2% (Tülu 3's contamination rule) is clearly red.
    level = min(1.0, share / 0.1)
    g = int(255 - 170 * level)
    return f"rgb(255,{g},{g})"


def _matrix_table(report_path: Path) -> str:
    report = json.loads(report_path.read_text())
    evals = list(report["evals"])
    head = "".join(f"<th>{esc(e)}</th>" for e in evals)
    rows = []
    for source, shares in report["matrix"].items():
        cells = "".join(
            f'<td style="background:{_heat(shares[e])}">{shares[e]:.1%}</td>' for e in evals
        )
        rows.append(f'<tr><td class="l">{esc(source)}</td>{cells}</tr>')
    return f'<table><tr><th class="l">source</th>{head}</tr>{"".join(rows)}</table>'


def _preference_section(run_dir: Path, product: dict) -> str:
    """One preference stage: pool, judge, prompts in / pairs out / removed by reason, the
    requests per model, any note, and one pair as an example."""
    acc = product["accounting"]
    removed = ", ".join(f"{k}: {v}" for k, v in sorted(acc["removed"].items())) or "—"
    usage_rows = "".join(
        f'<tr><td class="l">{esc(name)}</td><td>{u["requests"]}</td><td>{u["cached"]}</td>'
        f"<td>{u['failed']}</td><td>{u['retries']}</td></tr>"
        for name, u in sorted(product["usage"].items())
    )
    parts = [
        f"<section><h2>Preference pairs: {esc(product['stage'])}</h2>",
        f"<p>Pool: {esc(', '.join(product['pool']))}; judge: "
        f"{esc(product['judge'] or 'none (verifier pairs only)')}. New source "
        f'<b>{esc(product["source"])}</b>. <a href="{esc(product["summary"])}">'
        "summary</a></p>",
        f'<table><tr><th>prompts in</th><th>pairs out</th><th class="l">removed (by '
        f"reason)</th><th>rejected</th></tr><tr><td>{acc['rows_in']}</td>"
        f'<td>{acc["rows_out"]}</td><td class="l">{esc(removed)}</td>'
        f"<td>{acc['rejected']}</td></tr></table>",
        '<table><tr><th class="l">model</th><th>sent</th><th>from cache</th>'
        f"<th>failed</th><th>retries</th></tr>{usage_rows}</table>",
    ]
    parts += [f"<p><b>note:</b> {esc(note)}</p>" for note in product.get("notes", [])]
    example = _first_pair(_path(run_dir, product["pairs_file"]))
    if example is not None:
        parts.append(example)
    parts.append("</section>")
    return "".join(parts)


def _first_pair(path: Path) -> str | None:
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as fh:
        line = fh.readline()
    if not line.strip():
        return None
    row = json.loads(line)
    meta = json.loads(row.get("metadata") or "{}")

    def side(name: str, model_key: str, ratings_key: str) -> str:
        ratings = meta.get(ratings_key)
        scores = (
            " · " + ", ".join(f"{k} {v:g}" for k, v in sorted(ratings.items()))
            if isinstance(ratings, dict)
            else ""
        )
        text = row[name][-1]["content"]
        text = text if len(text) <= 400 else text[:400] + "…"
        return (
            f'<td class="l"><b>{name}</b> ({esc(meta.get(model_key, "?"))}{esc(scores)})'
            f"<br>{esc(text)}</td>"
        )

    prompt = row["chosen"][-2]["content"] if len(row["chosen"]) > 1 else ""
    return (
        f"<p>Example pair, prompt: <i>{esc(prompt[:300])}</i></p><table><tr>"
        f"{side('chosen', 'chosen_model', 'chosen_ratings')}"
        f"{side('rejected', 'rejected_model', 'rejected_ratings')}</tr></table>"
    )


def _links(run_dir: Path, records: list[dict]) -> str:
    items = []
    for rec in records:
        links = [
            f'<a href="{esc(path)}">{esc(label)}</a>'
            for label, path in sorted(rec.get("reports", {}).items())
        ]
        items.append(
            f"<li><b>{esc(rec['stage'])}</b>: "
            f'<a href="{esc(_stage_file(run_dir, rec))}">stage.json</a>'
            f"{' · ' if links else ''}{' · '.join(links)}</li>"
        )
    return f"<ul>{''.join(items)}</ul>"


def _stage_file(run_dir: Path, rec: dict) -> str:
    for folder in sorted(run_dir.iterdir()):
        if folder.is_dir() and folder.name.endswith(f"-{rec['stage']}"):
            return f"{folder.name}/stage.json"
    return ""


def _last_product(records: list[dict], key: str) -> Any:
    for rec in reversed(records):
        if key in rec.get("products", {}):
            return rec["products"][key]
    return None


def render_run_report(run_dir: Path, name: str, records: list[dict]) -> str:
    indexed = list(enumerate(records))
    filters = [(i, r) for i, r in indexed if _kind(r) == "filter"]
    body = [
        DEFS,
        f"<h1>skillmix run: {esc(name)}</h1>",
        f'<p class="sub">{esc(run_dir)}</p>',
        f"<section><h2>Stages</h2>{_overview(records)}</section>",
    ]
    if filters:
        svg, colors = _flow_svg(filters)
        legend = [("out", BLUE), *colors.items(), ("rejected", RED)]
        legend_html = "".join(
            f'<span><i class="sw" style="background:{c}"></i>{esc(k)}</span>' for k, c in legend
        )
        body.append(
            "<section><h2>Rows through the filters</h2>"
            f'<div class="legend">{legend_html}</div>{svg}{_flow_table(filters)}</section>'
        )
    counter, unit = _length_counter(run_dir, records)
    for index, rec in indexed:
        if _kind(rec) == MIX:
            product = (rec.get("products") or {}).get("mix") or {}
            mix_dir = _path(run_dir, product.get("dir", ""))
            if not (product and (mix_dir / "manifest.json").exists()):
                body.append(
                    f'<section id="{stage_anchor(index)}"><h2>Mix: {esc(rec["stage"])}</h2>'
                    f'<p class="muted">Its manifest.json is gone ({esc(mix_dir)}).</p></section>'
                )
            else:
                earlier = {
                    step: [(i, r) for i, r in indexed[:index] if r["type"] == stype]
                    for stype, step in EARLIER_STEPS.items()
                }
                body.append(mix_section(run_dir, index, rec, mix_dir, earlier, counter, unit))
        elif _kind(rec) == TRAIN:
            body.append(_train_section(run_dir, index, rec))
    for product in _last_product(records, "preferences") or []:
        body.append(_preference_section(run_dir, product))
    contamination = _last_product(records, "contamination")
    if contamination and _path(run_dir, contamination).exists():
        body.append(
            "<section><h2>Contamination matrix</h2><p>Share of each evaluation "
            "set's instances overlapped by each source.</p>"
            f"{_matrix_table(_path(run_dir, contamination))}</section>"
        )
    body.append(f"<section><h2>Stage reports</h2>{_links(run_dir, records)}</section>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>skillmix run "
        f"{esc(name)}</title><style>{STYLE}</style></head><body>{''.join(body)}"
        "</body></html>\n"
    )


def write_run_report(run_dir: Path, recipe: Any, records: list[dict]) -> Path:
    path = run_dir / "report.html"
    atomic_write_text(path, render_run_report(run_dir, recipe.name, records))
    return path
