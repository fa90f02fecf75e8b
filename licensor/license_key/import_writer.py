"""One batch of an import, in the caller's transaction (flush only; it commits or rolls
back the whole batch): claim its lines on the run, drop keys that exist already, match
the products and customers (creating customers named by email), insert the keys at the
driver's speed, count them on the run and record the batch's audit events.

No webhook is queued per key (docs/import.md): an import is a migration, not a sale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import service as audit
from licensor.customer import service as customer_service
from licensor.kit.bulk import Bulk
from licensor.kit.clock import utcnow
from licensor.kit.errors import Conflict
from licensor.kit.search import fold
from licensor.kit.tenancy import Principal
from licensor.license_key import repository
from licensor.license_key.import_rows import UNSET, VALIDATION, Batch, Rejected
from licensor.license_key.import_schemas import PRODUCT_ID_PREFIX
from licensor.license_key.keys import expiry_after
from licensor.license_key.service import KEY_EXISTS
from licensor.models import Product
from licensor.product import service as product_service

RUN_BUSY = "IMPORT_RUN_BUSY"
PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
PRODUCT_AMBIGUOUS = "PRODUCT_AMBIGUOUS"
CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
EXTERNAL_ID = "external_id"


@dataclass
class Products:
    """The business's products as an import names them: by id, by `metadata.external_id`,
    by name (folded). Loaded once per batch (a handful of rows)."""

    by_id: dict[str, Product]
    by_external_id: dict[str, list[Product]]
    by_name: dict[str, list[Product]]
    found: dict[str, Product | tuple[str, str]] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, who: Principal) -> Products:
        by_id: dict[str, Product] = {}
        by_external_id: dict[str, list[Product]] = {}
        by_name: dict[str, list[Product]] = {}
        for product in await product_service.all_of(session, who):
            by_id[product.id] = product
            external = (product.metadata_ or {}).get(EXTERNAL_ID)
            if isinstance(external, str) and external:
                by_external_id.setdefault(external, []).append(product)
            by_name.setdefault(fold(product.name), []).append(product)
        return cls(by_id, by_external_id, by_name)

    def find(self, ref: str) -> Product | tuple[str, str]:
        """The product `ref` names, or the report's (code, message); a batch names the
        same few products on every row, so each answer is kept."""
        found = self.found.get(ref)
        if found is None:
            found = self.found[ref] = self._find(ref)
        return found

    def _find(self, ref: str) -> Product | tuple[str, str]:
        if ref.startswith(PRODUCT_ID_PREFIX) and ref in self.by_id:
            return self.by_id[ref]
        matches = self.by_external_id.get(ref) or self.by_name.get(fold(ref)) or []
        if len(matches) == 1:
            return matches[0]
        if matches:
            return PRODUCT_AMBIGUOUS, f"{len(matches)} products are named {ref!r}: use its id"
        return PRODUCT_NOT_FOUND, f"no product {ref!r} (by id, external id or name)"


@dataclass(frozen=True)
class Written:
    imported: int
    rejected: list[Rejected]
    customers_created: int


class ImportRunBusy(Conflict):
    code = RUN_BUSY


@dataclass(frozen=True)
class _Defaults:
    """A product's activations limit and expiry for a key made now; `problem` when its
    duration ends past year 9999 (a row that leaves the expiry out is then refused)."""

    product_id: str
    limit: int | None
    expires_at: datetime | None
    problem: str | None = None


def _defaults(product: Product, now: datetime) -> _Defaults:
    limit = product.license_key_activations_limit
    if product.license_key_duration_count is None:
        return _Defaults(product.id, limit, None)
    interval = product.license_key_duration_interval or "Day"
    try:
        expires_at = expiry_after(now, product.license_key_duration_count, interval)
    except (OverflowError, ValueError):
        return _Defaults(product.id, limit, None, "the product's key duration ends after 9999")
    return _Defaults(product.id, limit, expires_at)


async def write(
    session: AsyncSession,
    who: Principal,
    run_id: str,
    after_line: int,
    batch: Batch,
    report: Callable[[list[Rejected]], None],
    *,
    check_existing: bool = True,
) -> Written:
    """Write `batch` (the lines after `after_line` up to `batch.last_line`) for the run.
    `check_existing=False` skips looking up the keys first: the unique index on the key
    hash still refuses a key that exists, and the caller then writes the batch again,
    checking (an import of new keys, the usual case, saves a lookup per key)."""
    now = utcnow()
    if not await repository.claim_lines(session, run_id, after_line, batch.last_line, now):
        raise ImportRunBusy(
            "another process is importing this file (or finished it): run it again to resume",
            code=RUN_BUSY,
        )
    rejected = list(batch.rejected)
    existing = (
        await repository.existing_hashes(session, batch.hashes)
        if check_existing and len(batch)
        else set()
    )
    products = await Products.load(session, who)
    defaults: dict[Product, _Defaults] = {}
    chosen: list[_Defaults] = []
    keep: list[int] = []
    for i in range(len(batch)):
        if batch.hashes[i] in existing:
            rejected.append(
                Rejected(
                    batch.lines[i],
                    batch.keys[i],
                    KEY_EXISTS,
                    "a license key with this value already exists",
                )
            )
            continue
        found = products.find(batch.products[i])
        if isinstance(found, tuple):
            rejected.append(Rejected(batch.lines[i], batch.keys[i], *found))
            continue
        terms = defaults.get(found)
        if terms is None:
            terms = defaults[found] = _defaults(found, now)
        if batch.expiries[i] is UNSET and terms.problem is not None:
            rejected.append(Rejected(batch.lines[i], batch.keys[i], VALIDATION, terms.problem))
            continue
        chosen.append(terms)
        keep.append(i)
    customers = await _customers(session, who, run_id, batch, keep, now)
    writer = await Bulk.of(session)
    stamp = writer.time(now)
    rows: list[tuple[Any, ...]] = []
    for terms, i in zip(chosen, keep, strict=True):
        customer_id = customers.ids.get(batch.customers[i])
        if customer_id is None:
            message = f"customer {batch.customers[i]} not found"
            rejected.append(Rejected(batch.lines[i], batch.keys[i], CUSTOMER_NOT_FOUND, message))
            continue
        limit = terms.limit if batch.limits[i] is UNSET else batch.limits[i]
        expires_at = terms.expires_at if batch.expiries[i] is UNSET else batch.expiries[i]
        # A key that expired before it was imported is not announced as expiring now.
        announced = expires_at is not None and expires_at <= now
        rows.append(
            (
                batch.ids[i],
                who.business_id,
                who.mode,
                customer_id,
                terms.product_id,
                batch.hashes[i],
                batch.encrypted[i],
                "import",
                limit,
                0,
                batch.disabled[i],
                writer.time(expires_at),
                stamp if announced else None,
                batch.payment_ids[i],
                batch.subscription_ids[i],
                stamp,
                stamp,
            )
        )
    await repository.insert_many(writer, rows)
    await repository.count_batch(session, run_id, len(rows), len(rejected), customers.created)
    audit.record(
        session,
        business_id=who.business_id,
        mode=who.mode,
        action="license_key.imported",
        target_type="import_run",
        target_id=run_id,
        changes=audit.created(
            {
                "imported": len(rows),
                "rejected": len(rejected),
                "first_line": batch.first_line,
                "last_line": batch.last_line,
            }
        ),
    )
    rejected.sort(key=lambda r: r.line)
    report(rejected)
    return Written(len(rows), rejected, customers.created)


@dataclass(frozen=True)
class _Customers:
    ids: dict[str, str]  # the row's `customer` text → customer id
    created: int


async def _customers(
    session: AsyncSession, who: Principal, run_id: str, batch: Batch, keep: list[int], now: datetime
) -> _Customers:
    """The customers the kept rows name: ids checked, emails matched or created (the
    first row naming an email gives a new customer its name)."""
    by_id: set[str] = set()
    wanted: dict[str, tuple[str, str | None]] = {}
    folded_of: dict[str, str] = {}
    for i in keep:
        ref = batch.customers[i]
        if "@" not in ref:
            by_id.add(ref)
            continue
        folded = folded_of.get(ref)
        if folded is None:
            folded = folded_of[ref] = fold(ref)
        if folded not in wanted:
            wanted[folded] = (ref, batch.customer_names[i])
    ids = {ref: ref for ref in await customer_service.existing_ids(session, who, by_id)}
    if not wanted:
        return _Customers(ids, 0)
    matched = await customer_service.match_or_create(
        session,
        who,
        wanted,
        now=now,
        import_run_id=run_id,
        lines=(batch.first_line, batch.last_line),
    )
    for ref, folded in folded_of.items():
        ids[ref] = matched.ids[folded]
    return _Customers(ids, matched.created)
