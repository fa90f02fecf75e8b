from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.bulk import Bulk
from licensor.kit.pagination import PageParams
from licensor.kit.repository import created_between
from licensor.models import ActivationRequest, ImportRun, LicenseKey, LicenseKeyInstance


@dataclass(frozen=True)
class KeySearch:
    """The search box over license keys: `customers` narrows to the customers an email
    or company names; `q_*` is the one box (exact key by hash, key, customer or
    subscription id, or the customers the text names)."""

    customers: Select[str] | None = None
    q_raw: str | None = None
    q_key_hash: bytes | None = None
    q_customers: Select[str] | None = None

    def terms(self) -> list[ColumnElement[bool]]:
        terms: list[ColumnElement[bool]] = []
        if self.q_raw is not None:
            terms += [
                LicenseKey.id == self.q_raw,
                LicenseKey.customer_id == self.q_raw,
                LicenseKey.subscription_id == self.q_raw,
            ]
        if self.q_key_hash is not None:
            terms.append(LicenseKey.key_hash == self.q_key_hash)
        if self.q_customers is not None:
            terms.append(LicenseKey.customer_id.in_(self.q_customers))
        return terms


# Newest first; among keys made at the same moment (an import batch), the greater id first,
# so the whole order is one backward walk of the (…, created_at, id) indexes.
ORDER = (LicenseKey.created_at.desc(), LicenseKey.id.desc())


def list_statement(
    business_id: str,
    mode: str,
    *,
    now: datetime,
    customer_id: str | None,
    product_id: str | None,
    status: str | None,
    source: str | None,
    created_at_gte: datetime | None,
    created_at_lte: datetime | None,
    search: KeySearch | None = None,
) -> Select[LicenseKey]:
    stmt = select(LicenseKey).where(LicenseKey.business_id == business_id, LicenseKey.mode == mode)
    if search is not None:
        if search.customers is not None:
            stmt = stmt.where(LicenseKey.customer_id.in_(search.customers))
        terms = search.terms()
        if terms:
            stmt = stmt.where(or_(*terms))
    if customer_id is not None:
        stmt = stmt.where(LicenseKey.customer_id == customer_id)
    if product_id is not None:
        stmt = stmt.where(LicenseKey.product_id == product_id)
    if source is not None:
        stmt = stmt.where(LicenseKey.source == source)
    if status == "disabled":
        stmt = stmt.where(LicenseKey.disabled.is_(True))
    elif status == "expired":
        stmt = stmt.where(LicenseKey.disabled.is_(False), LicenseKey.expires_at <= now)
    elif status == "active":
        stmt = stmt.where(
            LicenseKey.disabled.is_(False),
            or_(LicenseKey.expires_at.is_(None), LicenseKey.expires_at > now),
        )
    stmt = created_between(stmt, LicenseKey.created_at, created_at_gte, created_at_lte)
    return stmt.order_by(*ORDER)


def page_statement(stmt: Select[LicenseKey], page: PageParams) -> Select[LicenseKey]:
    """One page of a list: its ids first (`stmt` with the id alone, in order, cut to the
    page: read from the `(…, created_at, id)` index without touching a row it skips, so
    a page 10,000 deep costs an index walk), then those rows, in the same order."""
    ids = page.apply(stmt.with_only_columns(LicenseKey.id))
    return select(LicenseKey).where(LicenseKey.id.in_(ids)).order_by(*ORDER)


async def key_hash_taken(session: AsyncSession, key_hash: bytes) -> bool:
    found = await session.scalar(select(LicenseKey.id).where(LicenseKey.key_hash == key_hash))
    return found is not None


async def set_limit_if_fits(session: AsyncSession, key_id: str, limit: int | None) -> bool:
    """Atomically set the limit unless more instances exist than it allows."""
    stmt = update(LicenseKey).where(LicenseKey.id == key_id)
    if limit is not None:
        stmt = stmt.where(LicenseKey.instances_count <= limit)
    result = await session.execute(
        stmt.values(activations_limit=limit).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def expired_unannounced(session: AsyncSession, now: datetime, limit: int) -> list[LicenseKey]:
    """Keys whose expiry passed and whose `license_key.expired` is not out yet (locked on
    PostgreSQL, skipping rows another worker's sweep holds)."""
    stmt = (
        select(LicenseKey)
        .where(LicenseKey.expires_at <= now, LicenseKey.expiry_announced_at.is_(None))
        .order_by(LicenseKey.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def prune_activation_requests(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` redeemed air-gapped requests that expired before `before` (any
    business: the index is on `expires_at`); the number deleted."""
    oldest = (
        select(ActivationRequest.id)
        .where(ActivationRequest.expires_at < before)
        .order_by(ActivationRequest.expires_at)
        .limit(limit)
    )
    done = await session.execute(
        delete(ActivationRequest).where(ActivationRequest.id.in_(oldest.scalar_subquery()))
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


async def delete_instance(session: AsyncSession, key_id: str, instance_id: str) -> bool:
    """Remove an instance and free its seat, as the public deactivate does (store.py):
    the delete is the check, so two deactivations free one seat."""
    result = await session.execute(
        delete(LicenseKeyInstance)
        .where(LicenseKeyInstance.id == instance_id, LicenseKeyInstance.license_key_id == key_id)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(LicenseKey)
        .where(LicenseKey.id == key_id, LicenseKey.instances_count > 0)
        .values(instances_count=LicenseKey.instances_count - 1)
        .execution_options(synchronize_session=False)
    )
    return True


async def silent_of_product(
    session: AsyncSession, product_id: str, cutoff: datetime, limit: int
) -> list[Any]:
    """Up to `limit` instances of the product's keys last heard of before `cutoff`,
    deleted (`DELETE … RETURNING`: each exactly once), their keys' counters lowered by as
    many. PostgreSQL: the candidates are locked first, skipping rows another sweep or a
    request holds; then the keys, in id order (instance rows before key rows, as the hot
    store takes them)."""
    candidates = (
        select(LicenseKeyInstance.id)
        .join(LicenseKey, LicenseKey.id == LicenseKeyInstance.license_key_id)
        .where(LicenseKey.product_id == product_id, LicenseKeyInstance.last_heartbeat_at < cutoff)
        .limit(limit)
        .with_for_update(of=LicenseKeyInstance, skip_locked=True)
    )
    ids = list((await session.scalars(candidates)).all())
    if not ids:
        return []
    return await _delete_silent(session, ids, cutoff)


async def _delete_silent(session: AsyncSession, ids: Sequence[str], cutoff: datetime) -> list[Any]:
    gone = (
        await session.execute(
            delete(LicenseKeyInstance)
            .where(LicenseKeyInstance.id.in_(ids), LicenseKeyInstance.last_heartbeat_at < cutoff)
            .returning(
                LicenseKeyInstance.id,
                LicenseKeyInstance.business_id,
                LicenseKeyInstance.mode,
                LicenseKeyInstance.license_key_id,
                LicenseKeyInstance.name,
                LicenseKeyInstance.fingerprint,
                LicenseKeyInstance.created_at,
                LicenseKeyInstance.last_heartbeat_at,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    freed = Counter(row.license_key_id for row in gone)
    for key_id in sorted(freed):
        await session.execute(
            update(LicenseKey)
            .where(LicenseKey.id == key_id)
            .values(instances_count=LicenseKey.instances_count - freed[key_id])
            .execution_options(synchronize_session=False)
        )
    return list(gone)


HASH_CHUNK = 5000  # values per IN list: well under either driver's limit on parameters


async def existing_hashes(session: AsyncSession, hashes: Sequence[bytes]) -> set[bytes]:
    """Those of `hashes` that some license key (of any business) already has."""
    found: set[bytes] = set()
    for start in range(0, len(hashes), HASH_CHUNK):
        chunk = hashes[start : start + HASH_CHUNK]
        stmt = select(LicenseKey.key_hash).where(LicenseKey.key_hash.in_(chunk))
        found.update((await session.scalars(stmt)).all())
    return found


IMPORTED = (
    "id",
    "business_id",
    "mode",
    "customer_id",
    "product_id",
    "key_hash",
    "key_encrypted",
    "source",
    "activations_limit",
    "instances_count",
    "disabled",
    "expires_at",
    "expiry_announced_at",
    "payment_id",
    "subscription_id",
    "created_at",
    "updated_at",
)


async def insert_many(writer: Bulk, rows: Sequence[Sequence[object]]) -> None:
    """New keys (values in the order of `IMPORTED`, in the driver's form) at its speed."""
    await writer.insert(LicenseKey.__table__, IMPORTED, rows)  # type: ignore[arg-type]


async def find_run(
    session: AsyncSession, business_id: str, mode: str, sha256: str
) -> ImportRun | None:
    stmt = select(ImportRun).where(
        ImportRun.business_id == business_id,
        ImportRun.mode == mode,
        ImportRun.file_sha256 == sha256,
    )
    return (await session.scalars(stmt)).one_or_none()


async def claim_lines(
    session: AsyncSession, run_id: str, after: int, through: int, now: datetime
) -> bool:
    """Move the run's last committed line from `after` to `through`, unless another
    process moved it first (then nothing changes): the batch's first statement, so two
    processes importing one file never write the same lines."""
    result = await session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.last_line == after, ImportRun.status == "running")
        .values(last_line=through, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_batch(
    session: AsyncSession, run_id: str, imported: int, rejected: int, customers: int
) -> None:
    await session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id)
        .values(
            imported=ImportRun.imported + imported,
            rejected=ImportRun.rejected + rejected,
            customers_created=ImportRun.customers_created + customers,
            batches=ImportRun.batches + 1,
        )
        .execution_options(synchronize_session=False)
    )
