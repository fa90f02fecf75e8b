from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import ActivationCode, CloudInstance


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


async def holding_slots(session: AsyncSession, subscription_id: str, live_code_id: str) -> int:
    """How many of the subscription's instances hold a slot: not revoked, and activated
    with its live code."""
    stmt = select(func.count()).where(
        CloudInstance.subscription_id == subscription_id,
        CloudInstance.activation_code_id == live_code_id,
        CloudInstance.revoked_at.is_(None),
    )
    return int(await session.scalar(stmt) or 0)


def list_statement(subscription_id: str) -> Select[CloudInstance]:
    """A subscription's instances, the last activated first."""
    return (
        select(CloudInstance)
        .where(CloudInstance.subscription_id == subscription_id)
        .order_by(CloudInstance.activated_at.desc(), CloudInstance.id.desc())
    )


async def by_row_id(
    session: AsyncSession, subscription_id: str, row_id: str, *, lock: bool = False
) -> CloudInstance | None:
    stmt = select(CloudInstance).where(
        CloudInstance.id == row_id, CloudInstance.subscription_id == subscription_id
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def revoked_codes(session: AsyncSession, code_ids: set[str]) -> set[str]:
    """Which of these activation codes are revoked."""
    if not code_ids:
        return set()
    stmt = select(ActivationCode.id).where(
        ActivationCode.id.in_(code_ids), ActivationCode.revoked_at.is_not(None)
    )
    return set((await session.scalars(stmt)).all())
