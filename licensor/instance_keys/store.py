"""Raw queries behind the check-in route: no ORM, no per-request session.

It runs on the process's one hot-path connection layer (`kit/hotstore.py`, shared with
the license routes and owned by the app's lifespan); this module only holds the queries
and the parsing of their rows. One query answers a check-in: the key, its organisation,
the organisation's current subscription (the newest that has started) and its plan. The
signing key comes from the process's signer (`signing/hot.py`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from licensor.kit.hotstore import HotDb, PostgresHot, SqliteHot

CHECKIN = (
    "SELECT k.id, k.business_id, k.mode, k.customer_id, k.key_hash, k.revoked_at, c.name, "
    "s.id, s.starts_at, s.expires_at, s.cancelled_at, s.users_count, "
    "p.id, p.code, p.name, p.features "
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


_MISSING = object()


class SqliteCheckinStore:
    def __init__(self, hot: SqliteHot) -> None:
        self._hot = hot
        self._reader = hot.reader
        self._find = hot.sql(CHECKIN)
        self._record = hot.sql(RECORD)
        self._version: int | None = None
        self._cache: dict[tuple[bytes, str], CheckinRow | None] = {}

    async def find(self, key_hash: bytes, now: datetime) -> CheckinRow | None:
        """One query per key and second while no other connection commits anything.

        `PRAGMA data_version` changes whenever another connection (any process) commits,
        so a revocation or a plan change empties this cache before the next check-in.
        """
        version = self._reader.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._version = version
            self._cache.clear()
        at = _sqlite_time(now)
        found = self._cache.get((key_hash, at), _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        # qmark parameters go in textual order: the subquery's time comes first
        r = self._reader.execute(self._find, (at, key_hash)).fetchone()
        row = None if r is None else _row(r)
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[(key_hash, at)] = row
        return row

    async def record(
        self, key_id: str, now: datetime, version: str | None, instance_id: str | None
    ) -> None:
        params = (_sqlite_time(now), version, instance_id, key_id)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(self._record, params)

        await self._hot.write(write)


class PostgresCheckinStore:
    def __init__(self, hot: PostgresHot) -> None:
        self._pool = hot.pool
        # The check-in's lookup reads the replica when one is configured; the signing key
        # (created on first use) and the record (a write) stay on the primary.
        self._reads = hot.reads
        self._find = hot.sql(CHECKIN)
        self._record = hot.sql(RECORD)

    async def find(self, key_hash: bytes, now: datetime) -> CheckinRow | None:
        r = await self._reads.fetchrow(self._find, key_hash, now)
        return None if r is None else _row(r)

    async def record(
        self, key_id: str, now: datetime, version: str | None, instance_id: str | None
    ) -> None:
        await self._pool.execute(self._record, now, version, instance_id, key_id)


def checkin_store(hot: HotDb) -> CheckinStore:
    if isinstance(hot, SqliteHot):
        return SqliteCheckinStore(hot)
    return PostgresCheckinStore(hot)
