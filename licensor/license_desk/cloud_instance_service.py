"""Staff's side of cloud instances: a subscription's instances (with their state) and
revoking one. A revoked instance keeps its row, for good: its seat links and
re-activations are refused (`CLOUD_INSTANCE_REVOKED`) and its slot is free. Services
only flush; the request or CLI command owns the transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.tenancy import Principal
from licensor.license_desk import cloud_repository as repository
from licensor.license_desk.cloud_schemas import CloudInstanceOut, CloudInstanceStatus
from licensor.models import CloudInstance, Subscription
from licensor.subscription import service as subscription_service
from licensor.webhooks import events


def status_of(row: CloudInstance, revoked_codes: set[str]) -> CloudInstanceStatus:
    if row.revoked_at is not None:
        return "revoked"
    if row.activation_code_id is None or row.activation_code_id in revoked_codes:
        return "code_revoked"
    return "active"


async def to_out(session: AsyncSession, rows: list[CloudInstance]) -> list[CloudInstanceOut]:
    codes = {r.activation_code_id for r in rows if r.activation_code_id is not None}
    revoked = await repository.revoked_codes(session, codes)
    return [
        CloudInstanceOut(
            id=r.id,
            subscription_id=r.subscription_id,
            instance_id=r.instance_id,
            license_id=r.license_id,
            activation_code_id=r.activation_code_id,
            status=status_of(r, revoked),
            activated_at=r.activated_at,
            last_seen_at=r.last_seen_at,
            revoked_at=r.revoked_at,
        )
        for r in rows
    ]


async def list_page(
    session: AsyncSession, who: Principal, sub_id: str, page: PageParams
) -> list[CloudInstanceOut]:
    """The subscription's cloud instances, the last activated first."""
    sub = await subscription_service.get(session, who, sub_id)
    return await to_out(session, await fetch_page(session, repository.list_statement(sub.id), page))


async def _row(
    session: AsyncSession, who: Principal, sub_id: str, instance_row_id: str, *, lock: bool
) -> tuple[Subscription, CloudInstance]:
    sub = await subscription_service.get(session, who, sub_id)
    row = await repository.by_row_id(session, sub.id, instance_row_id, lock=lock)
    if row is None:
        raise NotFound(
            f"cloud instance {instance_row_id} not found in subscription {sub.id}",
            code="CLOUD_INSTANCE_NOT_FOUND",
        )
    return sub, row


async def get(
    session: AsyncSession, who: Principal, sub_id: str, instance_row_id: str
) -> CloudInstanceOut:
    """One of the subscription's instances, by its `ins_…` id."""
    _, row = await _row(session, who, sub_id, instance_row_id, lock=False)
    return (await to_out(session, [row]))[0]


async def revoke(
    session: AsyncSession, who: Principal, sub_id: str, instance_row_id: str
) -> CloudInstanceOut:
    """Revoke the instance (`ins_…`) of the subscription; revoking it again changes nothing."""
    sub, row = await _row(session, who, sub_id, instance_row_id, lock=True)
    if row.revoked_at is not None:
        return (await to_out(session, [row]))[0]
    row.revoked_at = utcnow()
    await session.flush()
    audit.event(
        session,
        row,
        "cloud_instance.revoked",
        audit.changes_of({"revoked_at": (None, row.revoked_at)}),
    )
    [out] = await to_out(session, [row])
    data = out.model_dump(mode="json")
    await events.emit(session, sub.business_id, sub.mode, events.CLOUD_INSTANCE_REVOKED, data)
    return out
