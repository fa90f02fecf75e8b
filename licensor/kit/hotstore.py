"""The raw-SQL connection layer of the hot paths (`licenses/store.py`, `instance_keys/store.py`).

One per process, opened and closed by the app's lifespan, shared by both stores; no ORM,
no per-request session. SQLite: one reader connection used inline on the event loop (a
point select by a unique index costs microseconds) and one writer connection on one
dedicated thread, so a writer waiting for the lock never blocks the loop; the pragmas
are the ORM engine's (`kit/db.py`). PostgreSQL: one asyncpg pool of `db_pool_size`
connections, plus a second pool on the streaming replica when one is configured
(`reads`: validate's and the check-in's lookups). Statements are written once with `{0}`,
`{1}`… placeholders and rendered for the driver by `sql()`.

Each holds `changes` (`kit/rowcache.py`), what empties the stores' row caches: SQLite's
`PRAGMA data_version` on the reader, or PostgreSQL's one listening connection (on the
primary: a hot standby replays no notices).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from licensor.kit.db import SQLITE_PRAGMAS, private_sqlite_file
from licensor.kit.rowcache import DataVersion, Listener

T = TypeVar("T")


def render(template: str, style: str) -> str:
    """`{0}`, `{1}`… as `?` (qmark, in textual order) or `$1`, `$2`… (numeric)."""
    n = template.count("{") - template.count("{{")
    marks = ["?"] * n if style == "qmark" else [f"${i + 1}" for i in range(n)]
    return template.format(*marks)


def _connect_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


class SqliteHot:
    style = "qmark"

    def __init__(self, url: str) -> None:
        path = private_sqlite_file(url)
        self.reader = _connect_sqlite(path)
        self.writer = _connect_sqlite(path)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hot-writer")
        self.changes = DataVersion(self.reader)

    def sql(self, template: str) -> str:
        return render(template, self.style)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(writer)` on the writer thread (the only user of that connection)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, work, self.writer)

    async def close(self) -> None:
        await self.changes.close()
        self._thread.shutdown(wait=True)
        self.reader.close()
        self.writer.close()


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release, minus the session-reset query.

    By default asyncpg runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` every time a connection goes back to the pool: a second round trip for
    every one-statement request. The hot stores only ever run their fixed statements (no
    advisory locks, cursors, LISTEN or SET), so there is no session state to clear. An
    open transaction is still rolled back: asyncpg does that before calling this.
    """


class PostgresHot:
    style = "numeric"

    def __init__(self, pool: Any, changes: Listener, reads: Any = None) -> None:
        self.pool = pool  # the primary: writes, and reads that must see them
        self.reads = reads if reads is not None else pool  # the replica's, when there is one
        self.changes = changes  # LISTENs on the primary (kit/rowcache.py)

    @classmethod
    async def connect(cls, url: str, size: int, read_url: str | None = None) -> PostgresHot:
        pool = await _pool(url, size)
        changes = Listener(_dsn(url))
        try:
            await changes.start()
        except BaseException:
            await pool.close()
            raise
        return cls(pool, changes, await _pool(read_url, size) if read_url else None)

    def sql(self, template: str) -> str:
        return render(template, self.style)

    async def close(self) -> None:
        await self.changes.close()
        if self.reads is not self.pool:
            await self.reads.close()
        await self.pool.close()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pool(url: str, size: int) -> Any:
    import asyncpg

    dsn = _dsn(url)
    return await asyncpg.create_pool(dsn, min_size=min(2, size), max_size=size, reset=_keep_session)


HotDb = SqliteHot | PostgresHot


async def open_hot(url: str, pool_size: int, read_url: str | None = None) -> HotDb:
    if url.startswith("sqlite"):
        return SqliteHot(url)
    return await PostgresHot.connect(url, pool_size, read_url)
