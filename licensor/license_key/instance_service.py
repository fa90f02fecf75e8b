from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.errors import NotFound
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.repository import get_scoped
from licensor.kit.tenancy import Principal
from licensor.models import LicenseKeyInstance


def list_statement(who: Principal, license_key_id: str | None) -> Select[LicenseKeyInstance]:
    stmt = select(LicenseKeyInstance).where(
        LicenseKeyInstance.business_id == who.business_id, LicenseKeyInstance.mode == who.mode
    )
    if license_key_id is not None:
        stmt = stmt.where(LicenseKeyInstance.license_key_id == license_key_id)
    return stmt.order_by(LicenseKeyInstance.created_at.desc(), LicenseKeyInstance.id)


async def list_page(
    session: AsyncSession, who: Principal, page: PageParams, license_key_id: str | None
) -> list[LicenseKeyInstance]:
    return await fetch_page(session, list_statement(who, license_key_id), page)


async def get(session: AsyncSession, who: Principal, instance_id: str) -> LicenseKeyInstance:
    row = await get_scoped(session, LicenseKeyInstance, instance_id, who.business_id, who.mode)
    if row is None:
        raise NotFound(
            f"license key instance {instance_id} not found", code="LICENSE_KEY_INSTANCE_NOT_FOUND"
        )
    return row


async def rename(
    session: AsyncSession, who: Principal, instance_id: str, name: str
) -> LicenseKeyInstance:
    row = await get(session, who, instance_id)
    changes = audit.changes_of({"name": (row.name, name)})
    row.name = name
    await session.flush()
    if changes:
        audit.event(session, row, "license_key_instance.renamed", changes)
    return row
