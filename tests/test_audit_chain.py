"""The audit log cannot be rewritten unnoticed: the triggers refuse UPDATE and DELETE, and
with them dropped, `licensor audit verify` names the first edited, deleted or reordered
event. Both backends; the rows are changed with SQL, straight in the database."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import chain
from licensor.kit.context import AppContext
from licensor.models import AuditEvent
from tests.cli_helpers import cli
from tests.helpers import in_db, setup_key
from tests.servers import Server, Tenant

MIGRATION = next(
    (Path(__file__).resolve().parents[1] / "licensor/migrations/versions").glob("*_audit_sealer.py")
)  # the triggers as they are now: revision 1300's


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_migration", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sql(server: Server, statement: str, **params: Any) -> list[Any]:
    async def work(ctx: AppContext, session: AsyncSession) -> list[Any]:
        result = await session.execute(text(statement), params)
        return list(result.all()) if statement.startswith("SELECT") else []

    return in_db(server, work)


def stored(server: Server, event_id: str) -> dict[str, Any]:
    """An event's fields as the ORM reads them (times as datetimes, changes as a dict)."""

    async def work(ctx: AppContext, session: AsyncSession) -> dict[str, Any]:
        row = await session.get(AuditEvent, event_id)
        assert row is not None
        return {c.key: getattr(row, c.key) for c in AuditEvent.__table__.columns}

    return in_db(server, work)


def chain_of(server: Server, business_id: str) -> list[Any]:
    return sql(
        server,
        "SELECT id, seq FROM audit_events WHERE business_id = :b AND mode = 'test' ORDER BY seq",
        b=business_id,
    )


def busy_tenant(server: Server) -> tuple[Tenant, list[Any]]:
    """A tenant with a few events on its test chain."""
    tenant = server.tenant()
    _, _, key = setup_key(tenant)
    with tenant.http() as http:
        for limit in (5, 6):
            resp = http.patch(f"/license_keys/{key['id']}", json={"activations_limit": limit})
            assert resp.status_code == 200, resp.text
    assert verify(server, tenant.business_id)[0] == 0  # which seals them
    rows = chain_of(server, tenant.business_id)
    assert len(rows) >= 5
    return tenant, rows


def verify(server: Server, business_id: str, *flags: str) -> tuple[int, str]:
    done = cli(server, "audit", "verify", "--business-id", business_id, *flags)
    return done.returncode, done.stderr


@pytest.fixture
def no_triggers(server: Server) -> Iterator[None]:
    migration = _migration()
    dialect = (
        "sqlite" if server.settings.resolved_database_url.startswith("sqlite") else "postgresql"
    )
    for statement in migration.DROP_APPEND_ONLY[dialect]:
        sql(server, statement)
    try:
        yield
    finally:
        for statement in migration.APPEND_ONLY[dialect]:
            sql(server, statement)


def test_the_database_refuses_update_and_delete(server: Server) -> None:
    tenant, rows = busy_tenant(server)
    first = rows[0].id
    for statement in (
        "UPDATE audit_events SET note = 'rewritten' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(server, statement, id=first)
    assert chain_of(server, tenant.business_id) == rows
    assert verify(server, tenant.business_id)[0] == 0


@pytest.mark.usefixtures("no_triggers")
def test_verify_names_the_first_edited_deleted_or_reordered_event(server: Server) -> None:
    # edited in place
    tenant, rows = busy_tenant(server)
    assert verify(server, tenant.business_id)[0] == 0
    sql(server, "UPDATE audit_events SET actor = 'someone else' WHERE id = :id", id=rows[2].id)
    code, err = verify(server, tenant.business_id)
    assert code == 1
    assert "AUDIT_CHAIN_BROKEN" in err
    assert f"event {rows[2].id} (#3) was edited" in err

    # edited, and its hash recomputed to match: the next event's link gives it away
    tenant, rows = busy_tenant(server)
    fields = stored(server, rows[1].id)
    fields["target_id"] = "lic_someone_elses"
    fields["changes"] = {}
    forged = chain.event_hash(fields)
    sql(
        server,
        "UPDATE audit_events SET target_id = :t, changes = '{}', hash = :h WHERE id = :id",
        t=fields["target_id"],
        h=forged,
        id=rows[1].id,
    )
    code, err = verify(server, tenant.business_id)
    assert code == 1
    assert f"event {rows[1].id} (#2) was edited" in err

    # deleted in the middle
    tenant, rows = busy_tenant(server)
    sql(server, "DELETE FROM audit_events WHERE id = :id", id=rows[1].id)
    code, err = verify(server, tenant.business_id)
    assert code == 1
    assert f"event #2 was deleted (the chain goes from {rows[0].id} to {rows[2].id}" in err

    # deleted at the end: the chain head still counts it
    tenant, rows = busy_tenant(server)
    sql(server, "DELETE FROM audit_events WHERE id = :id", id=rows[-1].id)
    code, err = verify(server, tenant.business_id)
    assert code == 1
    assert f"event #{len(rows)} was deleted (after {rows[-2].id})" in err

    # reordered: two events swap places
    tenant, rows = busy_tenant(server)
    for seq, new in ((2, 1_000_000), (3, 2), (1_000_000, 3)):
        sql(
            server,
            "UPDATE audit_events SET seq = :new WHERE business_id = :b AND mode = 'test' "
            "AND seq = :seq",
            new=new,
            seq=seq,
            b=tenant.business_id,
        )
    code, err = verify(server, tenant.business_id)
    assert code == 1
    assert f"event {rows[2].id} was #3 of the chain and is now #2" in err
