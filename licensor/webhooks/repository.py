"""Webhook queries: endpoints by tenant, deliveries of an endpoint, their attempts."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def endpoint(
    session: AsyncSession, business_id: str, mode: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.business_id == business_id,
            WebhookEndpoint.mode == mode,
        )
    )


async def endpoints_after(
    session: AsyncSession, business_id: str, mode: str, after: str | None, limit: int
) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.business_id == business_id, WebhookEndpoint.mode == mode
    )
    if after:
        stmt = stmt.where(WebhookEndpoint.id > after)
    return list((await session.scalars(stmt.order_by(WebhookEndpoint.id).limit(limit))).all())


async def deliveries_after(
    session: AsyncSession, endpoint_id: str, status: str | None, after: str | None, limit: int
) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if after:
        stmt = stmt.where(WebhookDelivery.id > after)
    return list((await session.scalars(stmt.order_by(WebhookDelivery.id).limit(limit))).all())


def recent_deliveries(endpoint_id: str) -> Select[WebhookDelivery]:
    """An endpoint's deliveries, newest first (the console's view of the log)."""
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    )


async def delivery(
    session: AsyncSession, endpoint_id: str, delivery_id: str
) -> WebhookDelivery | None:
    return await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )


async def attempts(session: AsyncSession, delivery_id: str) -> list[WebhookAttempt]:
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return list((await session.scalars(stmt)).all())
