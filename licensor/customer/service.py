from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.customer import repository
from licensor.customer.schemas import CustomerCreate, CustomerUpdate
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.repository import get_scoped
from licensor.kit.schemas import provided
from licensor.kit.search import EmailTerm
from licensor.kit.tenancy import Principal
from licensor.models import Customer


async def get(session: AsyncSession, who: Principal, customer_id: str) -> Customer:
    row = await get_scoped(session, Customer, customer_id, who.business_id, who.mode)
    if row is None:
        raise NotFound(f"customer {customer_id} not found", code="CUSTOMER_NOT_FOUND")
    return row


def matching_ids(
    who: Principal,
    *,
    email: EmailTerm | None = None,
    company: str | None = None,
    text: str | None = None,
) -> Select[str]:
    """A subquery of the ids of the customers a search names (repository.matching_ids)."""
    return repository.matching_ids(
        who.business_id, who.mode, email=email, company=company, text=text
    )


async def by_ids(session: AsyncSession, who: Principal, ids: set[str]) -> dict[str, Customer]:
    """The caller's customers among `ids`, by id (a list page's customers in one query)."""
    rows = await repository.by_ids(session, who.business_id, who.mode, ids) if ids else []
    return {row.id: row for row in rows}


async def list_page(
    session: AsyncSession,
    who: Principal,
    page: PageParams,
    *,
    email: str | None,
    name: str | None,
    created_at_gte: datetime | None,
    created_at_lte: datetime | None,
) -> list[Customer]:
    stmt = repository.list_statement(
        who.business_id,
        who.mode,
        email=email,
        name=name,
        created_at_gte=created_at_gte,
        created_at_lte=created_at_lte,
    )
    return await fetch_page(session, stmt, page)


async def create(session: AsyncSession, who: Principal, body: CustomerCreate) -> Customer:
    row = Customer(
        id=new_id("cus"),
        business_id=who.business_id,
        mode=who.mode,
        email=body.email,
        name=body.name,
        phone_number=body.phone_number,
        metadata_=body.metadata,
    )
    session.add(row)
    await session.flush()
    audit.creation(session, row, "customer.created", AUDITED)
    return row


AUDITED = ("email", "name", "phone_number", "metadata=metadata_")


async def update(
    session: AsyncSession, who: Principal, customer_id: str, body: CustomerUpdate
) -> Customer:
    row = await get(session, who, customer_id)
    before = audit.snapshot(row, AUDITED)
    changes = provided(body)
    for required in ("email", "name"):
        if required in changes and changes[required] is None:
            raise Unprocessable(f"{required} cannot be null", code="VALIDATION_ERROR")
    if "metadata" in changes:
        row.metadata_ = changes.pop("metadata") or {}
    for field, value in changes.items():
        setattr(row, field, value)
    await session.flush()
    audit.change(session, row, "customer.updated", AUDITED, before)
    return row
