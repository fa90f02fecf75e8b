"""An endpoint's delivery log (each delivery, its request and attempts) and resend."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict, NotFound
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.models import WebhookDelivery
from licensor.webhooks import repository, service
from licensor.webhooks.events import settings_of
from licensor.webhooks.schemas import AttemptOut, DeliveryDetail, DeliveryOut, DeliveryPage


class DeliveryNotFound(NotFound):
    code = "WEBHOOK_DELIVERY_NOT_FOUND"


def to_out(row: WebhookDelivery) -> DeliveryOut:
    pending = row.status in ("queued", "sending")
    return DeliveryOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        next_attempt_at=row.next_attempt_at if pending else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        resend_of=row.resend_of,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def request_of(vault: Vault, row: WebhookDelivery) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(vault.decrypt(row.payload_encrypted, row.id))
    return parsed


async def list_page(
    session: AsyncSession,
    who: Principal,
    endpoint_id: str,
    status: str | None,
    iterator: str | None,
    limit: int,
) -> DeliveryPage:
    await service.get(session, who, endpoint_id)
    rows = await repository.deliveries_after(session, endpoint_id, status, iterator, limit + 1)
    done = len(rows) <= limit
    rows = rows[:limit]
    return DeliveryPage(
        data=[to_out(r) for r in rows],
        iterator=None if done or not rows else rows[-1].id,
        done=done,
    )


async def recent(
    session: AsyncSession, who: Principal, endpoint_id: str, page: PageParams
) -> list[DeliveryOut]:
    """A page of the endpoint's deliveries, newest first (the console's log)."""
    await service.get(session, who, endpoint_id)
    rows = await fetch_page(session, repository.recent_deliveries(endpoint_id), page)
    return [to_out(r) for r in rows]


async def get(
    session: AsyncSession, who: Principal, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    await service.get(session, who, endpoint_id)
    row = await repository.delivery(session, endpoint_id, delivery_id)
    if row is None:
        raise DeliveryNotFound(f"delivery {delivery_id} not found")
    return row


async def detail(
    session: AsyncSession, vault: Vault, who: Principal, endpoint_id: str, delivery_id: str
) -> DeliveryDetail:
    row = await get(session, who, endpoint_id, delivery_id)
    attempts = await repository.attempts(session, row.id)
    return DeliveryDetail(
        **to_out(row).model_dump(),
        request=request_of(vault, row),
        attempt_log=[AttemptOut.model_validate(a) for a in attempts],
    )


async def resend(
    session: AsyncSession, vault: Vault, who: Principal, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    """The same event (same `webhook-id` and body) again, as a new delivery."""
    source = await get(session, who, endpoint_id, delivery_id)
    if source.status in ("queued", "sending"):
        raise Conflict(
            f"delivery {source.id} is still {source.status}", code="WEBHOOK_DELIVERY_PENDING"
        )
    endpoint = await service.get(session, who, endpoint_id)
    if endpoint.disabled:
        raise Conflict(f"webhook {endpoint.id} is disabled", code="WEBHOOK_DISABLED")
    now = utcnow()
    row_id = new_id("whd")
    row = WebhookDelivery(
        id=row_id,
        business_id=source.business_id,
        mode=source.mode,
        endpoint_id=source.endpoint_id,
        event_id=source.event_id,
        event_type=source.event_type,
        payload_encrypted=vault.encrypt(vault.decrypt(source.payload_encrypted, source.id), row_id),
        status="queued",
        attempts=0,
        max_attempts=settings_of(session).webhooks_max_attempts,
        next_attempt_at=now,
        resend_of=source.id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    fields = ("endpoint_id", "event_id", "event_type", "resend_of")
    audit.creation(session, row, "webhook_delivery.resent", fields)
    return row
