from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.customer import repository
from licensor.customer.schemas import CustomerCreate, CustomerUpdate
from licensor.kit.bulk import Bulk
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id, new_ids
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


async def existing_ids(session: AsyncSession, who: Principal, ids: set[str]) -> set[str]:
    """Those of `ids` that are customers of the caller's business and mode."""
    return await repository.existing_ids(session, who.business_id, who.mode, ids) if ids else set()


@dataclass(frozen=True)
class Imported:
    """The customers an import batch named by email: folded email → id, and how many of
    them the batch created."""

    ids: dict[str, str]
    created: int


async def match_or_create(
    session: AsyncSession,
    who: Principal,
    wanted: Mapping[str, tuple[str, str | None]],
    *,
    now: datetime,
    import_run_id: str,
    lines: tuple[int, int],
) -> Imported:
    """The customers of an import batch, by email: `wanted` maps each folded email to
    the address as written and a name (None: the address). An existing customer of the
    business and mode with that email is matched (the oldest, if several) and left as it
    is; the others are created, at the driver's speed, under one `customer.imported`
    event for the batch (its target is the import run; docs/events.md)."""
    found = await repository.ids_by_email(session, who.business_id, who.mode, wanted.keys())
    missing = [folded for folded in wanted if folded not in found]
    if not missing:
        return Imported(found, 0)
    writer = await Bulk.of(session)
    created_at, empty = writer.time(now), writer.json({})
    rows: list[tuple[object, ...]] = []
    for customer_id, folded in zip(new_ids("cus", len(missing)), missing, strict=True):
        email, name = wanted[folded]
        name = (name or email)[:300]
        rows.append(
            (customer_id, who.business_id, who.mode, email, folded, name, empty, created_at)
        )
        found[folded] = customer_id
    await repository.insert_many(writer, rows)
    audit.record(
        session,
        business_id=who.business_id,
        mode=who.mode,
        action="customer.imported",
        target_type="import_run",
        target_id=import_run_id,
        changes=audit.created(
            {"customers_created": len(rows), "first_line": lines[0], "last_line": lines[1]}
        ),
    )
    return Imported(found, len(rows))
