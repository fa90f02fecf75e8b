"""Many rows into one table, in the caller's transaction, at the driver's speed (imports).

`Bulk.of(session)` is the session's own driver connection (aiosqlite or asyncpg) inside
its transaction. SQLite: one `executemany` of a plain INSERT (the driver binds each row;
no ORM or Core work per row). PostgreSQL: `COPY … FROM STDIN` in binary through asyncpg's
`copy_records_to_table`. The caller builds each row's values in the driver's form with
`time()` and `json()`, so a row reads back through the ORM exactly as if the ORM had
written it (a `UTCDateTime` is naive UTC text on SQLite, a JSON column its text).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.db import sqlite_time

Row = Sequence[object]
SQLITE_CACHE_KIB = 256 * 1024  # per connection, allocated as pages are used


@dataclass
class Bulk:
    dialect: str
    driver: Any
    _times: dict[datetime, str] = field(default_factory=dict)

    @classmethod
    async def of(cls, session: AsyncSession) -> Bulk:
        """The session's driver connection, inside its transaction: a statement through
        the session first if the driver has not begun it yet (asyncpg begins lazily)."""
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        name = conn.dialect.name
        started = driver.in_transaction if name == "sqlite" else driver.is_in_transaction()
        if not started:
            await conn.exec_driver_sql("SELECT 1")
        if name == "sqlite":
            # A page cache that holds the indexes a bulk load walks (SQLite's default is
            # 2 MiB; spilling dirty pages mid-transaction costs more than the inserts).
            await conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        return cls(name, driver)

    def time(self, value: datetime | None) -> object:
        """A `UTCDateTime` value as the driver takes it (a batch repeats a few)."""
        if value is None or self.dialect != "sqlite":
            return value
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = sqlite_time(value)
        return text

    @staticmethod
    def json(value: object) -> str:
        return orjson.dumps(value).decode()

    async def insert(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Insert `rows` (values in the order of `columns`, from `time()`/`json()` where
        the column needs it). A constraint violation raises the driver's error (sqlite3's
        IntegrityError, asyncpg's UniqueViolationError, …): the caller rolls back."""
        if not rows:
            return
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            cursor = await self.driver.executemany(sql, rows)
            await cursor.close()
            return
        await self.driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


def is_integrity_error(exc: BaseException) -> bool:
    """A constraint violation, however it surfaced: through SQLAlchemy, or raw from the
    driver (sqlite3, asyncpg) when `Bulk.insert` wrote past it."""
    if isinstance(exc, IntegrityError | sqlite3.IntegrityError):
        return True
    import asyncpg

    return isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError)


async def analyze(session: AsyncSession, tables: Sequence[str]) -> None:
    """PostgreSQL: fresh planner statistics for `tables` after a bulk load (autovacuum
    would gather them later; until then the planner may take a big table for a small
    one). SQLite: nothing (a server does not run ANALYZE either)."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql("ANALYZE " + ", ".join(tables))
