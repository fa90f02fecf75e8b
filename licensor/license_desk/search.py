"""Searching desk licenses: the API's `GET /licenses` and the console's search box."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.search import email_term, raw_term, text_term
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.license_desk import repository
from licensor.license_desk.repository import LicenseSearch
from licensor.license_desk.rules import KEY_PURPOSE
from licensor.models import DeskLicense


def search_of(
    vault: Vault,
    *,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    license_type: str | None = None,
    trial: bool | None = None,
    email: str | None = None,
    company: str | None = None,
    q: str | None = None,
) -> LicenseSearch:
    """The search a list request asks for, its terms folded once (kit/search.py)."""
    raw = raw_term(q)
    return LicenseSearch(
        customer_id=customer_id,
        subscription_id=subscription_id,
        license_type=license_type,
        trial=trial,
        email=email_term(email) if email is not None else None,
        company=text_term(company),
        q_raw=raw,
        q_folded=text_term(q),
        q_key_hash=vault.lookup_hash(raw, KEY_PURPOSE) if raw is not None else None,
    )


async def list_page(
    session: AsyncSession, who: Principal, page: PageParams, search: LicenseSearch
) -> list[DeskLicense]:
    window = (page.page_number + 1) * page.page_size
    stmt = repository.list_statement(who.business_id, who.mode, search, window)
    return await fetch_page(session, stmt, page)
