from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.repository import created_between
from licensor.models import Customer


def list_statement(
    business_id: str,
    mode: str,
    *,
    email: str | None,
    name: str | None,
    created_at_gte: datetime | None,
    created_at_lte: datetime | None,
) -> Select[Customer]:
    stmt = select(Customer).where(Customer.business_id == business_id, Customer.mode == mode)
    if email is not None:
        stmt = stmt.where(func.lower(Customer.email) == email.strip().lower())
    if name is not None:
        stmt = stmt.where(func.lower(Customer.name).contains(name.lower(), autoescape=True))
    stmt = created_between(stmt, Customer.created_at, created_at_gte, created_at_lte)
    return stmt.order_by(Customer.created_at.desc(), Customer.id)


async def by_ids(
    session: AsyncSession, business_id: str, mode: str, ids: set[str]
) -> list[Customer]:
    stmt = select(Customer).where(
        Customer.business_id == business_id, Customer.mode == mode, Customer.id.in_(ids)
    )
    return list((await session.scalars(stmt)).all())
