"""Subscriptions: a customer's plan, seats, term, billing reference and cloud licensing
mode. A subscription with cloud licensing `Yes` always has a live activation code (see
`codes`). Cancelling keeps the row (licenses refer to it). Services only flush."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.customer import service as customer_service
from licensor.kit.clock import utcnow
from licensor.kit.context import AppContext
from licensor.kit.errors import Conflict, NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.repository import get_scoped
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.models import DeskLicense, SeatLink, Subscription
from licensor.plan import service as plan_service
from licensor.subscription import codes, mail, repository
from licensor.subscription.schemas import SubscriptionCreate, SubscriptionOut, SubscriptionUpdate


async def get(session: AsyncSession, who: Principal, subscription_id: str) -> Subscription:
    row = await get_scoped(session, Subscription, subscription_id, who.business_id, who.mode)
    if row is None:
        raise NotFound(f"subscription {subscription_id} not found", code="SUBSCRIPTION_NOT_FOUND")
    return row


async def resolve(session: AsyncSession, who: Principal, reference: str) -> Subscription:
    """A subscription by Licensor id or by the billing system's id; the error names it."""
    row = await get_scoped(session, Subscription, reference, who.business_id, who.mode)
    if row is None and len(reference) <= 100:
        row = await repository.by_external_id(session, who.business_id, who.mode, reference)
    if row is None:
        raise NotFound(f"subscription {reference!r} not found", code="SUBSCRIPTION_NOT_FOUND")
    return row


async def to_out(session: AsyncSession, rows: list[Subscription]) -> list[SubscriptionOut]:
    plans = await repository.plan_terms(session, {r.plan_id for r in rows})
    coded = await repository.with_live_code(session, {r.id for r in rows})
    return [
        SubscriptionOut(
            id=r.id,
            customer_id=r.customer_id,
            plan_id=r.plan_id,
            plan_code=plans[r.plan_id][0],
            users_count=r.users_count,
            starts_at=r.starts_at,
            expires_at=r.expires_at,
            external_id=r.external_id,
            name=r.name,
            cloud_licensing=r.cloud_licensing,
            seat_reconciliation=r.seat_reconciliation,
            max_instances=r.max_instances,
            effective_max_instances=r.max_instances or plans[r.plan_id][1],
            cancelled_at=r.cancelled_at,
            has_activation_code=r.id in coded,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def _check(row: Subscription) -> None:
    if row.expires_at is not None and row.expires_at <= row.starts_at:
        raise Unprocessable("expires_at must be after starts_at", code="INVALID_TERM")
    if row.cloud_licensing == "Yes" and row.seat_reconciliation is None:
        raise Unprocessable(
            "cloud licensing Yes needs a cloud-compatible subscription: set seat_reconciliation",
            code="SUBSCRIPTION_NOT_CLOUD_COMPATIBLE",
        )


async def _external_id_free(
    session: AsyncSession, who: Principal, external_id: str | None, own_id: str | None
) -> None:
    if external_id is None:
        return
    other = await repository.by_external_id(session, who.business_id, who.mode, external_id)
    if other is not None and other.id != own_id:
        raise Conflict(
            f"a subscription with external_id {external_id!r} already exists",
            code="SUBSCRIPTION_EXTERNAL_ID_TAKEN",
        )


async def create(
    session: AsyncSession, ctx: AppContext, who: Principal, body: SubscriptionCreate
) -> Subscription:
    customer = await customer_service.get(session, who, body.customer_id)
    plan = await plan_service.by_code(session, who, body.plan_code)
    await _external_id_free(session, who, body.external_id, None)
    now = utcnow()
    row = Subscription(
        id=new_id("sub"),
        business_id=who.business_id,
        mode=who.mode,
        customer_id=customer.id,
        plan_id=plan.id,
        users_count=body.users_count,
        starts_at=body.starts_at,
        expires_at=body.expires_at,
        external_id=body.external_id,
        name=body.name,
        cloud_licensing=body.cloud_licensing,
        seat_reconciliation=body.seat_reconciliation,
        max_instances=body.max_instances,
        created_at=now,
        updated_at=now,
    )
    _check(row)
    if body.send_email:  # the recipient rules, before anything is written
        await mail.check_recipient(session, row)
    session.add(row)
    await session.flush()
    audit.creation(session, row, "subscription.created", AUDITED)
    await codes.ensure_for_cloud(session, ctx.vault, row)
    if body.send_email:
        code, _ = await codes.show(session, ctx.vault, row)
        await mail.send_activation_code(session, ctx, row, code)
    return row


AUDITED = (
    "customer_id",
    "plan_id",
    "users_count",
    "starts_at",
    "expires_at",
    "external_id",
    "name",
    "cloud_licensing",
    "seat_reconciliation",
    "max_instances",
    "cancelled_at",
)


async def update(
    session: AsyncSession, vault: Vault, who: Principal, sub_id: str, body: SubscriptionUpdate
) -> Subscription:
    row = await get(session, who, sub_id)
    before = audit.snapshot(row, AUDITED)
    sent = body.model_fields_set
    for required in ("plan_code", "users_count", "starts_at"):
        if required in sent and getattr(body, required) is None:
            raise Unprocessable(f"{required} cannot be null", code="VALIDATION_ERROR")
    if body.plan_code is not None:
        row.plan_id = (await plan_service.by_code(session, who, body.plan_code)).id
    if "external_id" in sent:
        await _external_id_free(session, who, body.external_id, row.id)
    for field in (
        "users_count",
        "starts_at",
        "expires_at",
        "external_id",
        "name",
        "cloud_licensing",
        "seat_reconciliation",
        "max_instances",
    ):
        if field in sent:
            setattr(row, field, getattr(body, field))
    _check(row)
    row.updated_at = utcnow()
    await session.flush()
    audit.change(session, row, "subscription.updated", AUDITED, before)
    await codes.ensure_for_cloud(session, vault, row)
    return row


async def cancel(session: AsyncSession, who: Principal, sub_id: str) -> Subscription:
    row = await get(session, who, sub_id)
    if row.cancelled_at is None:
        row.cancelled_at = utcnow()
        row.updated_at = row.cancelled_at
        audit.event(
            session,
            row,
            "subscription.cancelled",
            audit.changes_of({"cancelled_at": (None, row.cancelled_at)}),
        )
        await codes.revoke(session, row)
    await session.flush()
    return row


async def list_page(
    session: AsyncSession,
    who: Principal,
    page: PageParams,
    customer_id: str | None,
    *,
    q: str | None = None,
    email: str | None = None,
    company: str | None = None,
) -> list[Subscription]:
    """Newest first. `q`: the console's one search box (subscription id or billing
    subscription id exactly, customer email or domain, company or customer name,
    subscription name); `email`: a whole address or a domain; `company`: part of the
    customer's name or of a desk license's company issued from the subscription. All
    case-insensitive; the given filters must all match."""
    stmt = repository.list_statement(
        who.business_id, who.mode, customer_id, q=q, email=email, company=company
    )
    return await fetch_page(session, stmt, page)


async def seat_links(
    session: AsyncSession, who: Principal, sub_id: str, page: PageParams
) -> list[tuple[SeatLink, str]]:
    """The usage reports of the subscription's cloud instances, newest first, with the
    reporting instance's id."""
    sub = await get(session, who, sub_id)
    offset = page.page_number * page.page_size
    return await repository.seat_links(session, sub.id, page.page_size, offset)


async def licenses(
    session: AsyncSession, who: Principal, sub_id: str, limit: int = 100
) -> list[DeskLicense]:
    """The desk licenses issued from the subscription (by the desk or by cloud
    activation), newest first."""
    sub = await get(session, who, sub_id)
    return await repository.desk_licenses(session, sub.id, limit)
