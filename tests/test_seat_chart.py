"""The server-drawn SVG chart (kit/svgchart.py) and the seat-usage chart built on it,
checked on their output: points, axes, overage marks, accessibility."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from licensor.kit import svgchart
from licensor.models import SeatLink, Subscription
from licensor.subscription import seat_chart

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def points(root: ET.Element, key: str) -> list[tuple[float, float]]:
    [line] = [p for p in root.iterfind("s:polyline", NS) if p.get("data-series") == key]
    pairs = [pair.split(",") for pair in (line.get("points") or "").split()]
    return [(float(x), float(y)) for x, y in pairs]


def chart(values: list[int], **extra: object) -> svgchart.Chart:
    times = [T0 + timedelta(days=i) for i in range(len(values))]
    series = [svgchart.Series("a", "users", values, "#000000")]
    return svgchart.Chart("Usage <&>", "summary & more", times, series, ident="c1", **extra)  # type: ignore[arg-type]


def test_accessible_image_with_title_and_description() -> None:
    root = parse(svgchart.render(chart([1, 2, 3])))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    title = root.find("s:title", NS)
    desc = root.find("s:desc", NS)
    assert title is not None
    assert title.get("id") == "c1-title"
    assert title.text == "Usage <&>"
    assert desc is not None
    assert desc.get("id") == "c1-desc"
    assert desc.text == "summary & more"
    assert root.find(".//s:script", NS) is None
    assert not [e for e in root.iter() if e.get("style") is not None]  # CSP: no inline style


def test_points_are_placed_on_the_axes() -> None:
    root = parse(svgchart.render(chart([0, 5, 10])))
    xs = {a.get("data-axis"): a for a in root.iterfind("s:line", NS) if a.get("data-axis")}
    x_axis, y_axis = xs["x"], xs["y"]
    baseline = float(x_axis.get("y1") or 0)
    left, right = float(x_axis.get("x1") or 0), float(x_axis.get("x2") or 0)
    assert float(y_axis.get("x1") or 0) == left
    pts = points(root, "a")
    assert [x for x, _ in pts] == [left, (left + right) / 2, right]  # time scale
    assert pts[0][1] == baseline  # 0 sits on the x axis
    assert pts[0][1] > pts[1][1] > pts[2][1]  # more is higher
    assert baseline - pts[1][1] == (baseline - pts[2][1]) / 2  # linear
    labels = [t.text for t in root.iterfind("s:text", NS) if t.get("data-tick-label") == "y"]
    assert labels[0] == "0"
    assert labels[-1] == "20"
    dates = [t.text for t in root.iterfind("s:text", NS) if t.get("data-tick-label") == "x"]
    assert dates == ["2026-11-01", "2026-11-02", "2026-11-03"]
    circles = [c.get("data-value") for c in root.iterfind("s:circle", NS)]
    assert circles == ["0", "5", "10"]


def test_nice_ceiling() -> None:
    assert [svgchart.nice_ceiling(v) for v in (0, 1, 1.1, 3, 7, 11, 49, 51, 1001)] == [
        1,
        1,
        2,
        5,
        10,
        20,
        50,
        100,
        2000,
    ]


def test_empty_and_single_point() -> None:
    empty = parse(svgchart.render(chart([])))
    assert empty.find("s:polyline", NS) is None
    assert "No usage reported yet" in "".join(empty.itertext())
    one = parse(svgchart.render(chart([4])))
    [(x, _)] = points(one, "a")
    assert x == (svgchart.LEFT + svgchart.WIDTH - svgchart.RIGHT) / 2


def link(day: int, billable: int, peak: int, seats: int) -> tuple[SeatLink, str]:
    row = SeatLink(
        id=f"seat_{day}",
        reported_at=T0 + timedelta(days=day),
        billable_users_count=billable,
        max_historical_users_count=peak,
        licensed_users_count=seats,
        overage=max(0, peak - seats),
    )
    return row, "gl-1"


def test_seat_usage_marks_overage_against_purchased_seats() -> None:
    sub = Subscription(id="sub_1", name="A-S0001", users_count=10)
    usage = seat_chart.build(
        sub, [link(0, 8, 9, 10), link(1, 12, 14, 10), link(2, 15, 15, 20), link(3, 21, 23, 20)]
    )
    root = parse(usage.svg)
    assert [len(points(root, k)) for k in ("billable", "peak")] == [4, 4]
    seats = points(root, "seats")
    assert len(seats) == 7  # a staircase: each level holds until the next report
    assert seats[1][1] == seats[0][1]
    assert seats[3][1] > seats[4][1]
    marks = list(root.iterfind("s:polygon", NS))
    assert [m.get("data-mark") for m in marks] == ["1", "3"]
    assert [m.findtext("s:title", namespaces=NS) for m in marks] == [
        "2026-11-02 00:00: 4 users over",
        "2026-11-04 00:00: 3 users over",
    ]
    # the mark sits above the peak point it flags
    peak_pts = points(root, "peak")
    tip_y = float((marks[0].get("points") or "").split()[0].split(",")[1])
    assert tip_y < peak_pts[1][1]
    assert usage.overages == 2
    assert [r.overage for r in usage.rows] == [0, 4, 0, 3]
    assert usage.summary == (
        "4 reports from 2026-11-01 to 2026-11-04. Latest: 21 billable users, peak 23, "
        "20 seats purchased. Overage in 2 reports, at most 4 users over (2026-11-02)."
    )
    desc = root.find("s:desc", NS)
    assert desc is not None
    assert desc.text == usage.summary
    legend = [t.text for t in root.iterfind("s:text", NS) if t.get("data-legend") is not None]
    assert legend == ["billable users", "peak users", "purchased seats", "overage"]


def test_seat_usage_without_reports() -> None:
    usage = seat_chart.build(Subscription(id="sub_2", name=None, users_count=5), [])
    assert usage.rows == []
    assert usage.summary == "No seat usage reported yet; 5 seats purchased."
    title = parse(usage.svg).find("s:title", NS)
    assert title is not None
    assert title.text == "Seat usage of sub_2"
