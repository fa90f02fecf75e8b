"""Many rows into one table, in the caller's transaction, at the driver's speed (imports).

SQLite: one `executemany` of a plain INSERT on the session's own connection (the driver
binds each row; no ORM or Core work per row). PostgreSQL: `COPY … FROM STDIN` in binary
through asyncpg's `copy_records_to_table` on the session's connection. Rows come as
tuples in Python form (str, int, bool, bytes, None, aware datetimes, dicts for JSON
columns); a `UTCDateTime` becomes the naive UTC text the ORM stores on SQLite and a JSON
column its text, so a row reads back through the ORM exactly as if the ORM had written it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.kit.db import UTCDateTime, sqlite_time

Row = Sequence[object]
SQLITE_CACHE_KIB = 256 * 1024  # per connection, allocated as pages are used


async def driver_connection(session: AsyncSession) -> tuple[str, Any]:
    """The dialect name and the driver's own connection (aiosqlite or asyncpg) under the
    session, inside its transaction: a statement through the session first if the driver
    has not begun it yet (asyncpg begins lazily, at the first statement)."""
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
    return name, driver


def _converters(table: Table, columns: Sequence[str], dialect: str) -> list[tuple[int, Any]]:
    """(position, convert) for each column whose Python value the driver cannot take as is."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        kind = table.c[name].type
        if isinstance(kind, JSON):
            out.append((i, lambda v: None if v is None else orjson.dumps(v).decode()))
        elif isinstance(kind, UTCDateTime) and dialect == "sqlite":
            times: dict[datetime, str] = {}  # a batch shares a few timestamps

            def text(v: datetime | None, times: dict[datetime, str] = times) -> str | None:
                if v is None:
                    return None
                found = times.get(v)
                if found is None:
                    found = times[v] = sqlite_time(v)
                return found

            out.append((i, text))
    return out


async def insert_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    """Insert `rows` (values in the order of `columns`) into `table`, in the session's
    transaction. A constraint violation raises the driver's error (sqlite3's or
    asyncpg's IntegrityError / UniqueViolationError), and the caller rolls back."""
    if not rows:
        return
    dialect, driver = await driver_connection(session)
    converters = _converters(table, columns, dialect)
    if converters:
        converted: list[Row] = []
        for row in rows:
            values = list(row)
            for i, convert in converters:
                values[i] = convert(values[i])
            converted.append(values)
        rows = converted
    if dialect == "sqlite":
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
        cursor = await driver.executemany(sql, rows)
        await cursor.close()
        return
    await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


def is_integrity_error(exc: BaseException) -> bool:
    """A constraint violation, however it surfaced: through SQLAlchemy, or raw from the
    driver (sqlite3, asyncpg) when `insert_rows` wrote past it."""
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
