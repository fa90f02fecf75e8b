from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.search import EmailTerm
from licensor.models import DeskLicense, LicenseNote


@dataclass(frozen=True)
class LicenseSearch:
    """What a license list is narrowed by: the exact filters and the search box's terms
    (already folded by kit/search.py; `q_key_hash` is the typed text's desk-key hash)."""

    customer_id: str | None = None
    subscription_id: str | None = None
    license_type: str | None = None
    trial: bool | None = None
    email: EmailTerm | None = None
    company: str | None = None
    q_raw: str | None = None
    q_folded: str | None = None
    q_key_hash: bytes | None = None


def _q_terms(search: LicenseSearch) -> list[ColumnElement[bool]]:
    """One box: exact key, license/subscription id, billing id, email (whole or domain),
    company, name. Each term has its own index."""
    terms: list[ColumnElement[bool]] = []
    if search.q_raw is not None:
        raw = search.q_raw
        terms += [
            DeskLicense.id == raw,
            DeskLicense.subscription_id == raw,
            DeskLicense.subscription_external_id == raw,
        ]
    if search.q_key_hash is not None:
        terms.append(DeskLicense.key_hash == search.q_key_hash)
    folded = search.q_folded
    if folded is not None:
        if "@" in folded.lstrip("@"):
            terms.append(DeskLicense.licensee_email_lc == folded)
        elif " " not in folded:
            terms.append(DeskLicense.licensee_email_domain == folded.lstrip("@"))
        terms += [DeskLicense.licensee_company_lc == folded, DeskLicense.licensee_name_lc == folded]
    return terms


def list_statement(
    business_id: str, mode: str, search: LicenseSearch, window: int | None = None
) -> Select[DeskLicense]:
    """The licenses a search finds, newest first. `window` (offset + page size) caps
    each search-box term's lookup at its newest rows: the page is among them."""
    tenant = (DeskLicense.business_id == business_id, DeskLicense.mode == mode)
    filters: list[ColumnElement[bool]] = []
    if search.customer_id is not None:
        filters.append(DeskLicense.customer_id == search.customer_id)
    if search.subscription_id is not None:
        filters.append(DeskLicense.subscription_id == search.subscription_id)
    if search.license_type is not None:
        filters.append(DeskLicense.license_type == search.license_type)
    if search.trial is not None:
        filters.append(DeskLicense.trial.is_(search.trial))
    if search.email is not None:
        if search.email.address is not None:
            filters.append(DeskLicense.licensee_email_lc == search.email.address)
        else:
            filters.append(DeskLicense.licensee_email_domain == search.email.domain)
    if search.company is not None:
        filters.append(DeskLicense.licensee_company_lc == search.company)
    terms = _q_terms(search)
    if terms:
        # A UNION of one indexed lookup per term (each led by business and mode), and the
        # rows by primary key: an OR would make SQLite walk all the business's licenses.
        lookups = []
        for term in terms:
            lookup = select(DeskLicense.id).where(*tenant, *filters, term)
            if window is not None:
                newest = lookup.order_by(DeskLicense.created_at.desc(), DeskLicense.id)
                capped = newest.limit(window).subquery()
                lookup = select(capped.c.id)
            lookups.append(lookup)
        found = union(*lookups)
        stmt = select(DeskLicense).where(DeskLicense.id.in_(found), *filters)
    else:
        stmt = select(DeskLicense).where(*tenant, *filters)
    return stmt.order_by(DeskLicense.created_at.desc(), DeskLicense.id)


async def notes_for(session: AsyncSession, license_ids: list[str]) -> dict[str, list[LicenseNote]]:
    out: dict[str, list[LicenseNote]] = {i: [] for i in license_ids}
    if not license_ids:
        return out
    stmt = (
        select(LicenseNote)
        .where(LicenseNote.license_id.in_(license_ids))
        .order_by(LicenseNote.created_at, LicenseNote.id)
    )
    for note in (await session.scalars(stmt)).all():
        out[note.license_id].append(note)
    return out


async def key_hash_taken(session: AsyncSession, key_hash: bytes) -> bool:
    found = await session.scalar(select(DeskLicense.id).where(DeskLicense.key_hash == key_hash))
    return found is not None


async def by_key_hash(session: AsyncSession, key_hash: bytes) -> DeskLicense | None:
    return (
        await session.scalars(select(DeskLicense).where(DeskLicense.key_hash == key_hash))
    ).first()


async def duplicates_of(session: AsyncSession, license_id: str) -> list[DeskLicense]:
    stmt = (
        select(DeskLicense)
        .where(DeskLicense.duplicated_from_id == license_id)
        .order_by(DeskLicense.created_at, DeskLicense.id)
    )
    return list((await session.scalars(stmt)).all())
