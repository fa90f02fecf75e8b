"""The lean data path behind the public `/licenses/*` routes, called all day by shipped software.

It skips the ORM and runs on the process's one hot-path connection layer
(`kit/hotstore.py`: SQLite read inline and written on one thread, or one asyncpg pool),
which the app's lifespan opens and closes; the statements are in `hot_sql.py`, the
PostgreSQL store in `store_postgres.py`.

Activation is one conditional UPDATE of the key's counter, which cannot pass the limit
whatever the concurrency: PostgreSQL re-checks the WHERE clause after taking the row
lock, and SQLite runs writers one at a time (BEGIN IMMEDIATE, on the process's one writer
thread, where the activations waiting at that moment share one transaction, each under
its own savepoint: `kit/hotstore.py` `write_batched`). In the same transaction:

- a machine that sends the fingerprint of an instance it already holds gets that
  instance back (same id, no seat taken); the unique index on (key, fingerprint) makes a
  concurrent twin's insert do nothing, and that transaction starts again and reuses it;
- on a full floating key, the seats whose machines have been silent for longer than the
  policy's interval plus grace are deleted first (`DELETE … RETURNING`: each exactly
  once) and the counter lowered by as many, so a crashed machine never blocks a live one
  (the worker's sweep frees the others: `license_key/seats.py`).

On PostgreSQL the common activation (no fingerprint, no air-gapped request, nobody
listening for its webhook) is the same UPDATE, the instance's INSERT and the audit event's
in one autocommitted statement (`store_postgres.py` `ACTIVATE_ALONE`); whatever it does
not take, the transaction above decides.

Locks are taken in one order — instance rows, then the key's row — by every path that
takes both (reaping, deactivation, the sweep); a new instance's row is its own.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Protocol

import orjson

from licensor.audit.chain import Draft
from licensor.audit.raw import sqlite_append
from licensor.kit.hotstore import HotDb, SqliteHot
from licensor.kit.origin import Origin
from licensor.kit.rowcache import RowCache
from licensor.license_key import hot_sql as q
from licensor.license_key.errors import ActivationRequestUsed
from licensor.license_key.hot_sql import Activation, Claim, Details, KeyRow, Seat
from licensor.webhooks.events import INSTANCE_ACTIVATED, INSTANCE_DEACTIVATED, INSTANCE_RELEASED
from licensor.webhooks.hot import HotOutbox

ATTEMPTS = 5  # an activation that lost its fingerprint to a concurrent twin starts again


class Retry(Exception):
    """A concurrent activation of the same fingerprint committed first: start again."""


class LicenseStore(Protocol):
    async def find_key(self, key_hash: bytes, primary: bool = False) -> KeyRow | None: ...
    async def find_seat(
        self, key_id: str, instance_id: str | None, fingerprint: str | None
    ) -> tuple[str, datetime] | None: ...
    async def find_seatable(self, key_hash: bytes) -> tuple[KeyRow, Details] | None: ...
    async def activate(
        self,
        key: KeyRow,
        instance_id: str,
        name: str,
        fingerprint: str | None,
        now: datetime,
        origin: Origin,
        claim: Claim | None = None,
    ) -> Activation | None: ...
    async def heartbeat(self, key: KeyRow, instance_id: str, now: datetime) -> bool: ...
    async def deactivate(
        self, key: KeyRow, instance_id: str, now: datetime, origin: Origin
    ) -> bool: ...
    async def details(self, customer_id: str, product_id: str) -> Details | None: ...


def details_of(row: Any) -> Details:
    metadata = row[4]
    if isinstance(metadata, str):
        metadata = orjson.loads(metadata)
    return Details(row[0], row[1], row[2], row[3], metadata or {}, row[5], row[6])


def seatable_of(row: Any, key_hash: bytes, expires_at: datetime | None) -> tuple[KeyRow, Details]:
    """A `FIND_SEATABLE` row: the key and its answer's details (in `DETAILS`'s order)."""
    details = (row[3], row[14], row[15], row[16], row[17], row[4], row[18])
    return q.key_row(row, key_hash, expires_at), details_of(details)


def seat_found(
    row: Any, instance_id: str | None, fingerprint: str | None
) -> tuple[str, datetime] | None:
    """(id, last heartbeat) of a found instance that is the one asked about."""
    if row is None or (fingerprint is not None and instance_id not in (None, row[0])):
        return None
    return row[0], q.parse_time(row[1])


def key_cache(hot: HotDb, seconds: float) -> RowCache[bytes, KeyRow]:
    """Validate's license keys by lookup hash (kit/rowcache.py), watched by the hot
    store's `changes`; `seconds` (`LICENSOR_VALIDATE_CACHE_SECONDS`) 0: no cache."""
    cache: RowCache[bytes, KeyRow] = RowCache("license_key", seconds)
    hot.changes.watch(cache)
    return cache


class SqliteStore:
    def __init__(
        self, hot: SqliteHot, outbox: HotOutbox, audit: bool = True, cache_seconds: float = 0
    ) -> None:
        self._hot = hot
        self._outbox = outbox
        self._audit = audit
        self._reader = hot.reader
        self._sql = q.statements(hot.style)
        self._cache = key_cache(hot, cache_seconds)
        self._changes = hot.changes

    async def find_key(self, key_hash: bytes, primary: bool = False) -> KeyRow | None:
        """`primary` (before a write) never from the cache; validate's read from it while
        no other connection has committed since it was filled (`PRAGMA data_version`)."""
        cache = self._cache
        if primary or not cache.enabled or not self._changes.fresh():
            return self._read_key(key_hash)
        found = cache.hit(key_hash)
        if found is None:
            token = cache.token()
            found = self._read_key(key_hash)
            if found is not None:
                cache.fill(key_hash, found, token)
        return found

    def _read_key(self, key_hash: bytes) -> KeyRow | None:
        row = self._reader.execute(self._sql.find, (key_hash,)).fetchone()
        if row is None:
            return None
        return q.key_row(row, row[5], q.parse_time(row[7]) if row[7] else None)

    async def find_seatable(self, key_hash: bytes) -> tuple[KeyRow, Details] | None:
        row = self._reader.execute(self._sql.find_seatable, (key_hash,)).fetchone()
        if row is None:
            return None
        return seatable_of(row, row[5], q.parse_time(row[7]) if row[7] else None)

    async def find_seat(
        self, key_id: str, instance_id: str | None, fingerprint: str | None
    ) -> tuple[str, datetime] | None:
        if fingerprint is not None:
            row = self._reader.execute(self._sql.has_print, (fingerprint, key_id)).fetchone()
        else:
            row = self._reader.execute(self._sql.has, (instance_id, key_id)).fetchone()
        return seat_found(row, instance_id, fingerprint)

    async def details(self, customer_id: str, product_id: str) -> Details | None:
        row = self._reader.execute(self._sql.details, (customer_id, product_id)).fetchone()
        return None if row is None else details_of(row)

    def _queue_event(
        self,
        conn: sqlite3.Connection,
        ids: str | None,
        key: KeyRow,
        kind: str,
        data: Any,
        now: datetime,
    ) -> None:
        if ids:
            stamp = q.sqlite_time(now)
            rows = self._outbox.rows(ids, key.business_id, key.mode, kind, data, now, stamp)
            conn.executemany(self._sql.queue, rows)

    def _reap_silent(
        self,
        conn: sqlite3.Connection,
        key: KeyRow,
        now: datetime,
        origin: Origin,
        events: list[Draft],
    ) -> int:
        """Free the key's silent seats; the number freed."""
        cutoff = q.sqlite_time(key.policy.cutoff(now))
        gone = conn.execute(self._sql.reap, (key.id, cutoff)).fetchall()
        if not gone:
            return 0
        conn.execute(self._sql.free_many, (len(gone), key.id))
        note = q.silence_note(key.policy)
        for row in gone:
            seat = q.seat_of(row)
            data = q.released_data(key, seat, note)
            self._queue_event(conn, row[5], key, INSTANCE_RELEASED, data, now)
            events.append(q.released(key, seat, now, origin))
        return len(gone)

    def _reuse_seat(self, conn: sqlite3.Connection, key: KeyRow, seat: Seat) -> Activation | None:
        """The machine's own instance (by fingerprint), heard of now; None if it has none."""
        if seat.fingerprint is None:
            return None
        now = seat.created_at
        params = (q.sqlite_time(now), key.id, seat.fingerprint)
        mine = conn.execute(self._sql.reuse, params).fetchone()
        if mine is None:
            return None
        held = Seat(mine[0], mine[1], seat.fingerprint, q.parse_time(mine[2]), now)
        return Activation(held, reused=True)

    def _activate_once(
        self,
        conn: sqlite3.Connection,
        key: KeyRow,
        seat: Seat,
        origin: Origin,
        events: list[Draft],
    ) -> Activation | None:
        now = seat.created_at
        stamp = q.sqlite_time(now)
        reused = self._reuse_seat(conn, key, seat)
        if reused is not None:
            return reused
        taken = conn.execute(self._sql.take, (key.id,)).fetchone()
        floating = key.policy.floating
        if taken is None and floating and self._reap_silent(conn, key, now, origin, events):
            taken = conn.execute(self._sql.take, (key.id,)).fetchone()
        if taken is None:  # full; a twin of this machine may have just taken its seat
            return self._reuse_seat(conn, key, seat)
        values = (seat.id, key.business_id, key.mode, key.id, seat.name, seat.fingerprint)
        if conn.execute(self._sql.insert, (*values, stamp, stamp)).fetchone() is None:
            raise Retry()  # never on SQLite's serial writer; the same logic as PostgreSQL
        self._queue_event(conn, taken[1], key, INSTANCE_ACTIVATED, q.instance_data(key, seat), now)
        events.append(q.activated(key, seat, now, origin))
        return Activation(seat, reused=False)

    def _take_claim(
        self,
        conn: sqlite3.Connection,
        key: KeyRow,
        done: Activation,
        claim: Claim,
        origin: Origin,
        events: list[Draft],
    ) -> None:
        now = done.seat.last_heartbeat_at
        times = (q.sqlite_time(t) for t in (claim.requested_at, claim.expires_at, now))
        values = (*claim.values(key, done.seat.id), *times)
        if conn.execute(self._sql.claim, values).fetchone() is None:
            raise ActivationRequestUsed()
        events.append(claim.redeemed(key, done.seat, now, origin))

    def _activate(
        self,
        key: KeyRow,
        seat: Seat,
        origin: Origin,
        conn: sqlite3.Connection,
        claim: Claim | None = None,
    ) -> Activation | None:
        """In the writer's group transaction (`write_batched`), under a savepoint: reuse or
        seat (reaping first when full), instance, the request taken (air-gapped
        activation), the events' deliveries, and the audit events (unsealed) last."""
        for _ in range(ATTEMPTS):
            events: list[Draft] = []
            conn.execute("SAVEPOINT activate")
            try:
                done = self._activate_once(conn, key, seat, origin, events)
                if done is None and not events:
                    _undo(conn, "activate")
                    return None
                if done is not None and claim is not None:
                    self._take_claim(conn, key, done, claim, origin, events)
                if self._audit:
                    for event in events:
                        sqlite_append(conn, event)
                conn.execute("RELEASE activate")
            except Retry:
                _undo(conn, "activate")
                continue
            except BaseException:
                _undo(conn, "activate")
                raise
            return done
        raise RuntimeError("activation kept losing its fingerprint to concurrent ones")

    def _deactivate(
        self, key: KeyRow, instance_id: str, event: Draft, conn: sqlite3.Connection
    ) -> bool:
        """In the writer's group transaction, under a savepoint (as `_activate`)."""
        conn.execute("SAVEPOINT deactivate")
        try:
            gone = conn.execute(self._sql.delete, (instance_id, key.id)).fetchone()
            if gone is None or conn.execute(self._sql.free, (key.id,)).rowcount == 0:
                _undo(conn, "deactivate")
                return False
            data = q.instance_data(key, q.seat_of(gone))
            self._queue_event(conn, gone[5], key, INSTANCE_DEACTIVATED, data, event.created_at)
            if self._audit:
                sqlite_append(conn, event)
            conn.execute("RELEASE deactivate")
            return True
        except BaseException:
            _undo(conn, "deactivate")
            raise

    async def activate(
        self,
        key: KeyRow,
        instance_id: str,
        name: str,
        fingerprint: str | None,
        now: datetime,
        origin: Origin,
        claim: Claim | None = None,
    ) -> Activation | None:
        """`claim`: an air-gapped machine's request, taken in the same transaction
        (`ActivationRequestUsed` when it was taken before: nothing is written)."""
        seat = Seat(instance_id, name, fingerprint, now, now)
        return await self._hot.write_batched(
            lambda conn: self._activate(key, seat, origin, conn, claim)
        )

    async def heartbeat(self, key: KeyRow, instance_id: str, now: datetime) -> bool:
        """Hear from the instance now, unless it has already lost its seat (one statement)."""
        params = (q.sqlite_time(now), instance_id, key.id, q.sqlite_time(key.policy.cutoff(now)))
        rows = await self._hot.write(lambda conn: conn.execute(self._sql.beat, params).fetchall())
        return bool(rows)

    async def deactivate(
        self, key: KeyRow, instance_id: str, now: datetime, origin: Origin
    ) -> bool:
        event = q.deactivated(key, instance_id, now, origin)
        return await self._hot.write_batched(
            lambda conn: self._deactivate(key, instance_id, event, conn)
        )


def license_store(
    hot: HotDb, outbox: HotOutbox, audit: bool = True, cache_seconds: float = 0
) -> LicenseStore:
    """The store of this process's hot connections; `audit=False` (`LICENSOR_AUDIT=off`,
    for benchmarks only) leaves activations and deactivations off the audit log;
    `cache_seconds`: how long validate may keep a key row (`key_cache`)."""
    if isinstance(hot, SqliteHot):
        return SqliteStore(hot, outbox, audit, cache_seconds)
    from licensor.license_key.store_postgres import PostgresStore

    return PostgresStore(hot, outbox, audit, cache_seconds)


def _undo(conn: sqlite3.Connection, savepoint: str) -> None:
    """Roll back to `savepoint` and drop it (nothing to undo if the transaction is gone)."""
    if conn.in_transaction:
        conn.execute(f"ROLLBACK TO {savepoint}")
        conn.execute(f"RELEASE {savepoint}")
