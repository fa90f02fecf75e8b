from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import ActivationCode, CloudInstance, Plan, SeatLink, Subscription


def list_statement(business_id: str, mode: str, customer_id: str | None) -> Select[Subscription]:
    stmt = select(Subscription).where(
        Subscription.business_id == business_id, Subscription.mode == mode
    )
    if customer_id is not None:
        stmt = stmt.where(Subscription.customer_id == customer_id)
    return stmt.order_by(Subscription.created_at.desc(), Subscription.id)


async def by_external_id(
    session: AsyncSession, business_id: str, mode: str, external_id: str
) -> Subscription | None:
    stmt = select(Subscription).where(
        Subscription.business_id == business_id,
        Subscription.mode == mode,
        Subscription.external_id == external_id,
    )
    return (await session.scalars(stmt)).first()


async def plan_codes(session: AsyncSession, plan_ids: set[str]) -> dict[str, str]:
    if not plan_ids:
        return {}
    rows = await session.execute(select(Plan.id, Plan.code).where(Plan.id.in_(plan_ids)))
    return {r.id: r.code for r in rows}


async def live_code(session: AsyncSession, subscription_id: str) -> ActivationCode | None:
    stmt = select(ActivationCode).where(
        ActivationCode.subscription_id == subscription_id, ActivationCode.revoked_at.is_(None)
    )
    return (await session.scalars(stmt)).first()


async def with_live_code(session: AsyncSession, subscription_ids: set[str]) -> set[str]:
    if not subscription_ids:
        return set()
    stmt = select(ActivationCode.subscription_id).where(
        ActivationCode.subscription_id.in_(subscription_ids), ActivationCode.revoked_at.is_(None)
    )
    return set((await session.scalars(stmt)).all())


async def code_by_hash(session: AsyncSession, code_hash: bytes) -> ActivationCode | None:
    stmt = select(ActivationCode).where(ActivationCode.code_hash == code_hash)
    return (await session.scalars(stmt)).first()


async def seat_links(
    session: AsyncSession, subscription_id: str, limit: int, offset: int
) -> list[tuple[SeatLink, str]]:
    stmt = (
        select(SeatLink, CloudInstance.instance_id)
        .join(CloudInstance, CloudInstance.id == SeatLink.cloud_instance_id)
        .where(SeatLink.subscription_id == subscription_id)
        .order_by(SeatLink.created_at.desc(), SeatLink.id)
        .limit(limit)
        .offset(offset)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
