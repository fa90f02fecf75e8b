"""A large import refreshes PostgreSQL's planner statistics while it runs, not only at
its end: until then the planner takes the growing tables for the empty ones it last saw,
and each batch's lookup of its customers by email walks every customer of the business
(`license_key/importer.py` `ANALYZE_FIRST`). Speed itself is bench/import_keys.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.license_key.importer import ANALYZE_FIRST
from tests.helpers import make_product
from tests.import_helpers import imported, in_db, new_key, write_csv
from tests.servers import Server, Tenant

STATS = "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN ({names})"


def analyses(server: Server) -> dict[str, int]:
    """How many times each imported table was analyzed by hand (autovacuum's not counted)."""

    async def read(session: AsyncSession) -> dict[str, int]:
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = await session.execute(text(STATS.format(names="'license_keys', 'customers'")))
        return {str(name): int(count) for name, count in rows}

    found: dict[str, int] = in_db(server, read)
    return found


def test_statistics_are_refreshed_during_a_large_import(
    backend: str, server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL's planner statistics (SQLite's server runs no ANALYZE)")
    product = make_product(tenant, name="Statistics")
    total = ANALYZE_FIRST + 2_000
    rows = [[new_key(n), f"s{n % 3000}@stats.test", product] for n in range(total)]
    path = write_csv(tmp_path / "stats.csv", ["key", "customer", "product"], rows)
    before = analyses(server)
    summary = imported(server, tenant, path, "--batch-size", "2000")
    assert summary["imported"] == total
    after = analyses(server)
    for table in ("license_keys", "customers"):
        # once when ANALYZE_FIRST keys were in, and once at the end
        assert after[table] - before.get(table, 0) >= 2, (table, before, after)
