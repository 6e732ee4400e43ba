"""Inline SVG for the run report: line chart, histogram, labelled bars. No external assets;
every text that reaches the page goes through `esc`."""

from __future__ import annotations

import html
import math
from typing import Any

BLUE, ORANGE, GREY, RED = "#2f7ed8", "#f0ad4e", "#d8d8d8", "#d9534f"
PALETTE = ["#f0ad4e", "#8e6bbf", "#5bc0de", "#999999", "#c46f2f", "#6aa84f"]
FONT = 'font-family="system-ui,sans-serif"'
# Shared SVG definitions, put once on a page: the stripes of repeated (upsampled) rows.
DEFS = (
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
    '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde3b8"/>'
    f'<line x1="0" y1="0" x2="0" y2="6" stroke="{ORANGE}" stroke-width="3"/></pattern>'
    "</defs></svg>"
)


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: float) -> str:
    """A short label for an axis tick or a bar: 1,234 / 0.25 / 6.92."""
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}" {FONT}>'
        f"{''.join(body)}</svg>"
    )


def line_chart(
    points: list[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 260,
) -> str:
    """One polyline with a circle per point (each with its values as a tooltip) and axes."""
    left, right, top, bottom = 64, 16, 12, 44
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + plot_w * (x - x0) / ((x1 - x0) or 1)

    def sy(y: float) -> float:
        return top + plot_h * (1 - (y - y0) / ((y1 - y0) or 1))

    body = [_axes(left, top, plot_w, plot_h)]
    for t in x_ticks:
        body.append(
            f'<line x1="{sx(t):.1f}" y1="{top + plot_h}" x2="{sx(t):.1f}" '
            f'y2="{top + plot_h + 4}" stroke="#666"/><text x="{sx(t):.1f}" '
            f'y="{top + plot_h + 17}" font-size="11" text-anchor="middle">{number(t)}</text>'
        )
    for t in y_ticks:
        body.append(
            f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + plot_w}" y2="{sy(t):.1f}" '
            f'stroke="#eee"/><text x="{left - 6}" y="{sy(t) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{number(t)}</text>'
        )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    body.append(f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    body += [
        f'<circle class="pt" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{BLUE}" '
        f'data-x="{x!r}" data-y="{y!r}"><title>{esc(x_label)} {number(x)}: '
        f"{esc(y_label)} {y:.4g}</title></circle>"
        for x, y in points
    ]
    body.append(_axis_labels(left, top, plot_w, plot_h, height, x_label, y_label))
    return _svg(width, height, body, f"{y_label} by {x_label}")


def histogram(
    bins: list[tuple[float, float, int]],
    *,
    x_label: str,
    width: int = 360,
    height: int = 220,
) -> str:
    """Bars for (low, high, count) bins of equal width, with count ticks on y."""
    left, right, top, bottom = 52, 12, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    y_ticks = nice_ticks(0, max([c for _, _, c in bins] + [1]), 4)
    top_count = y_ticks[-1]
    bar_w = plot_w / max(len(bins), 1)
    body = [_axes(left, top, plot_w, plot_h)]
    for t in y_ticks:
        y = top + plot_h * (1 - t / top_count)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{number(t)}</text>"
        )
    for i, (low, high, count) in enumerate(bins):
        h = plot_h * count / top_count
        x = left + i * bar_w
        body.append(
            f'<rect class="bin" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" fill="{BLUE}" '
            f'data-count="{count}"><title>{_bin_label(low, high)}: {count} rows</title></rect>'
        )
    # Bins one value wide (turns) are labelled under their middle, wider ones at their edges.
    if all(high - low == 1 for low, high, _ in bins):
        marks = [(low, left + (i + 0.5) * bar_w) for i, (low, _, _) in enumerate(bins)]
    else:
        edges = [bins[0][0], *(b[1] for b in bins)] if bins else []
        marks = [(edge, left + i * bar_w) for i, edge in enumerate(edges)]
    every = max(1, math.ceil(len(marks) / 7))
    for i, (value, x) in enumerate(marks):
        if i % every and i != len(marks) - 1:
            continue
        body.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{number(value)}</text>'
        )
    body.append(_axis_labels(left, top, plot_w, plot_h, height, x_label, "rows"))
    return _svg(width, height, body, f"rows by {x_label}")


def share_bars(items: list[tuple[str, int]], *, total: int, width: int = 420) -> str:
    """One horizontal bar per (label, rows), longest first, with rows and share."""
    label_w, row_h, bar_room = 130, 24, width - 130 - 110
    widest = max([n for _, n in items] + [1])
    body = []
    for i, (label, n) in enumerate(items):
        y = i * row_h
        w = bar_room * n / widest
        share = n / total if total else 0.0
        body.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end">'
            f"{esc(clip(label))}<title>{esc(label)}</title></text>"
            f'<rect class="share" x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="16" '
            f'fill="{PALETTE[i % len(PALETTE)]}" data-rows="{n}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="11" fill="#444">'
            f"{n:,} ({share:.1%})</text>"
        )
    return _svg(width, max(len(items), 1) * row_h + 4, body, "rows per skill")


def segments_bar(
    segments: list[tuple[str, float, str]], *, scale: float, width: int, height: int = 18
) -> str:
    """One stacked bar of (label, value, fill) segments; `scale` is pixels per unit. A fill
    of "hatch" draws the segment striped (rows repeated by upsampling; needs `DEFS` once
    on the page)."""
    body = []
    x = 0.0
    for label, value, fill in segments:
        if value <= 0:
            continue
        w = max(scale * value, 1.0)
        paint = "url(#hatch)" if fill == "hatch" else fill
        body.append(
            f'<rect x="{x:.1f}" y="1" width="{w:.1f}" height="{height - 2}" fill="{paint}" '
            f'data-label="{esc(label)}" data-value="{number(value)}"><title>{esc(label)}: '
            f"{number(value)}</title></rect>"
        )
        x += w
    return _svg(width, height, body, ", ".join(f"{label} {v:g}" for label, v, _ in segments))


def _axes(left: float, top: float, w: float, h: float) -> str:
    return (
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#666"/>'
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#666"/>'
    )


def _axis_labels(
    left: float, top: float, w: float, h: float, height: float, x_label: str, y_label: str
) -> str:
    mid_y = top + h / 2
    return (
        f'<text x="{left + w / 2:.1f}" y="{height - 6}" font-size="12" '
        f'text-anchor="middle">{esc(x_label)}</text>'
        f'<text x="14" y="{mid_y:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid_y:.1f})">{esc(y_label)}</text>'
    )


def clip(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _bin_label(low: float, high: float) -> str:
    """Bins hold integers low <= v < high."""
    return number(low) if high - low == 1 else f"{number(low)}–{number(high - 1)}"
