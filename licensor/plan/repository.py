from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import Plan, Subscription


def list_statement(business_id: str, mode: str) -> Select[Plan]:
    return (
        select(Plan).where(Plan.business_id == business_id, Plan.mode == mode).order_by(Plan.code)
    )


async def by_code(session: AsyncSession, business_id: str, mode: str, code: str) -> Plan | None:
    stmt = select(Plan).where(Plan.business_id == business_id, Plan.mode == mode, Plan.code == code)
    return (await session.scalars(stmt)).first()


async def in_use(session: AsyncSession, plan_id: str) -> bool:
    found = await session.scalar(select(Subscription.id).where(Subscription.plan_id == plan_id))
    return found is not None
