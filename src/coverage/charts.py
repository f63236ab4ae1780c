"""Small charts as inline SVG for the HTML report: horizontal bars and a line.

The SVG is written as text with every label escaped here (no template engine, no plotting
library: the report stays one self-contained file that prints crisply). Colours are from the
Okabe–Ito palette, which readers with colour-vision deficiencies tell apart.
"""

from __future__ import annotations

import html
import math
from typing import Callable, Sequence

#: Okabe–Ito: blue, vermillion, bluish green, orange, reddish purple, sky blue, yellow, black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

_FONT = "font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _text_width(text: str, size_px: float) -> float:
    """Rough rendered width (px): CJK characters are square, Latin about half as wide."""
    return sum(size_px if ord(ch) > 0x2E80 else size_px * 0.56 for ch in text)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str,
              value_text: Callable[[float], str] = lambda v: f"{v:,.0f}", max_value: float | None = None,
              color: str = PALETTE[0], width_px: int = 620) -> str:
    """Horizontal bars, one row per label, each with its value written at its end."""
    labels = [str(x) for x in labels]
    vals = [float(v) if v is not None and math.isfinite(float(v)) else 0.0 for v in values]
    top = max_value if max_value is not None else max(vals + [0.0])
    top = top if top > 0 else 1.0
    size = 12
    left = min(max([_text_width(x, size) for x in labels] + [40]) + 12, width_px * 0.4)
    right = 70
    row, head = 22, 26
    height = head + row * len(labels) + 8
    plot = width_px - left - right
    parts = [f'<svg role="img" width="{width_px}" height="{height}" '
             f'viewBox="0 0 {width_px} {height}" style="{_FONT}">',
             f'<title>{_esc(title)}</title>',
             f'<text x="0" y="16" font-size="14" font-weight="600">{_esc(title)}</text>']
    for i, (lab, v) in enumerate(zip(labels, vals)):
        y = head + i * row
        w = max(plot * min(v / top, 1.0), 0.0)
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 15}" font-size="{size}" text-anchor="end">{_esc(lab)}</text>')
        parts.append(f'<rect x="{left:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}" font-size="{size}">{_esc(value_text(v))}</text>')
    parts.append(f'<line x1="{left:.1f}" y1="{head - 2}" x2="{left:.1f}" y2="{height - 6}" stroke="#555"/>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(x: Sequence[float], y: Sequence[float], *, title: str, x_label: str, y_label: str,
               y_text: Callable[[float], str] = lambda v: f"{v:.0%}", y_max: float = 1.0,
               ceiling: float | None = None, ceiling_label: str = "", color: str = PALETTE[0],
               width_px: int = 620, height_px: int = 260) -> str:
    """A line with its points marked and labelled, from y = 0 to ``y_max``; an optional dashed
    ceiling (e.g. the most any set of sites can cover)."""
    xs = [float(v) for v in x]
    ys = [float(v) for v in y]
    left, right, top, bottom = 56, 20, 30, 42
    pw, ph = width_px - left - right, height_px - top - bottom
    x0, x1 = min(xs + [0.0]), max(xs + [1.0])
    span = (x1 - x0) or 1.0

    def px(v: float) -> float:
        return left + (v - x0) / span * pw

    def py(v: float) -> float:
        return top + ph - min(max(v / y_max, 0.0), 1.0) * ph

    parts = [f'<svg role="img" width="{width_px}" height="{height_px}" '
             f'viewBox="0 0 {width_px} {height_px}" style="{_FONT}">',
             f'<title>{_esc(title)}</title>',
             f'<text x="0" y="16" font-size="14" font-weight="600">{_esc(title)}</text>']
    for k in range(5):  # horizontal grid at 0, 25, 50, 75, 100 % of y_max
        v = y_max * k / 4
        parts.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{left + pw}" y2="{py(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" font-size="11" text-anchor="end">{_esc(y_text(v))}</text>')
    for v in sorted(set(xs)):
        parts.append(f'<text x="{px(v):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{v:g}</text>')
    if ceiling is not None and math.isfinite(ceiling):
        parts.append(f'<line x1="{left}" y1="{py(ceiling):.1f}" x2="{left + pw}" y2="{py(ceiling):.1f}" '
                     f'stroke="{PALETTE[1]}" stroke-dasharray="5,4"/>')
        parts.append(f'<text x="{left + pw}" y="{py(ceiling) - 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="{PALETTE[1]}">{_esc(ceiling_label)}</text>')
    points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, ys))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
    for a, b in zip(xs, ys):
        parts.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3.5" fill="{color}"/>')
        parts.append(f'<text x="{px(a):.1f}" y="{py(b) - 7:.1f}" font-size="11" text-anchor="middle">{_esc(y_text(b))}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height_px - 6}" font-size="12" text-anchor="middle">{_esc(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + ph / 2:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})">{_esc(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_head(width_px: int, height_px: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width_px}" height="{height_px}" '
            f'viewBox="0 0 {width_px} {height_px}" style="{_FONT}">',
            f'<title>{_esc(title)}</title>',
            f'<text x="0" y="16" font-size="14" font-weight="600">{_esc(title)}</text>']


def lines_chart(x: Sequence[float], series: Sequence[tuple[str, Sequence[float], bool]], *, title: str,
                x_label: str, y_label: str, y_text: Callable[[float], str] = lambda v: f"{v:,.0f}",
                y_min: float | None = None, y_max: float | None = None, width_px: int = 620,
                height_px: int = 280) -> str:
    """Several lines over the same x, each ``(label, values, dashed)``, coloured from the palette
    in order, with a legend; the y axis spans ``y_min`` … ``y_max`` (default: the data's range)."""
    xs = [float(v) for v in x]
    vals = [[float(v) for v in ys] for _, ys, _ in series]
    finite = [v for ys in vals for v in ys if math.isfinite(v)] or [0.0, 1.0]
    lo = min(finite) if y_min is None else y_min
    hi = max(finite) if y_max is None else y_max
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 1.0, hi + 1.0
    left, right, top, bottom = 64, 20, 30 + 16 * len(series), 42
    pw, ph = width_px - left - right, height_px - top - bottom
    x0, span = min(xs + [0.0]), (max(xs + [1.0]) - min(xs + [0.0])) or 1.0
    px = lambda v: left + (v - x0) / span * pw  # noqa: E731
    py = lambda v: top + ph - min(max((v - lo) / (hi - lo), 0.0), 1.0) * ph  # noqa: E731

    parts = _svg_head(width_px, height_px, title)
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{left + pw}" y2="{py(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" font-size="11" text-anchor="end">{_esc(y_text(v))}</text>')
    for v in sorted(set(xs)):
        parts.append(f'<text x="{px(v):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{v:g}</text>')
    for s, ((label, _, dashed), ys) in enumerate(zip(series, vals)):
        color = PALETTE[s % len(PALETTE)]
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        pts = [(a, b) for a, b in zip(xs, ys) if math.isfinite(b)]
        if pts:
            line = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pts)
            parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
            parts += [f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{color}"/>' for a, b in pts]
        ly = 30 + 16 * s
        parts.append(f'<line x1="{left}" y1="{ly - 4}" x2="{left + 24}" y2="{ly - 4}" stroke="{color}" '
                     f'stroke-width="2"{dash}/>')
        parts.append(f'<text x="{left + 30}" y="{ly}" font-size="12">{_esc(label)}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height_px - 6}" font-size="12" text-anchor="middle">{_esc(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + ph / 2:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})">{_esc(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
