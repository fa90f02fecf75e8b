"""Raw queries behind the check-in route: no ORM, no per-request session.

It runs on the process's one hot-path connection layer (`kit/hotstore.py`, shared with
the license routes and owned by the app's lifespan); this module only holds the queries
and the parsing of their rows. One query answers a check-in: the key, its organisation,
the organisation's current subscription (the newest that has started) and its plan. The
signing key comes from the process's signer (`signing/hot.py`).

Rows are cached by key hash (`kit/rowcache.py`, emptied by the hot store's `changes`:
SQLite's `data_version`, PostgreSQL's notices of migration 1200) for at most
`LICENSOR_VALIDATE_CACHE_SECONDS`, and never past the start of the organisation's next
subscription, which would make it the current one.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from licensor.kit.hotstore import HotDb, PostgresHot, SqliteHot
from licensor.kit.rowcache import RowCache

CHECKIN = (
    "SELECT k.id, k.business_id, k.mode, k.customer_id, k.key_hash, k.revoked_at, c.name, "
    "s.id, s.starts_at, s.expires_at, s.cancelled_at, s.users_count, "
    "p.id, p.code, p.name, p.features, "
    # when a later subscription starts (and may become the current one): a cached row
    # lasts no longer than that
    "(SELECT min(s3.starts_at) FROM subscriptions s3 WHERE s3.customer_id = k.customer_id "
    "AND s3.business_id = k.business_id AND s3.mode = k.mode AND s3.starts_at > {1}) "
    "FROM instance_keys k JOIN customers c ON c.id = k.customer_id "
    "LEFT JOIN subscriptions s ON s.id = ("
    "SELECT s2.id FROM subscriptions s2 WHERE s2.customer_id = k.customer_id "
    "AND s2.business_id = k.business_id AND s2.mode = k.mode AND s2.starts_at <= {1} "
    "ORDER BY s2.starts_at DESC, s2.created_at DESC, s2.id DESC LIMIT 1) "
    "LEFT JOIN plans p ON p.id = s.plan_id "
    "WHERE k.key_hash = {0}"
)
RECORD = (
    "UPDATE instance_keys SET last_seen_at = {0}, last_version = COALESCE({1}, last_version), "
    "last_instance_id = COALESCE({2}, last_instance_id) WHERE id = {3}"
)


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: str
    code: str
    name: str
    features: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: str
    starts_at: datetime
    expires_at: datetime | None
    cancelled_at: datetime | None
    users_count: int
    plan: PlanRow


@dataclass(frozen=True, slots=True)
class CheckinRow:
    key_id: str
    business_id: str
    mode: str
    org_id: str
    key_hash: bytes
    revoked_at: datetime | None
    org_name: str
    subscription: SubscriptionRow | None


class CheckinStore(Protocol):
    async def find(self, key_hash: bytes, now: datetime) -> CheckinRow | None: ...
    async def record(
        self, key_id: str, now: datetime, version: str | None, instance_id: str | None
    ) -> None: ...


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_parsed: dict[tuple[Any, ...], CheckinRow] = {}


def _row(r: Any) -> CheckinRow:
    """Parse a result row; identical rows (the same database content) parse once."""
    raw = tuple(r)
    found = _parsed.get(raw)
    if found is None:
        if len(_parsed) >= 4096:
            _parsed.clear()
        found = _parsed[raw] = _parse(raw)
    return found


def _parse(r: tuple[Any, ...]) -> CheckinRow:
    subscription = None
    if r[7] is not None and r[12] is not None:
        features = r[15]
        if isinstance(features, str | bytes):
            features = orjson.loads(features)
        plan = PlanRow(r[12], r[13], r[14], tuple(str(f) for f in features or ()))
        starts = _time(r[8])
        assert starts is not None
        subscription = SubscriptionRow(r[7], starts, _time(r[9]), _time(r[10]), int(r[11]), plan)
    return CheckinRow(r[0], r[1], r[2], r[3], bytes(r[4]), _time(r[5]), r[6], subscription)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _cache(hot: HotDb, seconds: float) -> RowCache[bytes, CheckinRow]:
    cache: RowCache[bytes, CheckinRow] = RowCache("instance_key", seconds)
    hot.changes.watch(cache)
    return cache


def _until(r: Any, now: datetime, ttl: float) -> float:
    """Until when (monotonic) the row read at `now` may be served."""
    later = _time(r[16])
    if later is not None:
        ttl = min(ttl, (later - now).total_seconds())
    return time.monotonic() + ttl


class SqliteCheckinStore:
    def __init__(self, hot: SqliteHot, cache_seconds: float = 0) -> None:
        self._hot = hot
        self._reader = hot.reader
        self._find = hot.sql(CHECKIN)
        self._record = hot.sql(RECORD)
        self._cache = _cache(hot, cache_seconds)
        self._changes = hot.changes

    async def find(self, key_hash: bytes, now: datetime) -> CheckinRow | None:
        """From the cache while no other connection has committed since it was filled."""
        cache = self._cache
        cached = cache.enabled and self._changes.fresh()
        if cached:
            found = cache.hit(key_hash)
            if found is not None:
                return found
        token = cache.token()
        at = _sqlite_time(now)
        # qmark parameters go in textual order: the subqueries' times come first
        r = self._reader.execute(self._find, (at, at, key_hash)).fetchone()
        if r is None:
            return None
        row = _row(r)
        if cached:
            cache.put(key_hash, row, token, _until(r, now, cache.ttl))
        return row

    async def record(
        self, key_id: str, now: datetime, version: str | None, instance_id: str | None
    ) -> None:
        params = (_sqlite_time(now), version, instance_id, key_id)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(self._record, params)

        await self._hot.write(write)


class PostgresCheckinStore:
    def __init__(self, hot: PostgresHot, cache_seconds: float = 0) -> None:
        self._pool = hot.pool
        # The check-in's lookup reads the replica when one is configured; the signing key
        # (created on first use) and the record (a write) stay on the primary.
        self._reads = hot.reads
        self._find = hot.sql(CHECKIN)
        self._record = hot.sql(RECORD)
        self._cache = _cache(hot, cache_seconds)
        self._changes = hot.changes

    async def find(self, key_hash: bytes, now: datetime) -> CheckinRow | None:
        """From the cache while the listener listens (kit/rowcache.py)."""
        cache = self._cache
        cached = cache.enabled and self._changes.fresh()
        if cached:
            found = cache.hit(key_hash)
            if found is not None:
                return found
        token = cache.token()
        pool = self._pool if cached and cache.settling(key_hash) else self._reads
        r = await pool.fetchrow(self._find, key_hash, now)
        if r is None:
            return None
        row = _row(r)
        if cached:
            cache.put(key_hash, row, token, _until(r, now, cache.ttl))
        return row

    async def record(
        self, key_id: str, now: datetime, version: str | None, instance_id: str | None
    ) -> None:
        await self._pool.execute(self._record, now, version, instance_id, key_id)


def checkin_store(hot: HotDb, cache_seconds: float = 0) -> CheckinStore:
    if isinstance(hot, SqliteHot):
        return SqliteCheckinStore(hot, cache_seconds)
    return PostgresCheckinStore(hot, cache_seconds)
