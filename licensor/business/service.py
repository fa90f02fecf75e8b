"""Businesses (tenants), their owner, and management API keys. Services only flush."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.clock import utcnow
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.secrets import Vault, random_token
from licensor.kit.tenancy import API_KEY_PURPOSE, Mode
from licensor.models import ApiKey, Business, User
from licensor.signing import service as signing

MODES: tuple[Mode, ...] = ("test", "live")


@dataclass(frozen=True)
class IssuedApiKey:
    row: ApiKey
    secret: str  # shown once, never stored


def _check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise Unprocessable(f"mode must be one of {', '.join(MODES)}", code="INVALID_MODE")
    return mode


async def create_api_key(
    session: AsyncSession, vault: Vault, business_id: str, mode: str, name: str = "default"
) -> IssuedApiKey:
    checked = _check_mode(mode)
    secret = f"lk_{checked}_{random_token(32)}"
    row = ApiKey(
        id=new_id("key"),
        business_id=business_id,
        mode=checked,
        name=name,
        display_prefix=secret[:12],
        secret_hash=vault.lookup_hash(secret, API_KEY_PURPOSE),
    )
    session.add(row)
    await session.flush()
    audit.creation(
        session, row, "api_key.created", ("name", "display_prefix"), public=("display_prefix",)
    )
    return IssuedApiKey(row=row, secret=secret)


async def list_api_keys(session: AsyncSession, business_id: str) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.business_id == business_id).order_by(ApiKey.created_at)
    return list((await session.scalars(stmt)).all())


async def revoke_api_key(session: AsyncSession, business_id: str, key_id: str) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None or row.business_id != business_id:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        revoked = audit.changes_of({"revoked_at": (None, row.revoked_at)})
        audit.event(session, row, "api_key.revoked", revoked)
    return row


async def find_business(session: AsyncSession, business_id: str) -> Business:
    business = await session.get(Business, business_id)
    if business is None:
        raise NotFound(f"business {business_id} not found")
    return business


@dataclass(frozen=True)
class Bootstrapped:
    business: Business
    owner: User
    api_key: IssuedApiKey


async def bootstrap(
    session: AsyncSession, vault: Vault, *, business_name: str, owner_email: str, mode: str
) -> Bootstrapped:
    """Create (or find, by owner email and name) a business with its owner, and a new API key.

    Idempotent in what it creates: running it again reuses the business and owner and
    issues one more API key, since an API key's secret cannot be shown twice.
    """
    email = owner_email.strip().lower()
    if "@" not in email or not business_name.strip():
        raise Unprocessable("a business name and an owner email are required")
    stmt = (
        select(Business, User)
        .join(User, User.business_id == Business.id)
        .where(User.email == email, User.role == "owner", Business.name == business_name)
    )
    found = (await session.execute(stmt)).first()
    if found is not None:
        business, owner = found
    else:
        business = Business(id=new_id("bus"), name=business_name, brand_id=new_id("brd"))
        session.add(business)
        await session.flush()
        owner = User(id=new_id("usr"), business_id=business.id, email=email, role="owner")
        session.add(owner)
        await session.flush()
        audit.record(
            session,
            business_id=business.id,
            mode=mode,
            action="business.created",
            target_type="business",
            target_id=business.id,
            changes=audit.created({"name": business_name, "owner_email": email}),
        )
    await signing.ensure_keys(session, vault, business.id)  # so the JWKS route only reads
    issued = await create_api_key(session, vault, business.id, mode, name="bootstrap")
    return Bootstrapped(business=business, owner=owner, api_key=issued)
