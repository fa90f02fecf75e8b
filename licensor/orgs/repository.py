"""Queries of organisations (customers), their members and member tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.camel import plausible_id
from licensor.models import Customer, MemberToken, OrgMember


async def organisation(
    session: AsyncSession, business_id: str, mode: str, org_id: str
) -> Customer | None:
    if not plausible_id(org_id):
        return None
    row = await session.get(Customer, org_id)
    if row is None or row.business_id != business_id or row.mode != mode:
        return None
    return row


async def member(session: AsyncSession, org_id: str, member_id: str) -> OrgMember | None:
    if not plausible_id(member_id):
        return None
    row = await session.get(OrgMember, member_id)
    return row if row is not None and row.customer_id == org_id else None


async def member_by_email(session: AsyncSession, org_id: str, email: str) -> OrgMember | None:
    stmt = select(OrgMember).where(OrgMember.customer_id == org_id, OrgMember.email == email)
    return (await session.scalars(stmt)).first()


async def members_for_login(
    session: AsyncSession, email: str, *, mode: str, business_id: str | None, org_id: str | None
) -> list[OrgMember]:
    """The members with this email in one business or organisation and mode (at most two)."""
    stmt = select(OrgMember).where(OrgMember.email == email, OrgMember.mode == mode)
    if business_id is not None:
        stmt = stmt.where(OrgMember.business_id == business_id)
    if org_id is not None:
        stmt = stmt.where(OrgMember.customer_id == org_id)
    return list((await session.scalars(stmt.limit(2))).all())


async def locked_member(session: AsyncSession, member_id: str) -> OrgMember | None:
    """A member as of now, row-locked (PostgreSQL) until the transaction ends: a
    concurrent role change or removal waits for it, or it sees theirs."""
    stmt = (
        select(OrgMember)
        .where(OrgMember.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def use_invite(session: AsyncSession, invite_id: str, now: datetime) -> str | None:
    """Revoke a live invite token; its member's id, or None when it was no longer live."""
    stmt = (
        update(MemberToken)
        .where(
            MemberToken.id == invite_id,
            MemberToken.kind == "invite",
            MemberToken.revoked_at.is_(None),
            MemberToken.expires_at > now,
        )
        .values(revoked_at=now)
        .returning(MemberToken.member_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def owner(session: AsyncSession, org_id: str, *, lock: bool = False) -> OrgMember | None:
    stmt = select(OrgMember).where(OrgMember.customer_id == org_id, OrgMember.role == "owner")
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def members(session: AsyncSession, org_id: str) -> list[OrgMember]:
    stmt = (
        select(OrgMember)
        .where(OrgMember.customer_id == org_id)
        .order_by(OrgMember.created_at, OrgMember.id)
    )
    return list((await session.scalars(stmt)).all())


async def token_by_hash(session: AsyncSession, digest: bytes) -> MemberToken | None:
    stmt = select(MemberToken).where(MemberToken.token_hash == digest)
    return (await session.scalars(stmt)).first()


async def tokens_of(session: AsyncSession, member_id: str) -> list[MemberToken]:
    stmt = (
        select(MemberToken)
        .where(MemberToken.member_id == member_id, MemberToken.kind != "invite")
        .order_by(MemberToken.created_at.desc(), MemberToken.id)
    )
    return list((await session.scalars(stmt)).all())


async def token(session: AsyncSession, token_id: str) -> MemberToken | None:
    if not plausible_id(token_id):
        return None
    return await session.get(MemberToken, token_id)
