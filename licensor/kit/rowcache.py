"""The hot paths' row caches and the one way they hear that the database changed.

`RowCache` is a bounded map of rows read by the hot stores (validate's license key,
the check-in's instance key), each entry kept at most `ttl` seconds — the safety bound
should a change notice ever be lost. A cache is filled only from a read that started
after the last invalidation (`token()` before the read, `put(..., token)` after it), so
a notice that arrives while a read is in flight never leaves the old row behind.

`Changes` empties the caches when another connection changes the rows:

- SQLite (`DataVersion`): `PRAGMA data_version` on the reader connection, asked at the
  first use of a cache in each turn of the event loop; it moves whenever any other
  connection (any process) commits, and then the counters of `hot_versions` (moved by
  migration 1200's triggers) say which topics changed: only their caches are emptied,
  so a seat count or a last-seen write empties none.
- PostgreSQL (`Listener`): one dedicated asyncpg connection that `LISTEN`s on
  `licensor_hot`, fed by the triggers of migration 1200. A notice's payload is
  `<topic>` (empty that topic's caches) or `<topic>:<hex key>` (evict one entry). While
  the connection is down nothing is served from the caches (`fresh()` is False): the
  caches are emptied when it is lost and again once it listens anew.

A process's own ORM writes also empty its caches at their commit (`_own_writes`), so the
management API's change is seen by its own process at once, not a notice later.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import weakref
from collections.abc import Hashable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

CHANNEL = "licensor_hot"
# After a change, a streaming replica may not have it yet: a key changed (or a cache
# emptied) this recently is read again from the primary (`settling`).
SETTLE_SECONDS = 2.0
APPLICATION_NAME = "licensor hot listener"  # in pg_stat_activity
MAX_ENTRIES = 50_000


class RowCache(Generic[K, V]):
    def __init__(self, topic: str, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.topic = topic
        self.ttl = ttl
        self.enabled = ttl > 0
        self._max = max_entries
        self._rows: dict[K, tuple[float, V]] = {}
        self._epoch = 0
        self._settling: dict[K, float] = {}  # key -> until when it is read from the primary
        self._cleared = 0.0  # until when every key is
        _local.add(self)

    def get(self, key: K, clock: float) -> V | None:
        found = self._rows.get(key)
        if found is None:
            return None
        if found[0] <= clock:
            self._rows.pop(key, None)
            return None
        return found[1]

    def hit(self, key: K) -> V | None:
        """The entry of `key` if it is younger than `ttl`."""
        return self.get(key, time.monotonic())

    def fill(self, key: K, value: V, token: int) -> None:
        """`put` for `ttl` from now."""
        self.put(key, value, token, time.monotonic() + self.ttl)

    def token(self) -> int:
        return self._epoch

    def put(self, key: K, value: V, token: int, until: float) -> None:
        """Keep `value` until `until` (monotonic), unless the cache was invalidated since
        `token` was taken; a full cache starts again empty."""
        if token != self._epoch or not self.enabled:
            return
        if len(self._rows) >= self._max:
            self._rows.clear()
        self._rows[key] = (until, value)

    def evict(self, key: K) -> None:
        self._epoch += 1
        self._rows.pop(key, None)
        until = time.monotonic() + SETTLE_SECONDS
        if len(self._settling) >= self._max:
            self._settling.clear()
            self._cleared = until
        self._settling[key] = until

    def clear(self) -> None:
        self._epoch += 1
        self._rows.clear()
        self._settling.clear()
        self._cleared = time.monotonic() + SETTLE_SECONDS

    def settling(self, key: K) -> bool:
        """Was `key` changed (or the cache emptied) less than `SETTLE_SECONDS` ago? Then
        a replica may still hold the old row: read the primary."""
        clock = time.monotonic()
        if clock < self._cleared:
            return True
        until = self._settling.get(key)
        if until is None:
            return False
        if until <= clock:
            del self._settling[key]
            return False
        return True

    def __len__(self) -> int:
        return len(self._rows)


_local: weakref.WeakSet[RowCache[Any, Any]] = weakref.WeakSet()
WROTE = "licensor_rowcache_wrote"


def _flushed(session: Session, flush: UOWTransaction) -> None:
    session.info[WROTE] = True


def _executed(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        state.session.info[WROTE] = True


def _committed(session: Session) -> None:
    if session.info.pop(WROTE, False):
        for cache in list(_local):
            cache.clear()


def _rolled_back(session: Session) -> None:
    session.info.pop(WROTE, None)


def _own_writes() -> None:
    """Any ORM session of this process that wrote empties this process's row caches at
    commit (management writes are rare next to validate's reads)."""
    event.listen(Session, "after_flush", _flushed)
    event.listen(Session, "do_orm_execute", _executed)
    event.listen(Session, "after_commit", _committed)
    event.listen(Session, "after_rollback", _rolled_back)


_own_writes()


class Changes(Protocol):
    def watch(self, cache: RowCache[Any, Any]) -> None: ...
    def fresh(self) -> bool:
        """May the caches be served now? Empties them first when something changed."""
        ...

    async def close(self) -> None: ...


VERSIONS = "SELECT topic, version FROM hot_versions"


class DataVersion:
    """SQLite: a topic's caches are emptied when another connection has committed a
    change to its rows (its counter in `hot_versions` moved)."""

    def __init__(self, reader: sqlite3.Connection) -> None:
        self._reader = reader
        self._caches: dict[str, list[RowCache[Any, Any]]] = {}
        self._version: int | None = None
        self._topics: dict[str, int] = {}
        self._asked = False  # in this turn of the event loop (`fresh`)

    def watch(self, cache: RowCache[Any, Any]) -> None:
        self._caches.setdefault(cache.topic, []).append(cache)

    def fresh(self) -> bool:
        """Asked once per turn of the event loop, not per request: under load one turn
        serves many requests. That misses no commit a request could know of. The answer
        is forgotten by a callback queued at the first ask; whatever runs before that
        callback was itself queued before the ask, so it reacts to bytes (or a thread's
        result) that arrived before the pragma was read: a commit that ended before a
        request's bytes came in ended before the pragma too, and is seen."""
        if self._asked:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside a loop (a synchronous caller): ask every time
            pass
        else:
            self._asked = True
            loop.call_soon(self._forget)
        version = self._reader.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._version = version
            # a commit after the pragma and before this read is seen here, and again
            # (as no change) at the next call: never missed
            for topic, count in self._reader.execute(VERSIONS).fetchall():
                if self._topics.get(topic) != count:
                    self._topics[topic] = count
                    for cache in self._caches.get(topic, ()):
                        cache.clear()
        return True

    def _forget(self) -> None:
        self._asked = False

    async def close(self) -> None:
        self._caches.clear()


class Listener:
    """PostgreSQL: `LISTEN licensor_hot` on one connection of its own, reconnected when lost."""

    RETRY_SECONDS = 0.2
    PING_SECONDS = 2.0  # a dead peer that sent no FIN is found by a ping this often

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._caches: dict[str, list[RowCache[Any, Any]]] = {}
        self._conn: Any = None
        self._live = False
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._closing = False

    def watch(self, cache: RowCache[Any, Any]) -> None:
        self._caches.setdefault(cache.topic, []).append(cache)

    def fresh(self) -> bool:
        return self._live and not self._conn.is_closed()

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests terminate it)."""
        return None if self._conn is None else int(self._conn.get_server_pid())

    async def start(self) -> None:
        """Listen now if the database answers (start-up fails loudly otherwise), then keep
        listening in the background."""
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._keep())

    async def _connect(self) -> None:
        import asyncpg

        settings = {"application_name": APPLICATION_NAME}
        conn = await asyncpg.connect(self._dsn, server_settings=settings)
        try:
            await conn.add_listener(CHANNEL, self._heard)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        self._lost.clear()
        self._clear_all()  # whatever changed while no one listened
        self._live = True

    def _terminated(self, conn: Any) -> None:
        if conn is self._conn:
            self._down()

    def _down(self) -> None:
        self._live = False
        self._clear_all()
        self._lost.set()

    async def _keep(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self.PING_SECONDS)
            if self._closing:
                return
            if not self._lost.is_set():
                try:
                    await asyncio.wait_for(self._conn.execute("SELECT 1"), self.PING_SECONDS)
                    continue
                except Exception:
                    self._down()
            old, self._conn = self._conn, None
            if old is not None:
                old.terminate()
            while not self._closing:
                try:
                    await self._connect()
                    break
                except (OSError, Exception):
                    await asyncio.sleep(self.RETRY_SECONDS)

    def _heard(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        topic, _, key = payload.partition(":")
        for cache in self._caches.get(topic, ()):
            if key:
                with contextlib.suppress(ValueError):
                    cache.evict(bytes.fromhex(key))
                    continue
            cache.clear()

    def _clear_all(self) -> None:
        for caches in self._caches.values():
            for cache in caches:
                cache.clear()

    async def close(self) -> None:
        self._closing = True
        self._live = False
        self._lost.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None
