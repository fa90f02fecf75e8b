from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.repository import created_between
from licensor.kit.search import EmailTerm, email_term
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
        stmt = stmt.where(func.lower(Customer.email) == email.strip().lower())
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
    lowered_email = func.lower(Customer.email)
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
