"""Emailing a cloud subscription's activation code (with the activation instructions) to
the subscription's customer, through the delivery outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.delivery import service as delivery
from licensor.kit.context import AppContext
from licensor.kit.errors import Conflict, NotFound
from licensor.models import Customer, EmailJob, Plan, Subscription

DATE_FORMAT = "%Y-%m-%d %H:%M UTC"


async def customer_of(session: AsyncSession, sub: Subscription) -> Customer:
    customer = await session.get(Customer, sub.customer_id)
    if customer is None:  # pragma: no cover - the foreign key cascades
        raise NotFound(f"customer {sub.customer_id} not found", code="CUSTOMER_NOT_FOUND")
    return customer


def check_sendable(sub: Subscription) -> None:
    """Only a cloud licensing `Yes` subscription's code is something the customer uses."""
    if sub.cloud_licensing != "Yes":
        raise Conflict(
            f"subscription {sub.external_id or sub.id} has cloud licensing "
            f"{sub.cloud_licensing or 'unset'}: only the activation code of a subscription "
            "with cloud licensing Yes is emailed",
            code="CLOUD_LICENSING_NOT_ENABLED",
        )


async def check_recipient(session: AsyncSession, sub: Subscription) -> None:
    """Everything that would refuse the email, checked before the code is made."""
    check_sendable(sub)
    customer = await customer_of(session, sub)
    await delivery.check_recipient(session, sub.business_id, sub.mode, customer.email)


async def send_activation_code(
    session: AsyncSession,
    ctx: AppContext,
    sub: Subscription,
    code: str,
    *,
    to: str | None = None,
    reason: str | None = None,
) -> EmailJob:
    """Queue the code and its instructions to the subscription's customer (or, with a
    reason, elsewhere). The delivery belongs to the subscription: `license_id` is `sub_…`."""
    check_sendable(sub)
    customer = await customer_of(session, sub)
    plan = await session.get(Plan, sub.plan_id)
    context: dict[str, Any] = {
        "subscription_id": sub.id,
        "activation_code": code,
        "product_name": plan.name if plan is not None else (sub.name or sub.id),
        "customer_name": customer.name,
        "expires_at": sub.expires_at.strftime(DATE_FORMAT) if sub.expires_at else None,
    }
    return await delivery.enqueue_license_email(
        session,
        ctx,
        business_id=sub.business_id,
        mode=sub.mode,
        license_id=sub.id,
        kind="activation_code",
        licensee_email=customer.email,
        context=context,
        to=to,
        reason=reason,
    )
