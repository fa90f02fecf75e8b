"""Migration 0800 on a database with keys made before it: the newest key of each business
and mode becomes `active`, the older ones `retired` (when the next key was made)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from licensor.kit import migrate
from licensor.kit.db import UTCDateTime
from tests.servers import fresh_postgres_database

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BUSINESSES = sa.table(
    "businesses",
    sa.column("id", sa.String),
    sa.column("name", sa.String),
    sa.column("brand_id", sa.String),
    sa.column("created_at", UTCDateTime()),
)
KEYS = sa.table(
    "signing_keys",
    sa.column("kid", sa.String),
    sa.column("business_id", sa.String),
    sa.column("mode", sa.String),
    sa.column("algorithm", sa.String),
    sa.column("public_key", sa.LargeBinary),
    sa.column("private_key_encrypted", sa.LargeBinary),
    sa.column("created_at", UTCDateTime()),
)
STATES = sa.table(
    "signing_keys",
    sa.column("kid", sa.String),
    sa.column("state", sa.String),
    sa.column("retired_at", UTCDateTime()),
    sa.column("revoked_at", UTCDateTime()),
)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'licensor.db'}"
        return
    if not _postgres_checked:
        pytest.skip("PostgreSQL not reachable")
    with ExitStack() as stack:
        yield stack.enter_context(fresh_postgres_database(at_head=False))


def key(kid: str, business: str, mode: str, days: int) -> dict[str, object]:
    return {
        "kid": kid,
        "business_id": business,
        "mode": mode,
        "algorithm": "Ed25519",
        "public_key": b"\x00" * 32,
        "private_key_encrypted": b"x",
        "created_at": T0 + timedelta(days=days),
    }


async def _seed_and_read(url: str) -> dict[str, tuple[str, datetime | None, datetime | None]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for bid in ("bus_a", "bus_b"):
                row = {"id": bid, "name": bid, "brand_id": bid, "created_at": T0}
                await conn.execute(sa.insert(BUSINESSES).values(**row))
            rows = [
                key("sig_a1", "bus_a", "live", 0),
                key("sig_a2", "bus_a", "live", 10),
                key("sig_a3", "bus_a", "live", 20),
                key("sig_at", "bus_a", "test", 5),
                key("sig_b1", "bus_b", "live", 1),
                key("sig_b2", "bus_b", "live", 1),  # same instant: the greater kid is newest
            ]
            await conn.execute(sa.insert(KEYS), rows)
        await asyncio.to_thread(migrate.upgrade, url)
        async with engine.connect() as conn:
            found = (await conn.execute(sa.select(STATES))).all()
        return {r.kid: (r.state, r.retired_at, r.revoked_at) for r in found}
    finally:
        await engine.dispose()


def test_existing_keys_become_active_and_retired(database_url: str) -> None:
    migrate.upgrade(database_url, "0600")
    states = asyncio.run(_seed_and_read(database_url))
    assert states == {
        "sig_a1": ("retired", T0 + timedelta(days=10), None),
        "sig_a2": ("retired", T0 + timedelta(days=20), None),
        "sig_a3": ("active", None, None),
        "sig_at": ("active", None, None),
        "sig_b1": ("retired", T0 + timedelta(days=1), None),
        "sig_b2": ("active", None, None),
    }
