"""Inline SVG charts of a dossier: time series with thresholds, ranked bars, small histograms.

Pure functions of the dossier's numbers returning SVG text: no script, no font or file from the
network, coordinates written with two decimals so the same numbers draw the same bytes. A series
longer than :data:`MAX_POINTS` is drawn as the mean of equal buckets (the JSON keeps every window).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

__all__ = ["MAX_POINTS", "bars", "histogram", "time_chart"]

MAX_POINTS = 400
COLORS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085")
W, H, PAD = 640, 180, 36


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _f(x: float) -> str:
    return f"{x:.2f}"


def _bucket(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return list(points)
    size = -(-len(points) // MAX_POINTS)
    out = []
    for i in range(0, len(points), size):
        chunk = points[i:i + size]
        out.append((chunk[0][0], sum(v for _, v in chunk) / len(chunk)))
    return out


def time_chart(series: Sequence[tuple[str, Sequence[Sequence]]], *, title: str,
               thresholds: Sequence[tuple[str, float]] = ()) -> str:
    """Lines of ``(label, [[iso time, value, ...], ...])``, with dashed horizontal ``thresholds``."""
    parsed = [(label, _bucket([(_epoch(p[0]), float(p[1])) for p in points if p[1] is not None]))
              for label, points in series]
    parsed = [(label, pts) for label, pts in parsed if pts]
    if not parsed:
        return f'<p class="empty">{escape(title)}: no data</p>'
    xs = [t for _, pts in parsed for t, _ in pts]
    ys = [v for _, pts in parsed for _, v in pts] + [v for _, v in thresholds]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5
    span = y1 - y0
    y0, y1 = y0 - 0.05 * span, y1 + 0.05 * span

    def x(t: float) -> str:
        return _f(PAD + (t - x0) / (x1 - x0) * (W - 2 * PAD))

    def y(v: float) -> str:
        return _f(H - PAD + (v - y0) / (y1 - y0) * (2 * PAD - H))

    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {W} {H}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<rect x="{PAD}" y="{PAD // 2}" width="{W - 2 * PAD}" height="{H - PAD - PAD // 2}" class="frame"/>',
             f'<text x="4" y="{y(y1 - 0.05 * span)}" class="axis">{y1 - 0.05 * span:.3g}</text>',
             f'<text x="4" y="{y(y0 + 0.05 * span)}" class="axis">{y0 + 0.05 * span:.3g}</text>',
             f'<text x="{PAD}" y="{H - 8}" class="axis">{escape(series[0][1][0][0][:16]) if series[0][1] else ""}</text>']
    for label, value in thresholds:
        parts.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(value)}" y2="{y(value)}" class="threshold"/>'
                     f'<text x="{W - PAD - 4}" y="{_f(float(y(value)) - 3)}" class="axis" text-anchor="end">'
                     f'{escape(label)}</text>')
    for i, (label, pts) in enumerate(parsed):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{x(t)},{y(v)}" for t, v in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{PAD + 4 + 110 * i}" y="{PAD // 2 - 4}" fill="{color}" class="legend">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> str:
    """Horizontal bars, largest first as given."""
    if not rows:
        return f'<p class="empty">{escape(title)}: no data</p>'
    top = max(v for _, v in rows) or 1.0
    height = 20 * len(rows) + 10
    parts = [f'<svg class="chart bars" role="img" aria-label="{escape(title)}" viewBox="0 0 {W} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(rows):
        width = (W - 260) * value / top
        parts.append(f'<text x="150" y="{20 * i + 19}" class="axis" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="156" y="{20 * i + 6}" width="{_f(width)}" height="14" fill="{COLORS[0]}"/>'
                     f'<text x="{_f(160 + width)}" y="{20 * i + 18}" class="axis">{value:.3g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(counts: Sequence[int], *, title: str) -> str:
    """A small histogram of reference bin (or category) counts."""
    if not counts or not any(counts):
        return ""
    w, h = 160, 40
    top = max(counts)
    step = w / len(counts)
    rects = "".join(f'<rect x="{_f(i * step)}" y="{_f(h - h * c / top)}" width="{_f(max(step - 1, 0.5))}" '
                    f'height="{_f(h * c / top)}" fill="{COLORS[0]}"/>' for i, c in enumerate(counts))
    return (f'<svg class="hist" role="img" aria-label="{escape(title)}" viewBox="0 0 {w} {h}" width="{w}" '
            f'height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{rects}</svg>')
