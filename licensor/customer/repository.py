from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.bulk import Bulk
from licensor.kit.repository import created_between
from licensor.kit.search import EmailTerm, email_term, fold
from licensor.models import Customer


def list_statement(
    business_id: str,
    mode: str,
    *,
    email: str | None,
    name: str | None,
    created_at_gte: datetime | None,
    created_at_lte: datetime | None,
) -> Select[Customer]:
    stmt = select(Customer).where(Customer.business_id == business_id, Customer.mode == mode)
    if email is not None:
        stmt = stmt.where(Customer.email_lc == fold(email))
    if name is not None:
        stmt = stmt.where(func.lower(Customer.name).contains(name.lower(), autoescape=True))
    stmt = created_between(stmt, Customer.created_at, created_at_gte, created_at_lte)
    return stmt.order_by(Customer.created_at.desc(), Customer.id)


def matching_ids(
    business_id: str,
    mode: str,
    *,
    email: EmailTerm | None = None,
    company: str | None = None,
    text: str | None = None,
) -> Select[str]:
    """The ids of the customers a search names: `email` (whole or domain), `company`
    (the `company` metadata, else the name), or `text` (any of those, or the name). Terms
    arrive folded (kit/search.py); every given term must match."""
    lowered_email = Customer.email_lc
    company_of = func.lower(func.coalesce(Customer.metadata_["company"].as_string(), Customer.name))

    def email_matches(term: EmailTerm) -> ColumnElement[bool]:
        if term.address is not None:
            return lowered_email == term.address
        return lowered_email.endswith("@" + term.domain, autoescape=True)

    stmt = select(Customer.id).where(Customer.business_id == business_id, Customer.mode == mode)
    if email is not None:
        stmt = stmt.where(email_matches(email))
    if company is not None:
        stmt = stmt.where(company_of == company)
    if text is not None:
        as_email = email_term(text)
        either = [company_of == text, func.lower(Customer.name) == text]
        if as_email is not None and " " not in text:
            either.append(email_matches(as_email))
        stmt = stmt.where(or_(*either))
    return stmt


async def by_ids(
    session: AsyncSession, business_id: str, mode: str, ids: set[str]
) -> list[Customer]:
    stmt = select(Customer).where(
        Customer.business_id == business_id, Customer.mode == mode, Customer.id.in_(ids)
    )
    return list((await session.scalars(stmt)).all())


CHUNK = 5000  # values per IN list: well under either driver's limit on parameters


async def ids_by_email(
    session: AsyncSession, business_id: str, mode: str, folded: Collection[str]
) -> dict[str, str]:
    """The id of the oldest customer with each folded email (`email_lc`), where any."""
    found: dict[str, str] = {}
    values = list(folded)
    for start in range(0, len(values), CHUNK):
        stmt = (
            select(Customer.email_lc, Customer.id)
            .where(
                Customer.business_id == business_id,
                Customer.mode == mode,
                Customer.email_lc.in_(values[start : start + CHUNK]),
            )
            .order_by(Customer.created_at, Customer.id)
        )
        for email_lc, customer_id in (await session.execute(stmt)).all():
            found.setdefault(email_lc, customer_id)
    return found


async def existing_ids(
    session: AsyncSession, business_id: str, mode: str, ids: Collection[str]
) -> set[str]:
    found: set[str] = set()
    values = list(ids)
    for start in range(0, len(values), CHUNK):
        stmt = select(Customer.id).where(
            Customer.business_id == business_id,
            Customer.mode == mode,
            Customer.id.in_(values[start : start + CHUNK]),
        )
        found.update((await session.scalars(stmt)).all())
    return found


INSERTED = ("id", "business_id", "mode", "email", "email_lc", "name", "metadata", "created_at")


async def insert_many(writer: Bulk, rows: Sequence[Sequence[object]]) -> None:
    """New customers (values in the order of `INSERTED`, in the driver's form)."""
    await writer.insert(Customer.__table__, INSERTED, rows)  # type: ignore[arg-type]
