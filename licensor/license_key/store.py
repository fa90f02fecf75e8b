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

FIND_KEY = (
    "SELECT id, business_id, mode, customer_id, product_id, key_hash, disabled, expires_at "
    "FROM license_keys WHERE key_hash = {0}"
)
FIND_INSTANCE = "SELECT 1 FROM license_key_instances WHERE id = {0} AND license_key_id = {1}"
TAKE_SEAT = (
    "UPDATE license_keys SET instances_count = instances_count + 1 WHERE id = {0} "
    "AND (activations_limit IS NULL OR instances_count < activations_limit) RETURNING id"
)
FREE_SEAT = (
    "UPDATE license_keys SET instances_count = instances_count - 1 "
    "WHERE id = {0} AND instances_count > 0"
)
INSERT_INSTANCE = (
    "INSERT INTO license_key_instances (id, business_id, mode, license_key_id, name, created_at) "
    "VALUES ({0}, {1}, {2}, {3}, {4}, {5})"
)
DELETE_INSTANCE = (
    "DELETE FROM license_key_instances WHERE id = {0} AND license_key_id = {1} RETURNING id"
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
    async def find_key(self, key_hash: bytes) -> KeyRow | None: ...
    async def has_instance(self, key_id: str, instance_id: str) -> bool: ...
    async def activate(
        self, key: KeyRow, instance_id: str, name: str, now: datetime, origin: Origin
    ) -> bool: ...
    async def deactivate(self, key: KeyRow, instance_id: str, origin: Origin) -> bool: ...
    async def details(self, customer_id: str, product_id: str) -> Details | None: ...


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


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class SqliteStore:
    def __init__(self, hot: SqliteHot, audit: bool = True) -> None:
        self._hot = hot
        self._audit = audit
        self._reader = hot.reader
        self._find = hot.sql(FIND_KEY)
        self._has = hot.sql(FIND_INSTANCE)
        self._details = hot.sql(DETAILS)

    async def find_key(self, key_hash: bytes) -> KeyRow | None:
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

    def _write(
        self,
        statements: list[tuple[str, tuple[Any, ...]]],
        event: Draft,
        conn: sqlite3.Connection,
    ) -> bool:
        """Run statements in one IMMEDIATE transaction; stop and roll back at the first no-op.
        The audit event is chained last, in the same transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                cur = conn.execute(render(sql, "qmark"), params)
                if sql.endswith("RETURNING id"):
                    changed = cur.fetchone() is not None
                else:
                    changed = cur.rowcount > 0
                if not changed:
                    conn.execute("ROLLBACK")
                    return False
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
        steps = [
            (TAKE_SEAT, (key.id,)),
            (
                INSERT_INSTANCE,
                (instance_id, key.business_id, key.mode, key.id, name, _sqlite_time(now)),
            ),
        ]
        event = activated(key, instance_id, name, now, origin)
        return await self._hot.write(lambda conn: self._write(steps, event, conn))

    async def deactivate(self, key: KeyRow, instance_id: str, origin: Origin) -> bool:
        steps = [(DELETE_INSTANCE, (instance_id, key.id)), (FREE_SEAT, (key.id,))]
        event = deactivated(key, instance_id, datetime.now(UTC), origin)
        return await self._hot.write(lambda conn: self._write(steps, event, conn))


def _details(row: Any) -> Details:
    metadata = row[4]
    if isinstance(metadata, str):
        metadata = orjson.loads(metadata)
    return Details(row[0], row[1], row[2], row[3], metadata or {}, row[5], row[6])


class PostgresStore:
    def __init__(self, hot: PostgresHot, audit: bool = True) -> None:
        self._pool = hot.pool
        self._audit = audit
        self._find = hot.sql(FIND_KEY)
        self._has = hot.sql(FIND_INSTANCE)
        self._details = hot.sql(DETAILS)
        self._take = hot.sql(TAKE_SEAT)
        self._insert = hot.sql(INSERT_INSTANCE)
        self._delete = hot.sql(DELETE_INSTANCE)
        self._free = hot.sql(FREE_SEAT)

    async def find_key(self, key_hash: bytes) -> KeyRow | None:
        row = await self._pool.fetchrow(self._find, key_hash)
        if row is None:
            return None
        return KeyRow(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), row[6], row[7])

    async def has_instance(self, key_id: str, instance_id: str) -> bool:
        return await self._pool.fetchrow(self._has, instance_id, key_id) is not None

    async def details(self, customer_id: str, product_id: str) -> Details | None:
        row = await self._pool.fetchrow(self._details, customer_id, product_id)
        return None if row is None else _details(row)

    async def activate(
        self, key: KeyRow, instance_id: str, name: str, now: datetime, origin: Origin
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchrow(self._take, key.id) is None:
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
            if self._audit:  # last: the chain head stays locked only until the commit
                await postgres_append(conn, activated(key, instance_id, name, now, origin))
            return True

    async def deactivate(self, key: KeyRow, instance_id: str, origin: Origin) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchrow(self._delete, instance_id, key.id) is None:
                return False
            await conn.execute(self._free, key.id)
            if self._audit:
                now = datetime.now(UTC)
                await postgres_append(conn, deactivated(key, instance_id, now, origin))
            return True


def license_store(hot: HotDb, audit: bool = True) -> LicenseStore:
    """The store of this process's hot connections; `audit=False` (`LICENSOR_AUDIT=off`,
    for benchmarks only) leaves activations and deactivations off the audit log."""
    if isinstance(hot, SqliteHot):
        return SqliteStore(hot, audit)
    return PostgresStore(hot, audit)
