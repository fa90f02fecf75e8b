"""Queries on staff members and their console sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import Business, StaffMember, StaffSession


async def by_email(session: AsyncSession, email: str, limit: int) -> Sequence[StaffMember]:
    """The accounts with this (normalised) email, in every business (at most `limit`)."""
    stmt = (
        select(StaffMember)
        .where(StaffMember.email == email)
        .order_by(StaffMember.business_id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def in_business(session: AsyncSession, business_id: str) -> Sequence[StaffMember]:
    stmt = (
        select(StaffMember)
        .where(StaffMember.business_id == business_id)
        .order_by(StaffMember.email)
    )
    return (await session.scalars(stmt)).all()


async def locked(session: AsyncSession, staff_id: str) -> StaffMember | None:
    """A staff member as of now, row-locked on PostgreSQL until the transaction ends."""
    stmt = (
        select(StaffMember)
        .where(StaffMember.id == staff_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def lock_business(session: AsyncSession, business_id: str) -> None:
    """Serialise the staff changes of one business (PostgreSQL; SQLite's write lock does)."""
    stmt = select(Business.id).where(Business.id == business_id).with_for_update()
    await session.execute(stmt)


async def count_admins(session: AsyncSession, business_id: str) -> int:
    stmt = select(func.count()).where(
        StaffMember.business_id == business_id, StaffMember.role == "admin"
    )
    return int((await session.execute(stmt)).scalar_one())


async def business_names(session: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(select(Business.id, Business.name).where(Business.id.in_(ids)))
    return {row.id: row.name for row in rows}


async def session_by_hash(
    session: AsyncSession, digest: bytes
) -> tuple[StaffSession, StaffMember] | None:
    stmt = (
        select(StaffSession, StaffMember)
        .join(StaffMember, StaffMember.id == StaffSession.staff_id)
        .where(StaffSession.token_hash == digest)
    )
    found = (await session.execute(stmt)).first()
    if found is None:
        return None
    staff_session, member = found
    return staff_session, member


async def end_sessions(session: AsyncSession, staff_id: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))


async def end_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.id == session_id))


async def purge_expired(session: AsyncSession, staff_id: str, now: datetime) -> None:
    await session.execute(
        delete(StaffSession).where(
            StaffSession.staff_id == staff_id, StaffSession.expires_at <= now
        )
    )


async def by_email_in(session: AsyncSession, business_id: str, email: str) -> StaffMember | None:
    stmt = select(StaffMember).where(
        StaffMember.business_id == business_id, StaffMember.email == email
    )
    return (await session.scalars(stmt)).first()
