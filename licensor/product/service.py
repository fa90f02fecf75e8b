from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.kit.errors import NotFound, Unprocessable
from licensor.kit.ids import new_id
from licensor.kit.pagination import PageParams, fetch_page
from licensor.kit.repository import get_scoped
from licensor.kit.schemas import provided
from licensor.kit.tenancy import Principal
from licensor.models import Business, Product
from licensor.product.policy import POLICY_FIELDS, LicensePolicyIn, LicensePolicyUpdate
from licensor.product.schemas import LicenseKeyDuration, ProductCreate, ProductUpdate


async def brand_of(session: AsyncSession, business_id: str) -> str:
    brand = await session.scalar(select(Business.brand_id).where(Business.id == business_id))
    return brand or ""


async def get(session: AsyncSession, who: Principal, product_id: str) -> Product:
    row = await get_scoped(session, Product, product_id, who.business_id, who.mode)
    if row is None:
        raise NotFound(f"product {product_id} not found", code="PRODUCT_NOT_FOUND")
    return row


def _apply_duration(row: Product, duration: LicenseKeyDuration | None) -> None:
    row.license_key_duration_count = duration.count if duration else None
    row.license_key_duration_interval = duration.interval if duration else None


async def create(session: AsyncSession, who: Principal, body: ProductCreate) -> Product:
    data = body.model_dump(exclude={"license_key_duration", "metadata", "license_policy"})
    policy = body.license_policy or LicensePolicyIn()
    row = Product(
        id=new_id("pdt"),
        business_id=who.business_id,
        mode=who.mode,
        metadata_=body.metadata,
        **data,
        **policy.model_dump(),
    )
    _apply_duration(row, body.license_key_duration)
    session.add(row)
    await session.flush()
    audit.creation(session, row, "product.created", AUDITED, public=("key_format",))
    return row


AUDITED = (
    "name",
    "description",
    "license_key_enabled",
    "license_key_activations_limit",
    "license_key_duration_count",
    "license_key_duration_interval",
    "key_format",
    "key_prefix",
    "metadata=metadata_",
    *POLICY_FIELDS,
)


def _apply_policy(row: Product, policy: LicensePolicyUpdate | None) -> None:
    """The policy fields a PATCH sent; none of them may be null."""
    if policy is None:
        raise Unprocessable("license_policy cannot be null")
    for name in policy.model_fields_set:
        value = getattr(policy, name)
        if value is None:
            raise Unprocessable(f"license_policy.{name} cannot be null")
        setattr(row, name, value)


async def update(
    session: AsyncSession, who: Principal, product_id: str, body: ProductUpdate
) -> Product:
    row = await get(session, who, product_id)
    before = audit.snapshot(row, AUDITED)
    changes = provided(body)
    for required in ("name", "license_key_enabled", "key_format"):
        if required in changes and changes[required] is None:
            raise Unprocessable(f"{required} cannot be null")
    if "license_key_duration" in changes:
        _apply_duration(row, body.license_key_duration)
        del changes["license_key_duration"]
    if "metadata" in changes:
        row.metadata_ = changes.pop("metadata") or {}
    if "license_policy" in changes:
        _apply_policy(row, changes.pop("license_policy"))
    for field, value in changes.items():
        setattr(row, field, value)
    await session.flush()
    audit.change(session, row, "product.updated", AUDITED, before, public=("key_format",))
    return row


async def list_page(session: AsyncSession, who: Principal, page: PageParams) -> list[Product]:
    stmt = (
        select(Product)
        .where(Product.business_id == who.business_id, Product.mode == who.mode)
        .order_by(Product.created_at.desc(), Product.id)
    )
    return await fetch_page(session, stmt, page)


async def floating_silences(session: AsyncSession) -> list[tuple[str, int]]:
    """Every floating product (all businesses, both modes) and how long its seats may be
    silent: heartbeat interval plus grace, in seconds (the worker's seat sweep)."""
    rows = await session.execute(
        select(
            Product.id, Product.heartbeat_interval_seconds + Product.heartbeat_grace_seconds
        ).where(Product.license_model == "floating")
    )
    return [(product_id, int(seconds)) for product_id, seconds in rows.all()]


async def all_of(session: AsyncSession, who: Principal) -> list[Product]:
    """Every product of the caller's business and mode (an import matches rows against
    them by id, external id or name; a business has a handful)."""
    stmt = (
        select(Product)
        .where(Product.business_id == who.business_id, Product.mode == who.mode)
        .order_by(Product.created_at, Product.id)
    )
    return list((await session.scalars(stmt)).all())
