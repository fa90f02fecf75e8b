"""License keys: import or generate, read, change. Services flush; the request commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.customer import service as customer_service
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams
from licensor.kit.repository import get_scoped
from licensor.kit.search import email_term, raw_term, text_term
from licensor.kit.secrets import Vault
from licensor.kit.tenancy import Principal
from licensor.license_key import repository
from licensor.license_key.errors import LicenseKeyNotFound
from licensor.license_key.keys import LOOKUP_PURPOSE, expiry_after, generate_key, status_of
from licensor.license_key.repository import KeySearch
from licensor.license_key.schemas import LicenseKeyCreate, LicenseKeyOut, LicenseKeyUpdate
from licensor.models import LicenseKey
from licensor.product import service as product_service
from licensor.webhooks import events

KEY_EXISTS = "LICENSE_KEY_ALREADY_EXISTS"
GENERATE_ATTEMPTS = 5


def to_out(row: LicenseKey, vault: Vault, brand_id: str) -> LicenseKeyOut:
    return LicenseKeyOut(
        id=row.id,
        brand_id=brand_id,
        business_id=row.business_id,
        created_at=row.created_at,
        customer_id=row.customer_id,
        instances_count=row.instances_count,
        key=vault.decrypt(row.key_encrypted, row.id),
        product_id=row.product_id,
        source=row.source,
        status=status_of(row.disabled, row.expires_at, utcnow()),
        activations_limit=row.activations_limit,
        expires_at=row.expires_at,
        payment_id=row.payment_id,
        subscription_id=row.subscription_id,
    )


def search_of(
    vault: Vault,
    who: Principal,
    *,
    email: str | None = None,
    company: str | None = None,
    q: str | None = None,
) -> KeySearch | None:
    """The search a list request asks for: customers by email (whole or domain) and
    company; `q` an exact key, an id, or the customers its text names."""
    by_email = email_term(email) if email is not None else None
    by_company = text_term(company)
    raw, folded = raw_term(q), text_term(q)
    if by_email is None and by_company is None and raw is None:
        return None
    customers = None
    if by_email is not None or by_company is not None:
        customers = customer_service.matching_ids(who, email=by_email, company=by_company)
    return KeySearch(
        customers=customers,
        q_raw=raw,
        q_key_hash=vault.lookup_hash(raw, LOOKUP_PURPOSE) if raw is not None else None,
        q_customers=customer_service.matching_ids(who, text=folded) if folded else None,
    )


async def list_page(
    session: AsyncSession,
    vault: Vault,
    who: Principal,
    page: PageParams,
    *,
    customer_id: str | None,
    product_id: str | None,
    status: str | None,
    source: str | None,
    created_at_gte: datetime | None,
    created_at_lte: datetime | None,
    search: KeySearch | None = None,
) -> list[LicenseKeyOut]:
    stmt = repository.list_statement(
        who.business_id,
        who.mode,
        now=utcnow(),
        customer_id=customer_id,
        product_id=product_id,
        status=status,
        source=source,
        created_at_gte=created_at_gte,
        created_at_lte=created_at_lte,
        search=search,
    )
    rows = (await session.scalars(repository.page_statement(stmt, page))).all()
    brand = await product_service.brand_of(session, who.business_id)
    return [to_out(r, vault, brand) for r in rows]


async def get(session: AsyncSession, who: Principal, key_id: str) -> LicenseKey:
    row = await get_scoped(session, LicenseKey, key_id, who.business_id, who.mode)
    if row is None:
        raise LicenseKeyNotFound(f"license key {key_id} not found")
    return row


async def create(
    session: AsyncSession, vault: Vault, who: Principal, body: LicenseKeyCreate
) -> LicenseKey:
    customer = await customer_service.get(session, who, body.customer_id)
    product = await product_service.get(session, who, body.product_id)
    sent = body.model_fields_set
    now = utcnow()
    limit = (
        body.activations_limit
        if "activations_limit" in sent
        else (product.license_key_activations_limit)
    )
    expires_at = body.expires_at
    if "expires_at" not in sent and product.license_key_duration_count is not None:
        try:
            expires_at = expiry_after(
                now,
                product.license_key_duration_count,
                product.license_key_duration_interval or "Day",
            )
        except (OverflowError, ValueError) as exc:  # a duration stored before it was bounded
            raise Unprocessable("the product's key duration ends after year 9999") from exc
    imported = body.key is not None
    for _ in range(1 if imported else GENERATE_ATTEMPTS):
        key = (
            body.key
            if body.key is not None
            else generate_key(product.key_format, product.key_prefix)
        )
        key_hash = vault.lookup_hash(key, LOOKUP_PURPOSE)
        if not await repository.key_hash_taken(session, key_hash):
            break
    else:
        # The same answer whichever business holds the key: the public validate route
        # already tells anyone whether a key string is in use, and this says no more.
        raise Conflict("a license key with this value already exists", code=KEY_EXISTS)
    row_id = new_id("lic")
    row = LicenseKey(
        id=row_id,
        business_id=who.business_id,
        mode=who.mode,
        customer_id=customer.id,
        product_id=product.id,
        key_hash=key_hash,
        key_encrypted=vault.encrypt(key, row_id),
        source="import" if imported else "manual",
        activations_limit=limit,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # lost a race with a concurrent import of the same key
        raise Conflict("a license key with this value already exists", code=KEY_EXISTS) from exc
    audit.creation(session, row, "license_key.created", AUDITED, extra={"key": key})
    await announce(session, row, events.KEY_CREATED)
    return row


AUDITED = ("customer_id", "product_id", "source", "activations_limit", "disabled", "expires_at")


async def announce(session: AsyncSession, row: LicenseKey, event_type: str) -> None:
    """The key's webhook event, in the caller's transaction; `data` is the key as the
    API returns it (Dodo's `license_key.created` payload)."""

    async def data() -> dict[str, object]:
        brand = await product_service.brand_of(session, row.business_id)
        return to_out(row, events.vault_of(session), brand).model_dump(mode="json")

    await events.emit(session, row.business_id, row.mode, event_type, data)


async def announce_expired(session: AsyncSession, now: datetime, limit: int = 100) -> int:
    """The expiry sweep (run by the delivery worker): `license_key.expired` for each key
    whose expiry has passed and was not announced yet; marked in the same transaction."""
    rows = await repository.expired_unannounced(session, now, limit)
    for row in rows:
        row.expiry_announced_at = now
        await announce(session, row, events.KEY_EXPIRED)
    await session.flush()
    return len(rows)


# A redeemed air-gapped request is kept so that it is taken once. Past its expiry it is
# refused anyway (ACTIVATION_REQUEST_EXPIRED, before its row is looked at), so the worker's
# sweep deletes it a day later: the day is a margin for a server clock set back.
REQUEST_KEPT_AFTER_EXPIRY = timedelta(days=1)


async def prune_activation_requests(session: AsyncSession, now: datetime, limit: int = 1000) -> int:
    """The keeping sweep (run by the delivery worker): a batch of redeemed requests past
    `REQUEST_KEPT_AFTER_EXPIRY`, deleted; how many."""
    return await repository.prune_activation_requests(
        session, now - REQUEST_KEPT_AFTER_EXPIRY, limit
    )


async def update(
    session: AsyncSession, who: Principal, key_id: str, body: LicenseKeyUpdate
) -> LicenseKey:
    row = await get(session, who, key_id)
    before = audit.snapshot(row, AUDITED)
    sent = body.model_fields_set
    if "activations_limit" in sent and not await repository.set_limit_if_fits(
        session, row.id, body.activations_limit
    ):
        raise Unprocessable(
            "activations_limit is below the number of active instances",
            code="ACTIVATION_LIMIT_LESS_THAN_CURRENT_AMOUNT",
        )
    if "disabled" in sent:
        row.disabled = bool(body.disabled)
    if "expires_at" in sent:
        if body.expires_at != row.expires_at:
            row.expiry_announced_at = None  # a new expiry is announced when it passes
        row.expires_at = body.expires_at
    row.updated_at = utcnow()
    await session.flush()
    await session.refresh(row)
    verb = "updated"
    if row.disabled != before["disabled"]:
        verb = "disabled" if row.disabled else "enabled"
    audit.change(session, row, f"license_key.{verb}", AUDITED, before)
    await announce(session, row, events.KEY_UPDATED)
    if row.disabled != before["disabled"]:
        await announce(session, row, events.KEY_DISABLED if row.disabled else events.KEY_ENABLED)
    return row


async def disabled_key_ids(session: AsyncSession, business_id: str, mode: str) -> list[str]:
    """The ids of the business's disabled license keys of this mode, sorted: the license
    ids of its revocation list (license_desk/revocations.py)."""
    stmt = (
        select(LicenseKey.id)
        .where(
            LicenseKey.business_id == business_id,
            LicenseKey.mode == mode,
            LicenseKey.disabled.is_(True),
        )
        .order_by(LicenseKey.id)
    )
    return list((await session.scalars(stmt)).all())
