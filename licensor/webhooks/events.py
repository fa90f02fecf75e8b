"""Webhook events: the types, the body (`{business_id, type, timestamp, data}`, Dodo's), and
`emit`, which queues one delivery per subscribed endpoint in the caller's transaction.

Dodo's one license event is `license_key.created`; the rest of the lifecycle is
Licensor's own (docs/events.md lists each with its payload). `emit` only flushes: the
request, CLI command or job that made the change commits the deliveries with it, so a
change that rolls back sends nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.config import Settings
from licensor.kit.clock import utcnow
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault
from licensor.models import WebhookDelivery, WebhookEndpoint

# Dodo's event types (dodopayments `types/webhook_event_type.py`): accepted in
# `filter_types` so an SDK caller may list them; Licensor emits `license_key.created`.
DODO_TYPES = (
    "payment.succeeded", "payment.failed", "payment.processing", "payment.cancelled",
    "refund.succeeded", "refund.failed",
    "dispute.opened", "dispute.expired", "dispute.accepted", "dispute.cancelled",
    "dispute.challenged", "dispute.won", "dispute.lost",
    "subscription.active", "subscription.renewed", "subscription.on_hold",
    "subscription.past_due", "subscription.paused", "subscription.unpaused",
    "subscription.cancelled", "subscription.failed", "subscription.expired",
    "subscription.plan_changed", "subscription.updated", "subscription.update_payment_method",
    "license_key.created",
    "payout.created", "payout.on_hold", "payout.in_progress", "payout.failed", "payout.success",
    "credit.added", "credit.deducted", "credit.expired", "credit.rolled_over",
    "credit.rollover_forfeited", "credit.overage_charged", "credit.overage_reset",
    "credit.manual_adjustment", "credit.balance_low",
    "abandoned_checkout.detected", "abandoned_checkout.recovered",
    "dunning.started", "dunning.recovered",
    "entitlement_grant.created", "entitlement_grant.delivered", "entitlement_grant.failed",
    "entitlement_grant.revoked",
)  # fmt: skip

KEY_CREATED = "license_key.created"
KEY_UPDATED = "license_key.updated"
KEY_DISABLED = "license_key.disabled"
KEY_ENABLED = "license_key.enabled"
KEY_EXPIRED = "license_key.expired"
INSTANCE_ACTIVATED = "license_key_instance.activated"
INSTANCE_DEACTIVATED = "license_key_instance.deactivated"
INSTANCE_RELEASED = "license_key_instance.released"
DESK_ISSUED = "desk_license.issued"
DESK_DUPLICATED = "desk_license.duplicated"
CODE_CREATED = "activation_code.created"
CODE_REVOKED = "activation_code.revoked"
SEAT_OVERAGE = "seat_link.over_purchase"
CLOUD_INSTANCE_REVOKED = "cloud_instance.revoked"
EMAIL_FAILED = "email.delivery_failed"
ENDPOINT_DISABLED = "webhook_endpoint.disabled"

LICENSOR_TYPES = (
    KEY_UPDATED, KEY_DISABLED, KEY_ENABLED, KEY_EXPIRED,
    INSTANCE_ACTIVATED, INSTANCE_DEACTIVATED, INSTANCE_RELEASED,
    DESK_ISSUED, DESK_DUPLICATED, CODE_CREATED, CODE_REVOKED, SEAT_OVERAGE,
    CLOUD_INSTANCE_REVOKED, EMAIL_FAILED, ENDPOINT_DISABLED,
)  # fmt: skip
EVENT_TYPES = frozenset(DODO_TYPES) | frozenset(LICENSOR_TYPES)


Data = Mapping[str, Any] | Callable[[], Awaitable[Mapping[str, Any]]]


def filter_key(types: list[str]) -> str:
    """`filter_types` as the text the raw SQL matches: `,a,b,`, or empty for every type."""
    return f",{','.join(types)}," if types else ""


def body(business_id: str, event_type: str, data: Mapping[str, Any], at: datetime) -> bytes:
    """The JSON body every endpoint receives (Dodo's envelope)."""
    return orjson.dumps(
        {"business_id": business_id, "type": event_type, "timestamp": at, "data": data},
        option=orjson.OPT_UTC_Z,
    )


def vault_of(session: AsyncSession) -> Vault:
    """The process's vault: every session of an `AppContext` carries it (kit/context.py)."""
    vault = session.info.get("vault")
    if not isinstance(vault, Vault):
        raise RuntimeError("this session has no vault: open it through an AppContext")
    return vault


def settings_of(session: AsyncSession) -> Settings:
    settings = session.info.get("settings")
    if not isinstance(settings, Settings):
        raise RuntimeError("this session has no settings: open it through an AppContext")
    return settings


def subscribed(business_id: str, mode: str, event_type: str) -> Any:
    return select(WebhookEndpoint.id).where(
        WebhookEndpoint.business_id == business_id,
        WebhookEndpoint.mode == mode,
        WebhookEndpoint.disabled.is_(False),
        (WebhookEndpoint.filter_key == "")
        | WebhookEndpoint.filter_key.contains(f",{event_type},", autoescape=True),
    )


async def emit(
    session: AsyncSession,
    business_id: str,
    mode: str,
    event_type: str,
    data: Data,
) -> list[WebhookDelivery]:
    """Queue `event_type` for every enabled endpoint of the business and mode that wants
    it, in the caller's transaction (flush only). No endpoint: one indexed query, nothing
    written. `data` may be a coroutine function, called only when an endpoint wants it."""
    assert event_type in EVENT_TYPES, event_type
    endpoint_ids = list((await session.scalars(subscribed(business_id, mode, event_type))).all())
    if not endpoint_ids:
        return []
    vault = vault_of(session)
    now = utcnow()
    if callable(data):
        data = await data()
    payload = body(business_id, event_type, data, now)
    event_id = new_id("msg")
    max_attempts = settings_of(session).webhooks_max_attempts
    rows = []
    for endpoint_id in endpoint_ids:
        row_id = new_id("whd")
        rows.append(
            WebhookDelivery(
                id=row_id,
                business_id=business_id,
                mode=mode,
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event_type,
                payload_encrypted=vault.encrypt(payload.decode(), row_id),
                status="queued",
                attempts=0,
                max_attempts=max_attempts,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    session.add_all(rows)
    await session.flush()
    return rows
