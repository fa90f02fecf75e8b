"""The public checks' raw store on PostgreSQL (asyncpg): the same transactions as the
SQLite store (`store.py`, whose docstring says why they are race-free)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from licensor.audit.chain import Draft, draft_params
from licensor.audit.raw import postgres_append
from licensor.kit.hotstore import PostgresHot
from licensor.kit.origin import Origin
from licensor.license_key import hot_sql as q
from licensor.license_key.errors import ActivationRequestUsed
from licensor.license_key.hot_sql import Activation, Claim, Details, KeyRow, Seat
from licensor.license_key.store import (
    ATTEMPTS,
    Retry,
    details_of,
    key_cache,
    seat_found,
    seatable_of,
)
from licensor.webhooks.events import INSTANCE_ACTIVATED, INSTANCE_DEACTIVATED, INSTANCE_RELEASED
from licensor.webhooks.hot import HotOutbox

# The common activation — no fingerprint (so no twin to race), no air-gapped request, and
# no endpoint listening — in one statement and one round trip: the seat taken within the
# limit, the instance, and its audit event, atomic as any statement is. When it takes
# nothing (the key is full, or someone listens), the full transaction below decides.
_ALONE = (
    "WITH taken AS (UPDATE license_keys SET instances_count = instances_count + 1 "
    "WHERE id = {0} AND (activations_limit IS NULL OR instances_count < activations_limit) "
    "AND {subscribers} IS NULL RETURNING id, business_id, mode), "
    "seat AS (INSERT INTO license_key_instances (id, business_id, mode, license_key_id, name, "
    "created_at, last_heartbeat_at) "
    "SELECT {1}::text, business_id, mode, id, {2}::text, {3}::timestamptz, {3}::timestamptz "
    "FROM taken RETURNING id)"
)
_ALONE_EVENT = (
    ", event AS (INSERT INTO audit_events (id, business_id, mode, created_at, actor, action, "
    "target_type, target_id, changes, note, request_id, client_address) "
    "SELECT {4}::text, {5}::text, {6}::text, {7}::timestamptz, {8}::text, {9}::text, "
    "{10}::text, {11}::text, {12}::json, {13}::text, {14}::text, {15}::text FROM seat)"
)
ACTIVATE_ALONE = q.listened(
    _ALONE + " SELECT id FROM seat", "numeric", "license_keys", INSTANCE_ACTIVATED
)
ACTIVATE_ALONE_AUDITED = q.listened(
    _ALONE + _ALONE_EVENT + " SELECT id FROM seat", "numeric", "license_keys", INSTANCE_ACTIVATED
)
_EVENT_COLUMNS = (0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12)  # of `draft_params`: not the seal's


class PostgresStore:
    def __init__(
        self, hot: PostgresHot, outbox: HotOutbox, audit: bool = True, cache_seconds: float = 0
    ) -> None:
        self._pool = hot.pool
        self._reads = hot.reads  # the replica's pool when one is configured
        self._outbox = outbox
        self._audit = audit
        self._sql = q.statements(hot.style)
        self._cache = key_cache(hot, cache_seconds)
        self._changes = hot.changes

    async def find_key(self, key_hash: bytes, primary: bool = False) -> KeyRow | None:
        """`primary`: before a write (activation, deactivation), never from the replica nor
        the cache; validate's from the cache while its listener listens (kit/rowcache.py)."""
        if primary:
            return await self._read_key(self._pool, key_hash)
        cache = self._cache
        if not cache.enabled or not self._changes.fresh():
            return await self._read_key(self._reads, key_hash)
        found = cache.hit(key_hash)
        if found is None:
            token = cache.token()
            pool = self._pool if cache.settling(key_hash) else self._reads
            found = await self._read_key(pool, key_hash)
            if found is not None:
                cache.fill(key_hash, found, token)
        return found

    async def _read_key(self, pool: Any, key_hash: bytes) -> KeyRow | None:
        row = await pool.fetchrow(self._sql.find, key_hash)
        return None if row is None else q.key_row(row, bytes(row[5]), row[7])

    async def find_seatable(self, key_hash: bytes) -> tuple[KeyRow, Details] | None:
        row = await self._pool.fetchrow(self._sql.find_seatable, key_hash)
        return None if row is None else seatable_of(row, bytes(row[5]), row[7])

    async def find_seat(
        self, key_id: str, instance_id: str | None, fingerprint: str | None
    ) -> tuple[str, datetime] | None:
        if fingerprint is not None:
            row = await self._reads.fetchrow(self._sql.has_print, fingerprint, key_id)
        else:
            row = await self._reads.fetchrow(self._sql.has, instance_id, key_id)
        return seat_found(row, instance_id, fingerprint)

    async def details(self, customer_id: str, product_id: str) -> Details | None:
        row = await self._pool.fetchrow(self._sql.details, customer_id, product_id)
        return None if row is None else details_of(row)

    async def _queue_event(
        self, conn: Any, ids: str | None, key: KeyRow, kind: str, data: Any, now: datetime
    ) -> None:
        if ids:
            rows = self._outbox.rows(ids, key.business_id, key.mode, kind, data, now, now)
            await conn.executemany(self._sql.queue, rows)

    async def _reap_silent(
        self, conn: Any, key: KeyRow, now: datetime, origin: Origin, events: list[Draft]
    ) -> int:
        gone = await conn.fetch(self._sql.reap, key.id, key.policy.cutoff(now))
        if not gone:
            return 0
        await conn.execute(self._sql.free_many, len(gone), key.id)
        note = q.silence_note(key.policy)
        for row in gone:
            seat = q.seat_of(row)
            data = q.released_data(key, seat, note)
            await self._queue_event(conn, row[5], key, INSTANCE_RELEASED, data, now)
            events.append(q.released(key, seat, now, origin))
        return len(gone)

    async def _reuse_seat(self, conn: Any, key: KeyRow, seat: Seat) -> Activation | None:
        """The machine's own instance (by fingerprint), heard of now; None if it has none."""
        if seat.fingerprint is None:
            return None
        now = seat.created_at
        mine = await conn.fetchrow(self._sql.reuse, now, key.id, seat.fingerprint)
        if mine is None:
            return None
        held = Seat(mine[0], mine[1], seat.fingerprint, q.parse_time(mine[2]), now)
        return Activation(held, reused=True)

    async def _activate_once(
        self, conn: Any, key: KeyRow, seat: Seat, origin: Origin, events: list[Draft]
    ) -> Activation | None:
        now = seat.created_at
        reused = await self._reuse_seat(conn, key, seat)
        if reused is not None:
            return reused
        taken = await conn.fetchrow(self._sql.take, key.id)
        if (
            taken is None
            and key.policy.floating
            and await self._reap_silent(conn, key, now, origin, events)
        ):
            taken = await conn.fetchrow(self._sql.take, key.id)
        if taken is None:  # full; a twin of this machine may have just taken its seat
            return await self._reuse_seat(conn, key, seat)
        values = (seat.id, key.business_id, key.mode, key.id, seat.name, seat.fingerprint)
        if await conn.fetchrow(self._sql.insert, *values, now, now) is None:
            raise Retry()  # the twin's row is committed: the next attempt reuses it
        data = q.instance_data(key, seat)
        await self._queue_event(conn, taken[1], key, INSTANCE_ACTIVATED, data, now)
        events.append(q.activated(key, seat, now, origin))
        return Activation(seat, reused=False)

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
        seat = Seat(instance_id, name, fingerprint, now, now)
        if fingerprint is None and claim is None and await self._activate_alone(key, seat, origin):
            return Activation(seat, reused=False)
        for _ in range(ATTEMPTS):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    events: list[Draft] = []
                    done = await self._activate_once(conn, key, seat, origin, events)
                    if done is not None and claim is not None:
                        await self._take_claim(conn, key, done, claim, origin, events)
                    if self._audit:  # unsealed: the sealer chains them after the commit
                        for event in events:
                            await postgres_append(conn, event)
                    return done
            except Retry:
                continue
        raise RuntimeError("activation kept losing its fingerprint to concurrent ones")

    async def _activate_alone(self, key: KeyRow, seat: Seat, origin: Origin) -> bool:
        """`ACTIVATE_ALONE`: True when it took the seat (then all is written)."""
        params: tuple[Any, ...] = (key.id, seat.id, seat.name, seat.created_at)
        sql = ACTIVATE_ALONE
        if self._audit:
            event = draft_params(q.activated(key, seat, seat.created_at, origin), seat.created_at)
            params += tuple(event[i] for i in _EVENT_COLUMNS)
            sql = ACTIVATE_ALONE_AUDITED
        return await self._pool.fetchval(sql, *params) is not None

    async def _take_claim(
        self,
        conn: Any,
        key: KeyRow,
        done: Activation,
        claim: Claim,
        origin: Origin,
        events: list[Draft],
    ) -> None:
        """The air-gapped machine's request, taken once (store.py's `_take_claim`)."""
        now = done.seat.last_heartbeat_at
        values = (*claim.values(key, done.seat.id), claim.requested_at, claim.expires_at, now)
        if await conn.fetchrow(self._sql.claim, *values) is None:
            raise ActivationRequestUsed()
        events.append(claim.redeemed(key, done.seat, now, origin))

    async def heartbeat(self, key: KeyRow, instance_id: str, now: datetime) -> bool:
        found = await self._pool.fetchrow(
            self._sql.beat, now, instance_id, key.id, key.policy.cutoff(now)
        )
        return found is not None

    async def deactivate(
        self, key: KeyRow, instance_id: str, now: datetime, origin: Origin
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            gone = await conn.fetchrow(self._sql.delete, instance_id, key.id)
            if gone is None:
                return False
            await conn.execute(self._sql.free, key.id)
            data = q.instance_data(key, q.seat_of(gone))
            await self._queue_event(conn, gone[5], key, INSTANCE_DEACTIVATED, data, now)
            if self._audit:
                await postgres_append(conn, q.deactivated(key, instance_id, now, origin))
            return True
