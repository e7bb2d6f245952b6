"""A small line chart of counts per minute, drawn on the server as SVG (no script, no CDN).

The chart is an image with a text alternative (its ``<title>`` and ``<desc>``: the totals and the busiest minute),
so a screen reader gets what it shows; the overview's table holds the figures themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT, PAD = 600, 160, 28
COLOURS = {"accepted": "#005eb8", "delivered": "#007f3b"}  # NHS blue and NHS green: 4.5:1 or more on white
DASHES = {"accepted": "", "delivered": "6 4"}  # told apart without colour too


def line_chart(series: Mapping[str, Sequence[int]], title: str) -> str:
    """An SVG of each series (one value per minute, oldest first), with axes, a legend and a text alternative."""
    minutes = max((len(v) for v in series.values()), default=0)
    top = max([1, *(max(v, default=0) for v in series.values())])
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def point(i: int, value: int) -> str:
        x = PAD + (plot_w * i / max(1, minutes - 1))
        y = PAD + plot_h - plot_h * value / top
        return f"{x:.1f},{y:.1f}"

    described = "; ".join(
        f"{name}: {sum(values)} in all, at most {max(values, default=0)} in a minute" for name, values in series.items()
    )
    parts = [
        f'<svg class="hub-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" focusable="false">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(described)}</desc>',
        f'<line x1="{PAD}" y1="{PAD + plot_h}" x2="{PAD + plot_w}" y2="{PAD + plot_h}" stroke="#4c6272"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{PAD + plot_h}" stroke="#4c6272"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" font-size="11" fill="#212b32">{top}</text>',
        f'<text x="{PAD - 4}" y="{PAD + plot_h}" text-anchor="end" font-size="11" fill="#212b32">0</text>',
        f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="11" fill="#212b32">{minutes} min ago</text>',
        f'<text x="{PAD + plot_w}" y="{HEIGHT - 6}" text-anchor="end" font-size="11" fill="#212b32">now</text>',
    ]
    for n, (name, values) in enumerate(series.items()):
        colour, dash = COLOURS.get(name, "#212b32"), DASHES.get(name, "")
        points = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" '
                     f'points="{points}"/>')  # fmt: skip
        x = PAD + 10 + n * 130
        parts.append(f'<line x1="{x}" y1="12" x2="{x + 24}" y2="12" stroke="{colour}" stroke-width="2" '
                     f'stroke-dasharray="{dash}"/>')  # fmt: skip
        parts.append(f'<text x="{x + 30}" y="16" font-size="12" fill="#212b32">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
