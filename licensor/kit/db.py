"""Engines, sessions and the declarative base shared by every model.

SQLite is the embedded default and PostgreSQL the production database; one code path
serves both. On SQLite, sessions that write start with `BEGIN IMMEDIATE` so concurrent
writers queue on the lock instead of failing on a read-to-write upgrade.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; `timestamptz` on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_time(value: datetime) -> str:
    """A time as `UTCDateTime` stores it on SQLite: naive UTC text with microseconds."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) readable by this user only, or tighten it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)


def private_sqlite_file(url: str) -> str:
    """The SQLite file of `url`, created 0600 before SQLite opens it (its -wal and -shm
    then get the same mode) and tightened to 0600 (chmod: no descriptor is opened) if an
    older install left it wider."""
    path = sqlite_path(url)
    if not path or path == ":memory:" or path.startswith("file:"):
        return path
    parent = Path(path).parent
    if not parent.exists():
        private_dir(parent)
    # Only a missing file is opened here: closing a descriptor of a database this process
    # already has open would drop SQLite's POSIX locks on it (and with them WAL safety).
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for name in (path, *(path + suffix for suffix in SQLITE_SIDE_FILES)):
        try:
            if os.stat(name).st_mode & 0o777 != PRIVATE_FILE:
                os.chmod(name, PRIVATE_FILE)
        except FileNotFoundError:
            continue
    return path


# Every SQLite connection of a process: the ORM engines' and the hot stores' (hotstore.py).
SQLITE_PRAGMAS = ("busy_timeout=10000", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _make_engine(url: str, *, begin: str | None, pool_size: int) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)

        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin or "BEGIN")

        event.listen(engine.sync_engine, "begin", _begin)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _snapshot(engine: AsyncEngine) -> AsyncEngine:
    """PostgreSQL reads in one snapshot per transaction (REPEATABLE READ), on the same pool:
    a read-only check of several statements then never sees a row appear between two of
    them (under READ COMMITTED each statement reads what was committed at its own start).
    SQLite's read transaction is a snapshot already."""
    return engine.execution_options(isolation_level="REPEATABLE READ")


@dataclass
class Database:
    """The engines of a process. `read_sessions` read the primary (what must see its own
    writes); `replica_sessions` read the streaming replica when one is configured
    (`LICENSOR_DATABASE_READ_URL`: the API's lists and searches), else the same as
    `read_sessions`."""

    url: str
    write_engine: AsyncEngine
    read_engine: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    replica_engine: AsyncEngine | None = None
    replica_sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def list_sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.replica_sessions or self.read_sessions

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine.sync_engine.pool is not self.write_engine.sync_engine.pool:
            await self.read_engine.dispose()
        if self.replica_engine is not None:
            await self.replica_engine.dispose()


def open_database(url: str, pool_size: int = 10, read_url: str | None = None) -> Database:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        write = _make_engine(url, begin="BEGIN IMMEDIATE", pool_size=pool_size)
        read = _make_engine(url, begin="BEGIN", pool_size=pool_size)
    else:
        write = _make_engine(url, begin=None, pool_size=pool_size)
        read = _snapshot(write)
    replica = (
        _snapshot(_make_engine(read_url, begin=None, pool_size=pool_size)) if read_url else None
    )
    return Database(
        url=url,
        write_engine=write,
        read_engine=read,
        write_sessions=async_sessionmaker(write, expire_on_commit=False),
        read_sessions=async_sessionmaker(read, expire_on_commit=False),
        replica_engine=replica,
        replica_sessions=async_sessionmaker(replica, expire_on_commit=False) if replica else None,
    )
