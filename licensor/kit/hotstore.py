"""The raw-SQL connection layer of the hot paths (`licenses/store.py`, `instance_keys/store.py`).

One per process, opened and closed by the app's lifespan, shared by both stores; no ORM,
no per-request session. SQLite: one reader connection used inline on the event loop (a
point select by a unique index costs microseconds) and one writer connection on one
dedicated thread, so a writer waiting for the lock never blocks the loop; the pragmas
are the ORM engine's (`kit/db.py`). Activations and deactivations commit in groups
(`write_batched`): whatever is waiting when the writer thread gets to it runs in one
transaction, each in its own savepoint, so one COMMIT (its WAL write) serves many; the
server processes on one database file take turns through a lock file beside it
(`flock`, `<database>-writers`), so a waiting writer starts the moment the other's COMMIT
is done instead of polling SQLite's lock with the busy handler's growing sleeps.
PostgreSQL: one asyncpg pool of `db_pool_size` connections, plus a second pool on the
streaming replica when one is configured (`reads`: validate's and the check-in's
lookups). Statements are written once with `{0}`, `{1}`… placeholders and rendered for
the driver by `sql()`.

Each holds `changes` (`kit/rowcache.py`), what empties the stores' row caches: SQLite's
`PRAGMA data_version` on the reader, or PostgreSQL's one listening connection (on the
primary: a hot standby replays no notices).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from licensor.kit.db import PRIVATE_FILE, SQLITE_PRAGMAS, private_sqlite_file, sqlite_path
from licensor.kit.rowcache import DataVersion, Listener

T = TypeVar("T")
log = logging.getLogger("licensor")

# At most this many writes share one transaction (the first waits for none of the others).
BATCH_LIMIT = 128


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
        self._waiting: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._lock = threading.Lock()
        self._draining = False
        self._turns = writers_lock(path)
        self.changes = DataVersion(self.reader)
        self._checkpoints = Checkpointer(path, self.writer)

    def sql(self, template: str) -> str:
        return render(template, self.style)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(writer)` on the writer thread (the only user of that connection)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._in_turn, work)

    def _in_turn(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._turns is None:
                return work(self.writer)
            fcntl.flock(self._turns, fcntl.LOCK_EX)
            try:
                return work(self.writer)
            finally:
                fcntl.flock(self._turns, fcntl.LOCK_UN)
        finally:
            self._checkpoints.due()  # its statements commit as they run (autocommit)

    async def write_batched(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(writer)` inside a write transaction that the writer thread may share
        with the other batched writes waiting at that moment (group commit).

        `work` runs in the transaction (BEGIN IMMEDIATE is taken for it) and must not
        begin, commit or roll back: it undoes its own changes with a savepoint. The answer
        comes after the COMMIT; an exception from `work` undoes that write alone, a failed
        COMMIT fails the whole group. The writes of a group run one after another on one
        connection, so a condition one reads is exact, as with one transaction each."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((work, future))
            start = not self._draining
            self._draining = True
        if start:
            self._thread.submit(self._drain)
        return await future

    def _drain(self) -> None:
        while True:
            with self._lock:
                group = self._waiting[:BATCH_LIMIT]
                del self._waiting[:BATCH_LIMIT]
                if not group:
                    self._draining = False
                    return
            try:
                self._commit_group(group)
            except BaseException:  # e.g. a loop closed under it: the next write drains again
                with self._lock:
                    self._draining = False
                raise

    def _commit_group(
        self, group: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]]
    ) -> None:
        conn = self.writer
        outcomes: list[tuple[Any, BaseException | None]] = []
        if self._turns is not None:
            fcntl.flock(self._turns, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for work, _ in group:
                conn.execute("SAVEPOINT batched")
                try:
                    outcomes.append((work(conn), None))
                except Exception as error:  # this write alone is undone
                    if not conn.in_transaction:
                        raise
                    conn.execute("ROLLBACK TO batched")
                    outcomes.append((None, error))
                conn.execute("RELEASE batched")
            conn.execute("COMMIT")
            self._checkpoints.due()
        except BaseException as error:  # the group's transaction is gone: each one fails
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(None, error)] * len(group)
        finally:
            if self._turns is not None:
                fcntl.flock(self._turns, fcntl.LOCK_UN)
        for (_, future), (value, failed) in zip(group, outcomes, strict=True):
            future.get_loop().call_soon_threadsafe(_settle, future, value, failed)

    async def close(self) -> None:
        await self.changes.close()
        self._thread.shutdown(wait=True)
        self._checkpoints.close()
        self.reader.close()
        self.writer.close()
        if self._turns is not None:
            os.close(self._turns)


class Checkpointer:
    """Copies the WAL back into the database file on a thread of its own, so the group
    commits never wait for it.

    SQLite checkpoints in whichever connection's COMMIT takes the WAL past 1,000 pages: on
    the writer thread, that COMMIT then copies them all while every activation behind it
    waits. The writer's own automatic checkpoint is off; after a group commit `due()` wakes
    this thread, which runs a PASSIVE checkpoint on its own connection (it takes no write
    lock: the writer goes on meanwhile) at most every `PAUSE` seconds; so does any other
    write of the writer (`write`: a heartbeat, the check-in's last-seen), which would
    otherwise grow the WAL, and every read's walk through it, without bound. A checkpoint that
    finds the WAL still in use copies what it can; the next one goes on from there. The
    ORM engine's connections keep SQLite's automatic checkpoint for their own commits."""

    PAUSE = 0.05

    def __init__(self, path: str, writer: sqlite3.Connection) -> None:
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        if not path or path == ":memory:":
            return
        writer.execute("PRAGMA wal_autocheckpoint=0")
        self._conn = _connect_sqlite(path)
        self._thread = threading.Thread(target=self._run, name="hot-checkpoint", daemon=True)
        self._thread.start()

    def due(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stop:
                return
            self._wake.clear()
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # e.g. the file gone under a test: the next one tries again
                log.warning("WAL checkpoint failed", exc_info=True)
            time.sleep(self.PAUSE)

    def close(self) -> None:
        if self._thread is None:
            return
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._conn.close()


@contextlib.asynccontextmanager
async def writers_turn(url: str) -> AsyncIterator[None]:
    """Take the hot writers' turn on an SQLite database (`<database>-writers`) for a write
    of another connection, e.g. the audit sealer's: the hot writers then wait on the lock
    file while it writes, instead of polling SQLite's lock. Nothing on PostgreSQL."""
    path = sqlite_path(url) if url.startswith("sqlite") else ""  # an open database: no set-up
    fd = writers_lock(path)
    if fd is None:
        yield
        return
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def writers_lock(path: str) -> int | None:
    """The lock file the hot writers of one database file take turns by (None in memory)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return os.open(path + "-writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


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
