"""Small SVG line charts for the widgets' metric curves and sweep objectives.

Why SVG in an `ipywidgets.HTML` rather than matplotlib, bqplot or plotly: it
adds no dependency and no frontend extension, renders in every frontend that
renders widgets (and in the saved widget state), redraws cheaply from a
background thread, and its content can be checked by tests without a browser.
"""
from __future__ import annotations

import html
import math
from typing import Sequence

Point = tuple[float, float]

WIDTH, HEIGHT = 260, 150
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 10, 22, 22
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(title: str, points: Sequence[Point], *, markers: bool = False, color: str = COLORS[0],
               highlight: Point | None = None) -> str:
    """One series as an SVG chart with its title and the ranges on the axes; empty input draws an empty frame."""
    points = [(float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    body = [f'<text x="{MARGIN_LEFT}" y="14" font-size="12" font-weight="bold">{html.escape(title)}</text>',
            f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{WIDTH - MARGIN_LEFT - MARGIN_RIGHT}" '
            f'height="{HEIGHT - MARGIN_TOP - MARGIN_BOTTOM}" fill="none" stroke="#ccc"/>']
    if points:
        scale = Scale(points)
        coordinates = " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in points)
        body.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="1.5" '
                    f'points="{coordinates}"/>')
        if markers or len(points) == 1:
            body += [f'<circle cx="{scale.x(x):.1f}" cy="{scale.y(y):.1f}" r="2.5" fill="{color}"/>'
                     for x, y in points]
        if highlight is not None:
            body.append(f'<circle class="best" cx="{scale.x(highlight[0]):.1f}" cy="{scale.y(highlight[1]):.1f}" '
                        f'r="5" fill="none" stroke="#d62728" stroke-width="2"/>')
        body += scale.labels()
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'font-family="sans-serif" data-points="{len(points)}">{"".join(body)}</svg>')


class Scale:
    """Maps data coordinates into the plot area, padding flat ranges so a single value still draws."""

    def __init__(self, points: Sequence[Point]):
        xs, ys = [x for x, _ in points], [y for _, y in points]
        self.x0, self.x1 = padded(min(xs), max(xs))
        self.y0, self.y1 = padded(min(ys), max(ys))

    def x(self, value: float) -> float:
        span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        return MARGIN_LEFT + (value - self.x0) / (self.x1 - self.x0) * span

    def y(self, value: float) -> float:
        span = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
        return HEIGHT - MARGIN_BOTTOM - (value - self.y0) / (self.y1 - self.y0) * span

    def labels(self) -> list[str]:
        bottom, right = HEIGHT - MARGIN_BOTTOM, WIDTH - MARGIN_RIGHT
        return [
            f'<text x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 9}" font-size="10" text-anchor="end">{fmt(self.y1)}</text>',
            f'<text x="{MARGIN_LEFT - 4}" y="{bottom}" font-size="10" text-anchor="end">{fmt(self.y0)}</text>',
            f'<text x="{MARGIN_LEFT}" y="{bottom + 14}" font-size="10">{fmt(self.x0)}</text>',
            f'<text x="{right}" y="{bottom + 14}" font-size="10" text-anchor="end">{fmt(self.x1)}</text>',
        ]


def padded(low: float, high: float) -> tuple[float, float]:
    if high > low:
        return low, high
    pad = abs(low) * 0.05 or 1.0
    return low - pad, high + pad


def charts_row(charts: Sequence[str]) -> str:
    """Several charts side by side, wrapping on narrow screens."""
    return '<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(charts) + "</div>"
