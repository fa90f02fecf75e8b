"""The lean data path behind the public `/licenses/*` routes, called all day by shipped software.

It skips the ORM and runs on the process's one hot-path connection layer
(`kit/hotstore.py`: SQLite read inline and written on one thread, or one asyncpg pool),
which the app's lifespan opens and closes; this module only holds the queries.
Activation is one conditional UPDATE of the key's counter, which cannot pass the limit
whatever the concurrency: PostgreSQL re-checks the WHERE clause after taking the row
lock, and SQLite runs writers one at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from licensor.audit.chain import Draft, changes_of
from licensor.audit.raw import postgres_append, sqlite_append
from licensor.kit.hotstore import HotDb, PostgresHot, SqliteHot, render
from licensor.kit.ids import new_id
from licensor.kit.origin import Origin
from licensor.webhooks.events import INSTANCE_ACTIVATED, INSTANCE_DEACTIVATED
from licensor.webhooks.hot import INSERT_DELIVERY, HotOutbox, subscribers

FIND_KEY = (
    "SELECT id, business_id, mode, customer_id, product_id, key_hash, disabled, expires_at "
    "FROM license_keys WHERE key_hash = {0}"
)
FIND_INSTANCE = "SELECT 1 FROM license_key_instances WHERE id = {0} AND license_key_id = {1}"
TAKE_SEAT = (
    "UPDATE license_keys SET instances_count = instances_count + 1 WHERE id = {0} "
    "AND (activations_limit IS NULL OR instances_count < activations_limit) RETURNING id"
)
# Activation and deactivation queue their webhook event in their own transaction: the
# seat's statement also returns who listens (webhooks/hot.py), at no extra round trip.
TAKE_SEAT_LISTENED = TAKE_SEAT + ", {subscribers}"
FREE_SEAT = (
    "UPDATE license_keys SET instances_count = instances_count - 1 "
    "WHERE id = {0} AND instances_count > 0"
)
INSERT_INSTANCE = (
    "INSERT INTO license_key_instances (id, business_id, mode, license_key_id, name, created_at) "
    "VALUES ({0}, {1}, {2}, {3}, {4}, {5})"
)
DELETE_INSTANCE = (
    "DELETE FROM license_key_instances WHERE id = {0} AND license_key_id = {1} "
    "RETURNING id, name, created_at, {subscribers}"
)
DETAILS = (
    "SELECT c.id, c.email, c.name, c.phone_number, c.metadata, p.id, p.name "
    "FROM customers c, products p WHERE c.id = {0} AND p.id = {1}"
)


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    business_id: str
    mode: str
    customer_id: str
    product_id: str
    key_hash: bytes
    disabled: bool
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Details:
    customer_id: str
    email: str
    name: str
    phone_number: str | None
    metadata: Any
    product_id: str
    product_name: str


class LicenseStore(Protocol):
    async def find_key(self, key_hash: bytes, primary: bool = False) -> KeyRow | None: ...
    async def has_instance(self, key_id: str, instance_id: str) -> bool: ...
    async def activate(
        self, key: KeyRow, instance_id: str, name: str, now: datetime, origin: Origin
    ) -> bool: ...
    async def deactivate(
        self, key: KeyRow, instance_id: str, now: datetime, origin: Origin
    ) -> bool: ...
    async def details(self, customer_id: str, product_id: str) -> Details | None: ...


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def activated(key: KeyRow, instance_id: str, name: str, now: datetime, origin: Origin) -> Draft:
    """The audit event of an activation (`license_key_instance.activated`)."""
    return _draft(key, "activated", instance_id, now, origin, {"name": (None, name)})


def deactivated(key: KeyRow, instance_id: str, now: datetime, origin: Origin) -> Draft:
    return _draft(key, "deactivated", instance_id, now, origin, {})


def _draft(
    key: KeyRow,
    verb: str,
    instance_id: str,
    now: datetime,
    origin: Origin,
    pairs: dict[str, tuple[object, object]],
) -> Draft:
    return Draft(
        id=new_id("aud"),
        business_id=key.business_id,
        mode=key.mode,
        created_at=now,
        actor=origin.actor or f"license_key:{key.id}",
        action=f"license_key_instance.{verb}",
        target_type="license_key_instance",
        target_id=instance_id,
        changes={"license_key_id": {"old": None, "new": key.id}, **changes_of(pairs)},
        note=None,
        request_id=origin.request_id,
        client_address=origin.client_address,
    )


def _listened(template: str, style: str, table: str, event_type: str) -> str:
    """`template` with its `{subscribers}` subquery, rendered for the driver."""
    sql = template.replace("{subscribers}", subscribers(style, table, event_type))
    return render(sql, style)


def instance_data(key: KeyRow, instance_id: str, name: str, created_at: datetime) -> dict[str, Any]:
    """The instance as the API returns it: the payload of its webhook events."""
    return {
        "id": instance_id,
        "business_id": key.business_id,
        "created_at": created_at,
        "license_key_id": key.id,
        "name": name,
    }


class SqliteStore:
    def __init__(self, hot: SqliteHot, outbox: HotOutbox, audit: bool = True) -> None:
        self._hot = hot
        self._outbox = outbox
        self._audit = audit
        self._reader = hot.reader
        self._find = hot.sql(FIND_KEY)
        self._has = hot.sql(FIND_INSTANCE)
        self._details = hot.sql(DETAILS)
        self._take = _listened(TAKE_SEAT_LISTENED, "qmark", "license_keys", INSTANCE_ACTIVATED)
        self._delete = _listened(
            DELETE_INSTANCE, "qmark", "license_key_instances", INSTANCE_DEACTIVATED
        )
        self._insert = hot.sql(INSERT_INSTANCE)
        self._free = hot.sql(FREE_SEAT)
        self._queue = hot.sql(INSERT_DELIVERY)

    async def find_key(self, key_hash: bytes, primary: bool = False) -> KeyRow | None:
        row = self._reader.execute(self._find, (key_hash,)).fetchone()
        if row is None:
            return None
        expires = datetime.fromisoformat(row[7]).replace(tzinfo=UTC) if row[7] else None
        return KeyRow(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), expires)

    async def has_instance(self, key_id: str, instance_id: str) -> bool:
        return self._reader.execute(self._has, (instance_id, key_id)).fetchone() is not None

    async def details(self, customer_id: str, product_id: str) -> Details | None:
        row = self._reader.execute(self._details, (customer_id, product_id)).fetchone()
        return None if row is None else _details(row)

    def _activate(
        self, key: KeyRow, instance_id: str, name: str, event: Draft, conn: sqlite3.Connection
    ) -> bool:
        """One IMMEDIATE transaction: the seat, the instance, the event's deliveries, and
        the audit event chained last."""
        now = event.created_at
        conn.execute("BEGIN IMMEDIATE")
        try:
            taken = conn.execute(self._take, (key.id,)).fetchone()
            if taken is None:
                conn.execute("ROLLBACK")
                return False
            stamp = _sqlite_time(now)
            conn.execute(
                self._insert, (instance_id, key.business_id, key.mode, key.id, name, stamp)
            )
            if taken[1]:
                data = instance_data(key, instance_id, name, now)
                rows = self._outbox.rows(
                    taken[1], key.business_id, key.mode, INSTANCE_ACTIVATED, data, now, stamp
                )
                conn.executemany(self._queue, rows)
            if self._audit:
                sqlite_append(conn, event)
            conn.execute("COMMIT")
            return True
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _deactivate(
        self, key: KeyRow, instance_id: str, event: Draft, conn: sqlite3.Connection
    ) -> bool:
        now = event.created_at
        conn.execute("BEGIN IMMEDIATE")
        try:
            gone = conn.execute(self._delete, (instance_id, key.id)).fetchone()
            if gone is None or conn.execute(self._free, (key.id,)).rowcount == 0:
                conn.execute("ROLLBACK")
                return False
            if gone[3]:
                created = datetime.fromisoformat(gone[2]).replace(tzinfo=UTC)
                data = instance_data(key, instance_id, gone[1], created)
                rows = self._outbox.rows(
                    gone[3], key.business_id, key.mode, INSTANCE_DEACTIVATED, data, now,
                    _sqlite_time(now),
                )  # fmt: skip
                conn.executemany(self._queue, rows)
            if self._audit:
                sqlite_append(conn, event)
            conn.execute("COMMIT")
            return True
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def activate(
        self, key: KeyRow, instance_id: str, name: str, now: datetime, origin: Origin
    ) -> bool:
        event = activated(key, instance_id, name, now, origin)
        return await self._hot.write(
            lambda conn: self._activate(key, instance_id, name, event, conn)
        )

    async def deactivate(
        self, key: KeyRow, instance_id: str, now: datetime, origin: Origin
    ) -> bool:
        event = deactivated(key, instance_id, now, origin)
        return await self._hot.write(lambda conn: self._deactivate(key, instance_id, event, conn))


def _details(row: Any) -> Details:
    metadata = row[4]
    if isinstance(metadata, str):
        metadata = orjson.loads(metadata)
    return Details(row[0], row[1], row[2], row[3], metadata or {}, row[5], row[6])


class PostgresStore:
    def __init__(self, hot: PostgresHot, outbox: HotOutbox, audit: bool = True) -> None:
        self._pool = hot.pool
        self._reads = hot.reads  # the replica's pool when one is configured
        self._outbox = outbox
        self._audit = audit
        self._find = hot.sql(FIND_KEY)
        self._has = hot.sql(FIND_INSTANCE)
        self._details = hot.sql(DETAILS)
        self._take = _listened(TAKE_SEAT_LISTENED, "numeric", "license_keys", INSTANCE_ACTIVATED)
        self._insert = hot.sql(INSERT_INSTANCE)
        self._delete = _listened(
            DELETE_INSTANCE, "numeric", "license_key_instances", INSTANCE_DEACTIVATED
        )
        self._free = hot.sql(FREE_SEAT)
        self._queue = hot.sql(INSERT_DELIVERY)

    async def find_key(self, key_hash: bytes, primary: bool = False) -> KeyRow | None:
        """`primary`: before a write (activation, deactivation), never from the replica."""
        row = await (self._pool if primary else self._reads).fetchrow(self._find, key_hash)
        if row is None:
            return None
        return KeyRow(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), row[6], row[7])

    async def has_instance(self, key_id: str, instance_id: str) -> bool:
        return await self._reads.fetchrow(self._has, instance_id, key_id) is not None

    async def details(self, customer_id: str, product_id: str) -> Details | None:
        row = await self._pool.fetchrow(self._details, customer_id, product_id)
        return None if row is None else _details(row)

    async def activate(
        self, key: KeyRow, instance_id: str, name: str, now: datetime, origin: Origin
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            taken = await conn.fetchrow(self._take, key.id)
            if taken is None:
                return False
            await conn.execute(
                self._insert,
                instance_id,
                key.business_id,
                key.mode,
                key.id,
                name,
                now,
            )
            if taken[1]:
                data = instance_data(key, instance_id, name, now)
                rows = self._outbox.rows(
                    taken[1], key.business_id, key.mode, INSTANCE_ACTIVATED, data, now, now
                )
                await conn.executemany(self._queue, rows)
            if self._audit:  # last: the chain head stays locked only until the commit
                await postgres_append(conn, activated(key, instance_id, name, now, origin))
            return True

    async def deactivate(
        self, key: KeyRow, instance_id: str, now: datetime, origin: Origin
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            gone = await conn.fetchrow(self._delete, instance_id, key.id)
            if gone is None:
                return False
            await conn.execute(self._free, key.id)
            if gone[3]:
                data = instance_data(key, instance_id, gone[1], gone[2])
                rows = self._outbox.rows(
                    gone[3], key.business_id, key.mode, INSTANCE_DEACTIVATED, data, now, now
                )
                await conn.executemany(self._queue, rows)
            if self._audit:
                await postgres_append(conn, deactivated(key, instance_id, now, origin))
            return True


def license_store(hot: HotDb, outbox: HotOutbox, audit: bool = True) -> LicenseStore:
    """The store of this process's hot connections; `audit=False` (`LICENSOR_AUDIT=off`,
    for benchmarks only) leaves activations and deactivations off the audit log."""
    if isinstance(hot, SqliteHot):
        return SqliteStore(hot, outbox, audit)
    return PostgresStore(hot, outbox, audit)
