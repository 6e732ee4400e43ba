"""run/report.html: rows through the stages, the final mix, the contamination matrix, links."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

COLORS = {"out": "#2f7ed8", "rejected": "#d9534f"}
REMOVED_COLORS = ["#f0ad4e", "#8e6bbf", "#5bc0de", "#999999", "#c46f2f", "#6aa84f"]
BAR_WIDTH = 560

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.legend span{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
section{margin-top:2em}a{color:#2f7ed8}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _flow_svg(records: list[dict]) -> tuple[str, dict[str, str]]:
    """One bar per stage, as wide as its rows in, split into out / removed / rejected."""
    reasons = sorted({r for rec in records for r in rec["accounting"]["removed"]})
    colors = {r: REMOVED_COLORS[i % len(REMOVED_COLORS)] for i, r in enumerate(reasons)}
    widest = max([rec["accounting"]["rows_in"] for rec in records] + [1])
    row_h, label_w = 34, 190
    parts = []
    for i, rec in enumerate(records):
        acc = rec["accounting"]
        y = i * row_h
        parts.append(f'<text x="0" y="{y + 20}" font-size="13">{_esc(rec["stage"])}</text>')
        x = float(label_w)
        segments = [("out", acc["rows_out"], COLORS["out"])]
        segments += [(r, n, colors[r]) for r, n in sorted(acc["removed"].items())]
        segments.append(("rejected", acc["rejected"], COLORS["rejected"]))
        for label, n, color in segments:
            if n <= 0:
                continue
            w = BAR_WIDTH * n / widest
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 6}" width="{max(w, 1):.1f}" height="20" '
                f'fill="{color}"><title>{_esc(label)}: {n}</title></rect>'
            )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 20}" font-size="12" fill="#555">'
            f"in {acc['rows_in']} → out {acc['rows_out']}</text>"
        )
    height = max(len(records), 1) * row_h
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + BAR_WIDTH + 200}" '
        f'height="{height}">{"".join(parts)}</svg>'
    )
    return svg, colors


def _flow_table(records: list[dict]) -> str:
    rows = []
    for rec in records:
        acc = rec["accounting"]
        removed = ", ".join(f"{k}: {v}" for k, v in sorted(acc["removed"].items())) or "—"
        rows.append(
            f'<tr><td class="l">{_esc(rec["stage"])}</td><td class="l">'
            f"{_esc(rec['type'])}</td><td>{acc['rows_in']}</td><td>{acc['rows_out']}</td>"
            f'<td class="l">{_esc(removed)}</td><td>{acc["rejected"]}</td></tr>'
        )
    return (
        '<table><tr><th class="l">stage</th><th class="l">type</th><th>in</th><th>out</th>'
        f'<th class="l">removed (by reason)</th><th>rejected</th></tr>{"".join(rows)}</table>'
    )


def _heat(share: float) -> str:
    # White to red; anything above 2% (Tülu 3's contamination rule) is clearly red.
    level = min(1.0, share / 0.1)
    g = int(255 - 170 * level)
    return f"rgb(255,{g},{g})"


def _matrix_table(report_path: Path) -> str:
    report = json.loads(report_path.read_text())
    evals = list(report["evals"])
    head = "".join(f"<th>{_esc(e)}</th>" for e in evals)
    rows = []
    for source, shares in report["matrix"].items():
        cells = "".join(
            f'<td style="background:{_heat(shares[e])}">{shares[e]:.1%}</td>' for e in evals
        )
        rows.append(f'<tr><td class="l">{_esc(source)}</td>{cells}</tr>')
    return f'<table><tr><th class="l">source</th>{head}</tr>{"".join(rows)}</table>'


def _mix_table(manifest_path: Path) -> str:
    manifest = json.loads(manifest_path.read_text())
    sources = manifest.get("sources", {})
    items = sources.items() if isinstance(sources, dict) else ((s["name"], s) for s in sources)
    rows = []
    for name, info in items:
        dedup = info.get("deduplicated", {})
        dedup_cell = (
            f"{dedup.get('exact', 0)} exact, {dedup.get('minhash', 0)} near"
            if isinstance(dedup, dict)
            else dedup
        )
        values = [
            info.get("available"),
            info.get("selected"),
            dedup_cell,
            info.get("decontaminated"),
            info.get("rejected"),
        ]
        cells = "".join(f"<td>{_esc('' if v is None else v)}</td>" for v in values)
        rows.append(f'<tr><td class="l">{_esc(name)}</td>{cells}</tr>')
    head = "".join(
        f"<th>{k}</th>"
        for k in ("available", "selected", "deduplicated", "decontaminated", "rejected")
    )
    total = manifest.get("total_rows", "?")
    return (
        f"<p>{_esc(manifest.get('kind', ''))}: {_esc(total)} rows in "
        f"{len(manifest.get('shards', []))} shard(s).</p>"
        f'<table><tr><th class="l">source</th>{head}</tr>{"".join(rows)}</table>'
    )


def _preference_section(run_dir: Path, product: dict) -> str:
    """One preference stage: pool, judge, prompts in / pairs out / removed by reason, the
    requests per model, any note, and one pair as an example."""
    acc = product["accounting"]
    removed = ", ".join(f"{k}: {v}" for k, v in sorted(acc["removed"].items())) or "—"
    usage_rows = "".join(
        f'<tr><td class="l">{_esc(name)}</td><td>{u["requests"]}</td><td>{u["cached"]}</td>'
        f"<td>{u['failed']}</td><td>{u['retries']}</td></tr>"
        for name, u in sorted(product["usage"].items())
    )
    parts = [
        f"<section><h2>Preference pairs: {_esc(product['stage'])}</h2>",
        f"<p>Pool: {_esc(', '.join(product['pool']))}; judge: "
        f"{_esc(product['judge'] or 'none (verifier pairs only)')}. New source "
        f'<b>{_esc(product["source"])}</b>. <a href="{_esc(product["summary"])}">'
        "summary</a></p>",
        f'<table><tr><th>prompts in</th><th>pairs out</th><th class="l">removed (by '
        f"reason)</th><th>rejected</th></tr><tr><td>{acc['rows_in']}</td>"
        f'<td>{acc["rows_out"]}</td><td class="l">{_esc(removed)}</td>'
        f"<td>{acc['rejected']}</td></tr></table>",
        '<table><tr><th class="l">model</th><th>sent</th><th>from cache</th>'
        f"<th>failed</th><th>retries</th></tr>{usage_rows}</table>",
    ]
    parts += [f"<p><b>note:</b> {_esc(note)}</p>" for note in product.get("notes", [])]
    example = _first_pair(Path(product["pairs_file"]))
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
            f'<td class="l"><b>{name}</b> ({_esc(meta.get(model_key, "?"))}{_esc(scores)})'
            f"<br>{_esc(text)}</td>"
        )

    prompt = row["chosen"][-2]["content"] if len(row["chosen"]) > 1 else ""
    return (
        f"<p>Example pair, prompt: <i>{_esc(prompt[:300])}</i></p><table><tr>"
        f"{side('chosen', 'chosen_model', 'chosen_ratings')}"
        f"{side('rejected', 'rejected_model', 'rejected_ratings')}</tr></table>"
    )


def _links(run_dir: Path, records: list[dict]) -> str:
    items = []
    for rec in records:
        links = [
            f'<a href="{_esc(path)}">{_esc(label)}</a>'
            for label, path in sorted(rec.get("reports", {}).items())
        ]
        items.append(
            f"<li><b>{_esc(rec['stage'])}</b>: "
            f'<a href="{_esc(_stage_file(run_dir, rec))}">stage.json</a>'
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
    svg, colors = _flow_svg(records)
    legend = [("out", COLORS["out"]), *colors.items(), ("rejected", COLORS["rejected"])]
    legend_html = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{_esc(k)}</span>' for k, c in legend
    )
    body = [
        f"<h1>skillmix run: {_esc(name)}</h1>",
        f'<p class="sub">{_esc(run_dir)}</p>',
        "<section><h2>Rows through the stages</h2>",
        f'<div class="legend">{legend_html}</div>{svg}{_flow_table(records)}</section>',
    ]
    for mix in _last_product(records, "mixes") or []:
        if Path(mix["manifest"]).exists():
            rel = os.path.relpath(mix["manifest"], run_dir)
            body.append(
                f'<section><h2>Mix: {_esc(mix["stage"])}</h2><p><a href="{_esc(rel)}">'
                f"manifest.json</a></p>{_mix_table(Path(mix['manifest']))}</section>"
            )
    for product in _last_product(records, "preferences") or []:
        body.append(_preference_section(run_dir, product))
    contamination = _last_product(records, "contamination")
    if contamination and Path(contamination).exists():
        body.append(
            "<section><h2>Contamination matrix</h2><p>Share of each evaluation "
            "set's instances overlapped by each source.</p>"
            f"{_matrix_table(Path(contamination))}</section>"
        )
    body.append(f"<section><h2>Stage reports</h2>{_links(run_dir, records)}</section>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>skillmix run "
        f"{_esc(name)}</title><style>{STYLE}</style></head><body>{''.join(body)}"
        "</body></html>\n"
    )


def write_run_report(run_dir: Path, recipe: Any, records: list[dict]) -> Path:
    path = run_dir / "report.html"
    path.write_text(render_run_report(run_dir, recipe.name, records), encoding="utf-8")
    return path
