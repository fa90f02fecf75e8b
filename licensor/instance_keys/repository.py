"""Queries of instance keys, and the organisation's current subscription (read only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.camel import plausible_id
from licensor.models import InstanceKey


async def keys_of(session: AsyncSession, org_id: str) -> list[InstanceKey]:
    stmt = (
        select(InstanceKey)
        .where(InstanceKey.customer_id == org_id)
        .order_by(InstanceKey.created_at.desc(), InstanceKey.id.desc())
    )
    return list((await session.scalars(stmt)).all())


async def key(session: AsyncSession, org_id: str, key_id: str) -> InstanceKey | None:
    if not plausible_id(key_id):
        return None
    row = await session.get(InstanceKey, key_id)
    return row if row is not None and row.customer_id == org_id else None
