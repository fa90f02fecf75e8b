from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import CloudInstance


async def instance(
    session: AsyncSession, subscription_id: str, instance_id: str, *, lock: bool = False
) -> CloudInstance | None:
    """An activated instance; `lock` takes its row lock (PostgreSQL) for the request."""
    stmt = select(CloudInstance).where(
        CloudInstance.subscription_id == subscription_id,
        CloudInstance.instance_id == instance_id,
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()
