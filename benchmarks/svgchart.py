"""A cost-against-size chart as SVG text: both axes logarithmic, one line per command, the tool's own line first
and thickest, the floor dashed. Standard library only; the same figures give the same bytes.

    svg = line_chart("Next version", "commits", "median (ms)",
                     [Series("gitops-tools", [(1_000, 98.1), (10_000, 93.1)]), Series("floor", [...], floor=True)])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 290, 44, 56  # the plot area's margins; the legend sits in the right one
PALETTE = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
TOOL, FLOOR = "#1f4e9e", "#555555"


class Series(NamedTuple):
    label: str
    points: Sequence[tuple[float, float]]  # (size, cost); a size without a measurement is simply left out
    tool: bool = False  # gitops-tools itself: drawn first in the legend, thickest
    floor: bool = False  # the floor: dashed


def _ticks(low: float, high: float, steps: Sequence[int]) -> list[float]:
    """The values ``step * 10**k`` between ``low`` and ``high`` (inclusive), ascending."""
    out = []
    for k in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for step in steps:
            value = step * 10.0 ** k
            if low <= value * (1 + 1e-9) and value <= high * (1 + 1e-9):
                out.append(value)
    return sorted(set(out))


def _label(value: float) -> str:
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:,.0f}k" if value < 1_000_000 else f"{value / 1_000_000:,.0f}M"
    if value >= 1:
        return f"{value:,.0f}"
    return f"{value:g}"


def line_chart(title: str, x_label: str, y_label: str, series: Sequence[Series], note: str = "") -> str:
    """The chart of ``series`` (at least one point among them, every value above zero)."""
    points = [p for s in series for p in s.points]
    if not points or any(x <= 0 or y <= 0 for x, y in points):
        raise ValueError("a chart needs points, every size and cost above zero")
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x_lo, x_hi = min(xs), max(xs)
    if x_lo == x_hi:
        x_lo, x_hi = x_lo / 2, x_hi * 2
    y_lo, y_hi = 10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * (math.log10(x) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo))

    def py(y: float) -> float:
        return TOP + plot_h * (1 - (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f"<title>{escape(title)}</title>",
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
           f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>']
    y_steps = (1, 2, 5) if math.log10(y_hi / y_lo) <= 3 else (1,)
    for value in _ticks(y_lo, y_hi, y_steps):
        y = py(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(value)}</text>')
    for value in sorted(set(xs)):
        x = px(value)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{_label(value)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888888"/>')
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 16}" text-anchor="middle">{escape(x_label)} '
               "(log scale)</text>")
    out.append(f'<text transform="translate(18 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
               f"{escape(y_label)} (log scale)</text>")
    ordered = sorted(series, key=lambda s: (not s.tool, s.floor))
    colors = iter(PALETTE)
    for row, s in enumerate(ordered):
        color = TOOL if s.tool else FLOOR if s.floor else next(colors)
        width = 3 if s.tool else 1.5
        dash = ' stroke-dasharray="6 4"' if s.floor else ""
        pts = sorted(s.points)
        if len(pts) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{3.5 if s.tool else 2.5}" fill="{color}">'
                       f"<title>{escape(s.label)}: {_label(x)} {escape(x_label)}, {y:,.1f}</title></circle>")
        ly = TOP + 8 + row * 20
        lx = LEFT + plot_w + 16
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{color}" stroke-width="{width}"'
                   f"{dash}/>")
        weight = ' font-weight="bold"' if s.tool else ""
        out.append(f'<text x="{lx + 28}" y="{ly + 4}"{weight}>{escape(_short(s.label))}</text>')
    if note:
        out.append(f'<text x="{LEFT}" y="{HEIGHT - 2}" font-size="10" fill="#555555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _short(label: str, limit: int = 42) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
