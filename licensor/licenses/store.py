"""The lean data path behind the public `/licenses/*` routes, called all day by shipped software.

It skips the ORM: SQLite is read with the standard library inline (a point select by a
unique index costs microseconds) and written on one dedicated thread, so a writer
waiting for the lock never blocks the event loop; PostgreSQL goes through one asyncpg
pool per process. Activation is one conditional UPDATE of the key's counter, which
cannot pass the limit whatever the concurrency: PostgreSQL re-checks the WHERE clause
after taking the row lock, and SQLite runs writers one at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from licensor.kit.db import private_sqlite_file

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


def _sql(template: str, style: str) -> str:
    n = template.count("{")
    marks = ["?"] * n if style == "qmark" else [f"${i + 1}" for i in range(n)]
    return template.format(*marks)


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
    async def activate(self, key: KeyRow, instance_id: str, name: str, now: datetime) -> bool: ...
    async def deactivate(self, key_id: str, instance_id: str) -> bool: ...
    async def details(self, customer_id: str, product_id: str) -> Details | None: ...
    async def close(self) -> None: ...


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _connect_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SqliteStore:
    def __init__(self, url: str) -> None:
        path = private_sqlite_file(url)
        self._reader = _connect_sqlite(path)
        self._writer = _connect_sqlite(path)
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._find = _sql(FIND_KEY, "qmark")
        self._has = _sql(FIND_INSTANCE, "qmark")
        self._details = _sql(DETAILS, "qmark")

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

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> bool:
        """Run statements in one IMMEDIATE transaction; stop and roll back at the first no-op."""
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                cur = conn.execute(_sql(sql, "qmark"), params)
                if sql.endswith("RETURNING id"):
                    changed = cur.fetchone() is not None
                else:
                    changed = cur.rowcount > 0
                if not changed:
                    conn.execute("ROLLBACK")
                    return False
            conn.execute("COMMIT")
            return True
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def activate(self, key: KeyRow, instance_id: str, name: str, now: datetime) -> bool:
        steps = [
            (TAKE_SEAT, (key.id,)),
            (
                INSERT_INSTANCE,
                (instance_id, key.business_id, key.mode, key.id, name, _sqlite_time(now)),
            ),
        ]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._write_thread, self._write, steps)

    async def deactivate(self, key_id: str, instance_id: str) -> bool:
        steps = [(DELETE_INSTANCE, (instance_id, key_id)), (FREE_SEAT, (key_id,))]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._write_thread, self._write, steps)

    async def close(self) -> None:
        self._write_thread.shutdown(wait=True)
        self._reader.close()
        self._writer.close()


def _details(row: Any) -> Details:
    metadata = row[4]
    if isinstance(metadata, str):
        metadata = orjson.loads(metadata)
    return Details(row[0], row[1], row[2], row[3], metadata or {}, row[5], row[6])


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release, minus the session-reset query.

    By default asyncpg runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` every time a connection goes back to the pool: a second round trip for
    every one-statement request. This pool only ever runs the fixed statements above (no
    advisory locks, cursors, LISTEN or SET), so there is no session state to clear. An
    open transaction is still rolled back: asyncpg does that before calling this.
    """


class PostgresStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._find = _sql(FIND_KEY, "numeric")
        self._has = _sql(FIND_INSTANCE, "numeric")
        self._details = _sql(DETAILS, "numeric")

    @classmethod
    async def connect(cls, url: str, size: int) -> PostgresStore:
        import asyncpg

        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        pool = await asyncpg.create_pool(
            dsn, min_size=min(2, size), max_size=size, reset=_keep_session
        )
        return cls(pool)

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

    async def activate(self, key: KeyRow, instance_id: str, name: str, now: datetime) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchrow(_sql(TAKE_SEAT, "numeric"), key.id) is None:
                return False
            await conn.execute(
                _sql(INSERT_INSTANCE, "numeric"),
                instance_id,
                key.business_id,
                key.mode,
                key.id,
                name,
                now,
            )
            return True

    async def deactivate(self, key_id: str, instance_id: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchrow(_sql(DELETE_INSTANCE, "numeric"), instance_id, key_id) is None:
                return False
            await conn.execute(_sql(FREE_SEAT, "numeric"), key_id)
            return True

    async def close(self) -> None:
        await self._pool.close()


async def open_store(url: str, pool_size: int) -> LicenseStore:
    if url.startswith("sqlite"):
        return SqliteStore(url)
    return await PostgresStore.connect(url, pool_size)
