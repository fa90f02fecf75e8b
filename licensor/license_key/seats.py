"""Seats freed by someone other than the machine: force release (the API, the CLI, the
console) and the worker's sweep of silent floating seats (docs/machines.md).

Both delete the instance (the delete is the check: a seat is freed exactly once, whoever
frees it first, a deactivation or the hot store's own reaping included), lower the key's
counter, record `license_key_instance.released` naming who held the seat, and emit the
webhook event of the same name. The caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.errors import NotFound
from licensor.kit.origin import UNKNOWN_ACTOR, actor_of, origin_of
from licensor.kit.tenancy import Principal
from licensor.license_key import instance_service, repository
from licensor.license_key.hot_sql import REAPER, TIMEOUT
from licensor.models import LicenseKeyInstance
from licensor.product import service as product_service
from licensor.webhooks import events

FORCED = "force_release"
RELEASED = "license_key_instance.released"
SWEEP_BATCH = 500
REASON_MAX = 500
# Why staff released a seat (the API's `reason`, the CLI's `--reason`, the console's form).
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=REASON_MAX)]


def _holder(row: Any) -> dict[str, Any]:
    """Who held the seat, as the event records it."""
    return {
        "name": row.name,
        "fingerprint": row.fingerprint,
        "last_heartbeat_at": row.last_heartbeat_at,
    }


def _data(row: Any, reason: str, released_by: str, note: str | None) -> dict[str, Any]:
    """The `license_key_instance.released` payload: the instance and why it went."""
    return {
        "id": row.id,
        "business_id": row.business_id,
        "created_at": row.created_at,
        "license_key_id": row.license_key_id,
        **_holder(row),
        "reason": reason,
        "released_by": released_by,
        "note": note,
    }


async def _record(
    session: AsyncSession, row: Any, reason: str, note: str | None, actor: str | None
) -> None:
    changes = audit.removed({"license_key_id": row.license_key_id, **_holder(row)})
    audit.record(
        session,
        business_id=row.business_id,
        mode=row.mode,
        action=RELEASED,
        target_type="license_key_instance",
        target_id=row.id,
        changes=changes,
        note=note,
        actor=actor,
    )
    origin = origin_of(session)
    released_by = actor or (actor_of(origin) if origin is not None else UNKNOWN_ACTOR)
    data = _data(row, reason, released_by, note)
    await events.emit(session, row.business_id, row.mode, events.INSTANCE_RELEASED, data)


async def release(
    session: AsyncSession, who: Principal, instance_id: str, note: str | None = None
) -> LicenseKeyInstance:
    """Staff free a seat (`DELETE /license_key_instances/{id}`, `licensor license-keys
    release-seat`, the console): the instance is removed, its seat freed, and the event
    names who held it and why (`note`)."""
    row = await instance_service.get(session, who, instance_id)
    if not await repository.delete_instance(session, row.license_key_id, row.id):
        raise NotFound(  # freed at the same moment by someone else
            f"license key instance {instance_id} not found", code="LICENSE_KEY_INSTANCE_NOT_FOUND"
        )
    session.expunge(row)
    await _record(session, row, FORCED, note, None)
    return row


async def reap_silent(session: AsyncSession, now: datetime, limit: int = SWEEP_BATCH) -> int:
    """The worker's sweep: free up to `limit` floating seats whose machines have been
    silent for longer than their product's heartbeat interval plus grace; the number freed
    (the worker calls it again until it frees none)."""
    freed = 0
    for product_id, silence in await product_service.floating_silences(session):
        cutoff = now - timedelta(seconds=silence)
        gone = await repository.silent_of_product(session, product_id, cutoff, limit - freed)
        note = f"no heartbeat for more than {silence} s (interval + grace)"
        for row in gone:
            await _record(session, row, TIMEOUT, note, REAPER)
        freed += len(gone)
        if freed >= limit:
            break
    return freed
