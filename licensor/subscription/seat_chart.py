"""The seat-usage chart of a subscription, from its seat links: billable users and peak
(historical maximum) users against the purchased seats each report was checked against,
overage marked. Drawn on the server (`kit/svgchart.py`); `rows` are the same numbers for
the table shown with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit import svgchart
from licensor.kit.tenancy import Principal
from licensor.models import SeatLink, Subscription
from licensor.subscription import repository
from licensor.subscription import service as subscription_service

MAX_POINTS = 200  # the newest reports; the seat links API pages through all of them
BILLABLE, PEAK, SEATS = "#1f5fbf", "#6a3d9a", "#2d6a2d"


@dataclass(frozen=True)
class UsageRow:
    reported_at: datetime
    instance_id: str
    billable: int
    peak: int
    seats: int
    overage: int


@dataclass(frozen=True)
class SeatUsage:
    rows: list[UsageRow]  # oldest first
    summary: str
    svg: str

    @property
    def overages(self) -> int:
        return sum(1 for r in self.rows if r.overage > 0)


def summarise(sub: Subscription, rows: list[UsageRow]) -> str:
    if not rows:
        return f"No seat usage reported yet; {sub.users_count} seats purchased."
    last = rows[-1]
    over = [r for r in rows if r.overage > 0]
    text = (
        f"{len(rows)} reports from {rows[0].reported_at:%Y-%m-%d} to "
        f"{last.reported_at:%Y-%m-%d}. Latest: {last.billable} billable users, peak "
        f"{last.peak}, {last.seats} seats purchased."
    )
    if over:
        worst = max(over, key=lambda r: r.overage)
        text += (
            f" Overage in {len(over)} reports, at most {worst.overage} users over "
            f"({worst.reported_at:%Y-%m-%d})."
        )
    else:
        text += " No overage."
    return text


def build(sub: Subscription, links: list[tuple[SeatLink, str]]) -> SeatUsage:
    """`links`: oldest report first, each with its instance id."""
    rows = [
        UsageRow(
            reported_at=link.reported_at,
            instance_id=instance_id,
            billable=link.billable_users_count,
            peak=link.max_historical_users_count,
            seats=link.licensed_users_count,
            overage=link.overage,
        )
        for link, instance_id in links
    ]
    summary = summarise(sub, rows)
    chart = svgchart.Chart(
        title=f"Seat usage of {sub.name or sub.id}",
        summary=summary,
        times=[r.reported_at for r in rows],
        series=[
            svgchart.Series("billable", "billable users", [r.billable for r in rows], BILLABLE),
            svgchart.Series("peak", "peak users", [r.peak for r in rows], PEAK, dashed=True),
            svgchart.Series("seats", "purchased seats", [r.seats for r in rows], SEATS, step=True),
        ],
        marks=[
            (i, r.peak, f"{r.reported_at:%Y-%m-%d %H:%M}: {r.overage} users over")
            for i, r in enumerate(rows)
            if r.overage > 0
        ],
        ident=f"seats-{sub.id}",
    )
    return SeatUsage(rows=rows, summary=summary, svg=svgchart.render(chart))


async def seat_usage(session: AsyncSession, who: Principal, sub_id: str) -> SeatUsage:
    sub = await subscription_service.get(session, who, sub_id)
    newest = await repository.seat_links(session, sub.id, MAX_POINTS, 0)
    return build(sub, sorted(newest, key=lambda pair: (pair[0].reported_at, pair[0].id)))
