"""report.html: one self-contained page (inline CSS, no scripts, no external files)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from decontam.spans import KINDS
from manifests.atomic import atomic_write_text

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
.k-paraphrase{background:#6a1b9a;color:#fff}
.tag{border-radius:3px;padding:1px 6px;font-size:12px;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0 4px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;flex:1 1 0;min-width:160px;
 max-width:300px;background:#fafafa}
.card .n{font-size:26px;font-weight:600}.card .d{font-size:12px;color:#555;margin-top:4px}
.legend{font-size:13px;color:#444;margin:6px 0}.legend span.tag{margin-right:4px}
details.cfg summary{cursor:pointer}
.mono{font-family:ui-monospace,monospace;font-size:12px}
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


def shown_kinds(report: dict) -> tuple[str, ...]:
    """Kinds of match to show: `paraphrase` only when the semantic method ran."""
    return KINDS if "semantic" in report["config"]["methods"] else KINDS[:-1]


def _tag(kind: str, text: str | None = None) -> str:
    return f'<span class="tag k-{kind}">{escape(text or kind)}</span>'


def _cards(report: dict) -> str:
    sources = report["sources"]
    rows = sum(s["rows"] for s in sources.values())
    flagged = sum(s["flagged"] for s in sources.values())
    kinds = report.get("flagged_rows_by_kind", {})
    found = len(report.get("instances", []))
    total = sum(e["instances"] for e in report["evals"].values())
    dirty = [name for name, s in sources.items() if s["contaminated_evals"]]
    mass = sum(e.get("mass_copied", 0) for e in report["evals"].values())
    by_kind = " ".join(_tag(k, f"{kinds.get(k, 0)} {k}") for k in shown_kinds(report))
    cards = [
        (f"{flagged:,}", f"of {rows:,} training rows flagged<br>{by_kind}"),
        (f"{found:,}", f"of {total:,} evaluation instances found in the training data"),
        (
            f"{len(dirty)}",
            f"of {len(sources)} sources contaminated (above "
            f"{100 * report['config']['source_threshold']:.0f}% of an eval)"
            + (f"<br>{escape(', '.join(dirty[:6]))}" if dirty else ""),
        ),
        (f"{mass}", "instances mass-copied (in more rows than --max-ngram-rows)"),
    ]
    if "semantic" in report:
        sem = report["semantic"]
        cards.append(
            (
                f"{sem['rephrased'] if sem['judge'] else sem['candidates']}",
                f"semantic: {sem['candidates']} candidates, {sem['judged']} judged, "
                f"{sem['rephrased']} rephrasings",
            )
        )
    body = "".join(
        f'<div class="card"><div class="n">{n}</div><div class="d">{d}</div></div>'
        for n, d in cards
    )
    legend = (
        '<p class="legend">'
        + _tag("exact")
        + " the whole instance in one span &middot; "
        + _tag("near-verbatim")
        + " at least 80% of its tokens &middot; "
        + _tag("partial")
        + " less (coverage given)"
        + (
            " &middot; " + _tag("paraphrase") + " a semantic match with little shared text"
            if "paraphrase" in shown_kinds(report)
            else ""
        )
        + "</p>"
    )
    return f'<div class="cards">{body}</div>{legend}'


def _provenance(e: dict) -> str:
    prov = e.get("provenance")
    if not prov:
        return "<td></td>"
    rev = prov.get("revision") or "default"
    return (
        f'<td class="l mono">{escape(prov["file"])} sha256 {escape(prov["sha256"][:12])}'
        f"&hellip; @{escape(rev)}</td>"
    )


def _counts(report: dict) -> str:
    kinds = shown_kinds(report)
    prov = any(e.get("provenance") for e in report["evals"].values())
    evals = "".join(
        f'<tr><td class="l">{escape(name)}</td><td>{e["instances"]}</td>'
        f"<td>{e['contaminated']}</td><td>{100 * e['contaminated_share']:.1f}%</td>"
        + "".join(f"<td>{e.get('by_kind', {}).get(k, 0) or ''}</td>" for k in kinds)
        + f"<td>{e.get('mass_copied', 0) or ''}</td>"
        + (_provenance(e) if prov else "")
        + "</tr>"
        for name, e in report["evals"].items()
    )
    sources = "".join(
        f'<tr><td class="l">{escape(name)}</td><td>{s["rows"]}</td><td>{s["flagged"]}</td>'
        + "".join(f"<td>{s.get('flagged_by_kind', {}).get(k, 0) or ''}</td>" for k in kinds)
        + f'<td>{s["kept"]}</td><td class="l">{escape(", ".join(s["contaminated_evals"]))}'
        "</td></tr>"
        for name, s in report["sources"].items()
    )
    heads = "".join(f"<th>{_tag(k)}</th>" for k in kinds)
    return (
        '<h2>Training sources</h2><table><tr><th class="l">source</th><th>rows</th>'
        f'<th>flagged</th>{heads}<th>kept</th><th class="l">contaminated evals</th></tr>'
        f"{sources}</table>"
        '<h2>Evaluation sets</h2><table><tr><th class="l">eval</th><th>instances</th>'
        f"<th>contaminated</th><th>share</th>{heads}<th>mass-copied</th>"
        + ('<th class="l">pulled copy</th>' if prov else "")
        + f"</tr>{evals}</table>"
        '<p class="legend">Instances are counted once, by their best kind of match anywhere; '
        "rows by the best kind each holds.</p>"
    )


def _instances(report: dict, limit: int = 50) -> str:
    entries = report.get("instances", [])
    if not entries:
        return "<p>No evaluation instance was found in the training data.</p>"
    kinds = shown_kinds(report)
    rows = []
    for e in entries[:limit]:
        cells = "".join(f"<td>{e['by_kind'][k] or ''}</td>" for k in kinds)
        sources = ", ".join(f"{s} ({n})" for s, n in e["sources"].items())
        mass = " " + _tag("exact", "mass-copied") if e["mass_copied"] else ""
        rows.append(
            f'<tr><td class="l">{escape(e["eval"])}</td><td class="l">'
            f"{escape(e['eval_id'])}{mass}</td><td>{e['rows']}</td>{cells}"
            f'<td class="l">{escape(sources)}</td></tr>'
        )
    more = f"<p>{len(entries) - limit} more in report.json.</p>" if len(entries) > limit else ""
    head = "".join(f"<th>{_tag(k)}</th>" for k in kinds)
    return (
        '<table><tr><th class="l">eval</th><th class="l">instance</th><th>rows</th>'
        f'{head}<th class="l">sources (rows)</th></tr>{"".join(rows)}</table>{more}'
    )


def _semantic(report: dict, limit: int = 30) -> str:
    sem = report.get("semantic")
    if not sem:
        return ""
    usage = sem.get("usage") or {}
    cost = (
        f" Judge <b>{escape(sem['judge'])}</b>: {usage.get('requests', 0)} requests, "
        f"{usage.get('cached', 0)} cached, {usage.get('failed', 0)} failed, "
        f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} "
        "completion tokens."
        if sem.get("judge")
        else " No judge: every candidate at or above the floor is a match."
    )
    pairs = sorted(sem["pairs"], key=lambda c: -c["similarity"])[:limit]
    rows = "".join(
        f'<tr><td class="l">{escape(c["source"])}</td><td class="l">{escape(c["train_id"])}</td>'
        f'<td class="l">{escape(c["eval"])}</td><td class="l">{escape(c["eval_id"])}</td>'
        f'<td>{c["similarity"]:.3f}</td><td class="l">'
        f"{escape(str(c['judgment']) if c['judgment'] is not None else '-')}"
        f"{(' (' + escape(c['judge_error']) + ')') if c.get('judge_error') else ''}</td></tr>"
        for c in pairs
    )
    return (
        '<h2>Semantic candidates</h2><p class="legend">'
        f"Encoder {escape(sem['encoder'])}, top {sem['top_k']} "
        f"at similarity &ge; {sem['floor']}: {sem['candidates']} candidates, {sem['judged']} "
        f"judged, {sem['rephrased']} rephrasings, {sem['unjudged']} unjudged.{cost}</p>"
        '<table><tr><th class="l">source</th><th class="l">row</th><th class="l">eval</th>'
        '<th class="l">instance</th><th>similarity</th><th class="l">judgment</th></tr>'
        f"{rows}</table>"
    )


def _group(pairs: list[dict]) -> list[tuple[dict, list[str]]]:
    """One entry per (training row, instance) pair, listing every method that matched."""
    groups: dict[tuple, tuple[dict, list[str]]] = {}
    for pair in pairs:
        key = (pair["source"], pair["train_id"], pair["eval"], pair["eval_id"])
        _, methods = groups.setdefault(key, (pair, []))
        methods.append(f"{pair['method']} {pair['score']:.3f}")
    return list(groups.values())


def _pairs_by_kind(report: dict, pairs: list[dict]) -> str:
    rows = report.get("flagged_rows_by_kind", {})
    out = []
    for kind in shown_kinds(report):
        groups = _group([p for p in pairs if p.get("kind", "partial") == kind])
        if groups:
            out.append(
                f"<h3>{_tag(kind)} {rows.get(kind, 0)} rows; {len(groups)} examples, "
                f"one per instance</h3>{_pairs(groups)}"
            )
    return "".join(out) or "<p>No matches.</p>"


def _pairs(groups: list[tuple[dict, list[str]]]) -> str:
    out = []
    for pair, methods in groups:
        kind = pair.get("kind", "partial")
        label = f"{kind} {100 * pair.get('coverage', 0):.0f}%"
        out.append(
            f'<div class="meta">{_tag(kind, label)} '
            f"<b>{escape(pair['eval'])}</b> {escape(pair['eval_id'])} &larr; "
            f"<b>{escape(pair['source'])}</b> {escape(pair['train_id'])} &middot; "
            f'{escape(" · ".join(methods))}</div><div class="pair">'
            f'<div class="box">{highlight(pair["train_text"], pair["train_spans"])}</div>'
            f'<div class="box">{highlight(pair["eval_text"], pair["eval_spans"])}</div></div>'
        )
    return "".join(out)


def render_html(report: dict, top_pairs: list[dict]) -> str:
    config = report["config"]
    cfg = ", ".join(f"{k}={v}" for k, v in config.items() if k not in ("batch_size", "workers"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>skillmix contamination "
        f"report</title><style>{_CSS}</style></head><body>"
        "<h1>Contamination report</h1>"
        f"{_cards(report)}"
        f'<details class="cfg"><summary>settings</summary>{escape(cfg)}</details>'
        f"<h2>Source &times; evaluation set</h2>"
        f'<p class="legend">Share of an evaluation set\'s instances found in a source; bold '
        f"above {100 * config['source_threshold']:.0f}%. {report['matches']} matched pairs in "
        "matches.jsonl.</p>"
        f"{_matrix_table(report)}"
        f"{_counts(report)}"
        f"<h2>Contaminated instances (rows holding each, by kind of match)</h2>"
        f"{_instances(report)}"
        f"{_semantic(report)}"
        f"<h2>Example pairs by kind (training text left, evaluation instance right)</h2>"
        f"{_pairs_by_kind(report, top_pairs)}</body></html>"
    )


def write_html(report: dict, top_pairs: list[dict], path: Path) -> None:
    atomic_write_text(path, render_html(report, top_pairs))
