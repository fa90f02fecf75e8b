from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import CloudInstance


async def instance(
    session: AsyncSession, subscription_id: str, instance_id: str
) -> CloudInstance | None:
    stmt = select(CloudInstance).where(
        CloudInstance.subscription_id == subscription_id,
        CloudInstance.instance_id == instance_id,
    )
    return (await session.scalars(stmt)).first()
