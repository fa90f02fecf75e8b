"""A small server-side SVG line chart: time on x, counts on y, no script, no CSS.

Drawn with presentation attributes only (`stroke`, `fill`), so a strict
Content-Security-Policy (no inline style) does not affect it. Accessible as one image:
`role="img"`, labelled by its `<title>` and described by its `<desc>` (a text summary);
the page shows the same numbers as a table next to it. Every drawn element carries a
`data-*` attribute naming what it is, which the unit tests read back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 40, 40, 44  # room for the first and last date labels


@dataclass(frozen=True)
class Series:
    """One line. `step`: drawn as a staircase (a level that holds until the next point)."""

    key: str
    label: str
    values: Sequence[int]
    colour: str
    dashed: bool = False
    step: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    times: Sequence[datetime]
    series: Sequence[Series]
    marks: Sequence[tuple[int, int, str]] = field(default_factory=tuple)
    """(point index, value, label): a marked point, e.g. an overage."""
    mark_colour: str = "#b00020"
    ident: str = "chart"


def nice_ceiling(value: float) -> int:
    """The axis top: the next of 1, 2 or 5 times 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * exponent:
            return int(step * exponent)
    return int(10 * exponent)  # pragma: no cover (the loop always returns)


class _Scale:
    def __init__(self, chart: Chart) -> None:
        self.t0 = min(chart.times).timestamp()
        self.t1 = max(chart.times).timestamp()
        top = max((v for s in chart.series for v in s.values), default=0)
        self.ymax = nice_ceiling(top * 1.1 if top else 1)
        self.x0, self.x1 = LEFT, WIDTH - RIGHT
        self.y0, self.y1 = HEIGHT - BOTTOM, TOP

    def x(self, when: datetime) -> float:
        span = self.t1 - self.t0
        if span <= 0:
            return (self.x0 + self.x1) / 2
        return self.x0 + (when.timestamp() - self.t0) / span * (self.x1 - self.x0)

    def y(self, value: int) -> float:
        return self.y0 - value / self.ymax * (self.y0 - self.y1)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _label(when: datetime, span_seconds: float) -> str:
    return when.strftime("%m-%d %H:%M" if span_seconds < 2 * 86400 else "%Y-%m-%d")


def _axes(chart: Chart, scale: _Scale) -> list[str]:
    out = [
        f'<line data-axis="x" x1="{scale.x0}" y1="{scale.y0}" x2="{scale.x1}" y2="{scale.y0}" '
        'stroke="#333333"/>',
        f'<line data-axis="y" x1="{scale.x0}" y1="{scale.y0}" x2="{scale.x0}" y2="{scale.y1}" '
        'stroke="#333333"/>',
    ]
    step = max(1, scale.ymax // 5) if scale.ymax >= 5 else 1
    for value in range(0, scale.ymax + 1, step):
        y = _f(scale.y(value))
        out.append(
            f'<line data-tick="y" x1="{scale.x0 - 4}" y1="{y}" x2="{scale.x1}" y2="{y}" '
            'stroke="#dddddd"/>'
        )
        out.append(
            f'<text data-tick-label="y" x="{scale.x0 - 8}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="11" fill="#333333">{value}</text>'
        )
    times = sorted(set(chart.times))
    shown = times if len(times) <= 6 else [times[round(i * (len(times) - 1) / 5)] for i in range(6)]
    span = scale.t1 - scale.t0
    for when in shown:
        x = _f(scale.x(when))
        out.append(
            f'<line data-tick="x" x1="{x}" y1="{scale.y0}" x2="{x}" y2="{scale.y0 + 4}" '
            'stroke="#333333"/>'
        )
        out.append(
            f'<text data-tick-label="x" x="{x}" y="{scale.y0 + 18}" text-anchor="middle" '
            f'font-size="11" fill="#333333">{escape(_label(when, span))}</text>'
        )
    return out


def _line(series: Series, chart: Chart, scale: _Scale) -> list[str]:
    points: list[tuple[float, float]] = []
    for i, (when, value) in enumerate(zip(chart.times, series.values, strict=True)):
        x, y = scale.x(when), scale.y(value)
        if series.step and i > 0:
            points.append((x, points[-1][1]))
        points.append((x, y))
    dash = ' stroke-dasharray="6 4"' if series.dashed else ""
    text = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
    out = [
        f'<polyline data-series={quoteattr(series.key)} points="{text}" fill="none" '
        f'stroke="{series.colour}" stroke-width="2"{dash}/>'
    ]
    if not series.step:
        for when, value in zip(chart.times, series.values, strict=True):
            out.append(
                f'<circle data-point={quoteattr(series.key)} data-value="{value}" '
                f'cx="{_f(scale.x(when))}" cy="{_f(scale.y(value))}" r="3" '
                f'fill="{series.colour}"/>'
            )
    return out


def _marks(chart: Chart, scale: _Scale) -> list[str]:
    out = []
    for index, value, label in chart.marks:
        x, y = scale.x(chart.times[index]), scale.y(value)
        triangle = f"{_f(x)},{_f(y - 13)} {_f(x - 6)},{_f(y - 4)} {_f(x + 6)},{_f(y - 4)}"
        out.append(
            f'<polygon data-mark="{index}" points="{triangle}" fill="{chart.mark_colour}">'
            f"<title>{escape(label)}</title></polygon>"
        )
    return out


def _legend(chart: Chart) -> list[str]:
    out, x = [], LEFT
    items = [(s.label, s.colour, s.dashed) for s in chart.series]
    if chart.marks:
        items.append(("overage", chart.mark_colour, False))
    for label, colour, dashed in items:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(
            f'<line x1="{x}" y1="18" x2="{x + 18}" y2="18" stroke="{colour}" '
            f'stroke-width="3"{dash}/>'
        )
        out.append(
            f'<text data-legend="" x="{x + 24}" y="22" font-size="12" fill="#333333">'
            f"{escape(label)}</text>"
        )
        x += 24 + 8 * len(label) + 24
    return out


def render(chart: Chart) -> str:
    """The chart as one `<svg>` element (a string of escaped markup)."""
    title_id, desc_id = f"{chart.ident}-title", f"{chart.ident}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" aria-labelledby="{title_id} {desc_id}">'
        f'<title id="{title_id}">{escape(chart.title)}</title>'
        f'<desc id="{desc_id}">{escape(chart.summary)}</desc>'
    )
    if not chart.times:
        empty = (
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="13" '
            'fill="#333333">No usage reported yet</text>'
        )
        return head + empty + "</svg>"
    scale = _Scale(chart)
    body = _axes(chart, scale)
    for series in chart.series:
        body += _line(series, chart, scale)
    body += _marks(chart, scale)
    body += _legend(chart)
    return head + "".join(body) + "</svg>"
