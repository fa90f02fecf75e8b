from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import DeskLicense, LicenseNote


def list_statement(
    business_id: str,
    mode: str,
    *,
    customer_id: str | None,
    subscription_id: str | None,
    license_type: str | None,
) -> Select[DeskLicense]:
    stmt = select(DeskLicense).where(
        DeskLicense.business_id == business_id, DeskLicense.mode == mode
    )
    if customer_id is not None:
        stmt = stmt.where(DeskLicense.customer_id == customer_id)
    if subscription_id is not None:
        stmt = stmt.where(DeskLicense.subscription_id == subscription_id)
    if license_type is not None:
        stmt = stmt.where(DeskLicense.license_type == license_type)
    return stmt.order_by(DeskLicense.created_at.desc(), DeskLicense.id)


async def notes_for(session: AsyncSession, license_ids: list[str]) -> dict[str, list[LicenseNote]]:
    out: dict[str, list[LicenseNote]] = {i: [] for i in license_ids}
    if not license_ids:
        return out
    stmt = (
        select(LicenseNote)
        .where(LicenseNote.license_id.in_(license_ids))
        .order_by(LicenseNote.created_at, LicenseNote.id)
    )
    for note in (await session.scalars(stmt)).all():
        out[note.license_id].append(note)
    return out


async def key_hash_taken(session: AsyncSession, key_hash: bytes) -> bool:
    found = await session.scalar(select(DeskLicense.id).where(DeskLicense.key_hash == key_hash))
    return found is not None


async def by_key_hash(session: AsyncSession, key_hash: bytes) -> DeskLicense | None:
    return (
        await session.scalars(select(DeskLicense).where(DeskLicense.key_hash == key_hash))
    ).first()
