"""report.html: one self-contained page (inline CSS, no scripts, no external files)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from decontam.spans import KINDS

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:10px 0 22px}
.box{border:1px solid #ccc;border-radius:4px;padding:8px;white-space:pre-wrap;
 font-family:ui-monospace,monospace;font-size:12px;max-height:260px;overflow:auto}
.meta{font-size:13px;color:#555;margin-top:14px}
mark{background:#ffd54a}
.cfg{font-size:12px;color:#555}
.k-exact{background:#c62828;color:#fff}.k-near-verbatim{background:#ef6c00;color:#fff}
.k-partial{background:#fff3c4}
.tag{border-radius:3px;padding:1px 6px;font-size:12px}
"""


def _heat(share: float) -> str:
    # white at 0, deep red at >= 50%
    level = min(share / 0.5, 1.0)
    green_blue = int(255 - 200 * level)
    return f"background:rgb(255,{green_blue},{green_blue})"


def highlight(text: str, spans: list[list[int]]) -> str:
    """`text` escaped for HTML with each [start, end) span wrapped in <mark>."""
    out, cursor = [], 0
    for start, end in sorted(spans):
        out.append(escape(text[cursor:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        cursor = end
    out.append(escape(text[cursor:]))
    return "".join(out)


def _matrix_table(report: dict) -> str:
    evals = list(report["evals"])
    threshold = report["config"]["source_threshold"]
    head = "".join(f"<th>{escape(e)}</th>" for e in evals)
    rows = []
    for source, shares in report["matrix"].items():
        cells = "".join(
            f'<td style="{_heat(shares[e])}">{"<b>" if shares[e] > threshold else ""}'
            f"{100 * shares[e]:.1f}%{'</b>' if shares[e] > threshold else ''}</td>"
            for e in evals
        )
        rows.append(f'<tr><th class="l">{escape(source)}</th>{cells}</tr>')
    return f'<table><tr><th class="l">source \\ eval</th>{head}</tr>{"".join(rows)}</table>'


def _counts(report: dict) -> str:
    evals = "".join(
        f'<tr><td class="l">{escape(name)}</td><td>{e["instances"]}</td>'
        f'<td>{e["contaminated"]}</td><td>{100 * e["contaminated_share"]:.1f}%</td>'
        + "".join(f"<td>{e.get('by_kind', {}).get(k, 0)}</td>" for k in KINDS)
        + f"<td>{e.get('mass_copied', 0)}</td></tr>"
        for name, e in report["evals"].items()
    )
    sources = "".join(
        f'<tr><td class="l">{escape(name)}</td><td>{s["rows"]}</td><td>{s["flagged"]}</td>'
        f'<td>{s["kept"]}</td><td class="l">{escape(", ".join(s["contaminated_evals"]))}</td></tr>'
        for name, s in report["sources"].items()
    )
    return (
        '<h2>Evaluation sets</h2><table><tr><th class="l">eval</th><th>instances</th>'
        "<th>contaminated</th><th>share</th>"
        + "".join(f'<th><span class="tag k-{k}">{k}</span></th>' for k in KINDS)
        + f"<th>mass-copied</th></tr>{evals}</table>"
        '<h2>Training sources</h2><table><tr><th class="l">source</th><th>rows</th>'
        f'<th>flagged</th><th>kept</th><th class="l">contaminated evals</th></tr>{sources}</table>'
    )


def _instances(report: dict, limit: int = 50) -> str:
    entries = report.get("instances", [])
    if not entries:
        return "<p>No evaluation instance was found in the training data.</p>"
    rows = []
    for e in entries[:limit]:
        kinds = "".join(f"<td>{e['by_kind'][k] or ''}</td>" for k in KINDS)
        sources = ", ".join(f"{s} ({n})" for s, n in e["sources"].items())
        mass = ' <span class="tag k-exact">mass-copied</span>' if e["mass_copied"] else ""
        rows.append(f'<tr><td class="l">{escape(e["eval"])}</td><td class="l">'
                    f'{escape(e["eval_id"])}{mass}</td><td>{e["rows"]}</td>{kinds}'
                    f'<td class="l">{escape(sources)}</td></tr>')
    more = f"<p>{len(entries) - limit} more in report.json.</p>" if len(entries) > limit else ""
    head = "".join(f'<th><span class="tag k-{k}">{k}</span></th>' for k in KINDS)
    return ('<table><tr><th class="l">eval</th><th class="l">instance</th><th>rows</th>'
            f'{head}<th class="l">sources (rows)</th></tr>{"".join(rows)}</table>{more}')


def _group(pairs: list[dict]) -> list[tuple[dict, list[str]]]:
    """One entry per (training row, instance) pair, listing every method that matched."""
    groups: dict[tuple, tuple[dict, list[str]]] = {}
    for pair in pairs:
        key = (pair["source"], pair["train_id"], pair["eval"], pair["eval_id"])
        _, methods = groups.setdefault(key, (pair, []))
        methods.append(f"{pair['method']} {pair['score']:.3f}")
    return list(groups.values())


def _pairs_by_kind(pairs: list[dict]) -> str:
    out = []
    for kind in KINDS:
        of_kind = [p for p in pairs if p.get("kind", "partial") == kind]
        if of_kind:
            out.append(f'<h3><span class="tag k-{kind}">{kind}</span> {len(of_kind)} of the top '
                       f"pairs</h3>{_pairs(of_kind)}")
    return "".join(out) or "<p>No matches.</p>"


def _pairs(pairs: list[dict]) -> str:
    if not pairs:
        return "<p>No matches.</p>"
    out = []
    for pair, methods in _group(pairs):
        kind = pair.get("kind", "partial")
        out.append(
            f'<div class="meta"><span class="tag k-{kind}">{kind} '
            f'{100 * pair.get("coverage", 0):.0f}%</span> '
            f'<b>{escape(pair["eval"])}</b> {escape(pair["eval_id"])} &larr; '
            f'<b>{escape(pair["source"])}</b> {escape(pair["train_id"])} &middot; '
            f'{escape(" · ".join(methods))}</div><div class="pair">'
            f'<div class="box">{highlight(pair["train_text"], pair["train_spans"])}</div>'
            f'<div class="box">{highlight(pair["eval_text"], pair["eval_spans"])}</div></div>'
        )
    return "".join(out)


def render_html(report: dict, top_pairs: list[dict]) -> str:
    config = report["config"]
    cfg = ", ".join(
        f"{k}={v}" for k, v in config.items() if k not in ("batch_size", "workers")
    )
    kinds = report.get("flagged_rows_by_kind", {})
    by_kind = ", ".join(f"{kinds.get(k, 0)} {k}" for k in KINDS)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>skillmix contamination "
        f"report</title><style>{_CSS}</style></head><body>"
        "<h1>Contamination report</h1>"
        f'<p class="cfg">{escape(cfg)}</p>'
        f"<p>{sum(s['rows'] for s in report['sources'].values())} training rows, "
        f"{sum(s['flagged'] for s in report['sources'].values())} flagged ({by_kind}), "
        f"{len(report.get('instances', []))} evaluation instances found, "
        f"{report['matches']} matched pairs. Cells give the share of an evaluation set's "
        f"instances found in a source; bold above {100 * config['source_threshold']:.0f}%.</p>"
        f"<h2>Source &times; evaluation set</h2>{_matrix_table(report)}"
        f"{_counts(report)}"
        f"<h2>Contaminated instances (rows holding each, by kind of match)</h2>"
        f"{_instances(report)}"
        f"<h2>Top matched pairs (training text left, evaluation instance right)</h2>"
        f"{_pairs_by_kind(top_pairs)}</body></html>"
    )


def write_html(report: dict, top_pairs: list[dict], path: Path) -> None:
    path.write_text(render_html(report, top_pairs), encoding="utf-8")
