from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.models import (
    ActivationCode,
    CloudInstance,
    Customer,
    DeskLicense,
    Plan,
    SeatLink,
    Subscription,
)

ESCAPE = "\\"


def _contains(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % and _ taken literally."""
    quoted = text.replace(ESCAPE, ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{quoted}%"


def _ends_with(text: str) -> str:
    return _contains(text)[:-1]


def email_matches(email: str) -> ColumnElement[bool]:
    """A whole address (case-insensitive), or with no local part (`acme.com`,
    `@acme.com`) every address at that domain."""
    email = email.strip().lower()
    if "@" in email and not email.startswith("@"):
        return func.lower(Customer.email) == email
    domain = email.removeprefix("@")
    return func.lower(Customer.email).like(_ends_with(f"@{domain}"), escape=ESCAPE)


def company_matches(company: str) -> ColumnElement[bool]:
    """The customer's name, or the company of a desk license issued from the subscription,
    containing `company` (case-insensitive)."""
    pattern = _contains(company.strip().lower())
    licensed = exists().where(
        DeskLicense.subscription_id == Subscription.id,
        func.lower(DeskLicense.licensee_company).like(pattern, escape=ESCAPE),
    )
    return or_(func.lower(Customer.name).like(pattern, escape=ESCAPE), licensed)


def query_matches(q: str) -> ColumnElement[bool]:
    """The one search box: a subscription id or billing subscription id (exact), a
    customer email or domain, a company or customer name, a subscription name."""
    q = q.strip()
    if not q:
        return false()
    pattern = _contains(q.lower())
    conditions: list[ColumnElement[bool]] = [
        Subscription.id == q,
        Subscription.external_id == q,
        func.lower(Subscription.name).like(pattern, escape=ESCAPE),
        company_matches(q),
    ]
    if " " not in q and ("@" in q or "." in q):
        conditions.append(email_matches(q))
    return or_(*conditions)


def list_statement(
    business_id: str,
    mode: str,
    customer_id: str | None,
    *,
    q: str | None = None,
    email: str | None = None,
    company: str | None = None,
) -> Select[Subscription]:
    stmt = select(Subscription).where(
        Subscription.business_id == business_id, Subscription.mode == mode
    )
    if customer_id is not None:
        stmt = stmt.where(Subscription.customer_id == customer_id)
    if q is not None or email is not None or company is not None:
        stmt = stmt.join(Customer, Customer.id == Subscription.customer_id)
    for given, match in ((q, query_matches), (email, email_matches), (company, company_matches)):
        if given is not None:
            stmt = stmt.where(match(given))
    return stmt.order_by(Subscription.created_at.desc(), Subscription.id)


async def by_external_id(
    session: AsyncSession, business_id: str, mode: str, external_id: str
) -> Subscription | None:
    stmt = select(Subscription).where(
        Subscription.business_id == business_id,
        Subscription.mode == mode,
        Subscription.external_id == external_id,
    )
    return (await session.scalars(stmt)).first()


async def plan_terms(session: AsyncSession, plan_ids: set[str]) -> dict[str, tuple[str, int]]:
    """Each plan's code and cap on cloud instances."""
    if not plan_ids:
        return {}
    stmt = select(Plan.id, Plan.code, Plan.max_instances).where(Plan.id.in_(plan_ids))
    return {r.id: (r.code, r.max_instances) for r in await session.execute(stmt)}


async def live_code(session: AsyncSession, subscription_id: str) -> ActivationCode | None:
    stmt = select(ActivationCode).where(
        ActivationCode.subscription_id == subscription_id, ActivationCode.revoked_at.is_(None)
    )
    return (await session.scalars(stmt)).first()


async def with_live_code(session: AsyncSession, subscription_ids: set[str]) -> set[str]:
    if not subscription_ids:
        return set()
    stmt = select(ActivationCode.subscription_id).where(
        ActivationCode.subscription_id.in_(subscription_ids), ActivationCode.revoked_at.is_(None)
    )
    return set((await session.scalars(stmt)).all())


async def code_by_hash(session: AsyncSession, code_hash: bytes) -> ActivationCode | None:
    stmt = select(ActivationCode).where(ActivationCode.code_hash == code_hash)
    return (await session.scalars(stmt)).first()


async def seat_links(
    session: AsyncSession, subscription_id: str, limit: int, offset: int
) -> list[tuple[SeatLink, str]]:
    stmt = (
        select(SeatLink, CloudInstance.instance_id)
        .join(CloudInstance, CloudInstance.id == SeatLink.cloud_instance_id)
        .where(SeatLink.subscription_id == subscription_id)
        .order_by(SeatLink.created_at.desc(), SeatLink.id)
        .limit(limit)
        .offset(offset)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def desk_licenses(
    session: AsyncSession, subscription_id: str, limit: int
) -> list[DeskLicense]:
    stmt = (
        select(DeskLicense)
        .where(DeskLicense.subscription_id == subscription_id)
        .order_by(DeskLicense.created_at.desc(), DeskLicense.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
